"""A call as a capture path saw it, before estimates and prices: what the proxy journals.

The proxy must not tokenize, price or wait for a process lookup on its event loop, so it
hands the writer these facts and the writer's thread makes the UsageEvent. The same record
is the call's journal line, so any offgate process can make the event after a crash. Its
`id` is the event's, given when the call is captured: replaying the line twice stores it once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from offgate import recording
from offgate.catalog.base import CallParser, Reading
from offgate.catalog.registry import Match
from offgate.events import Route, UsageEvent, new_event_id

log = logging.getLogger("offgate.recording")

# The UsageEvent fields that say which process made a call; a capture path may learn them late.
PROCESS_FACTS = ("pid", "process_name", "exe", "user")


class CapturedCall(BaseModel):
    """One call's catalog match, parser reading and the capture path's own facts (host,
    path, times, bytes, process...: UsageEvent fields, checked when the event is made)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    provider: str
    app: str | None
    endpoint: str
    route: Route
    usage: Literal["reported", "estimated", "counted"]
    reading: Reading
    status_code: int | None
    facts: dict[str, Any]
    # Which client connection made the call, to look up its process: in memory only.
    client_id: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _texts_only_for_estimates(self) -> CapturedCall:
        # The prompt and reply texts are kept only when an estimate may need them; they
        # leave the journal with the call once it is stored.
        if (self.reading.prompt_texts or self.reading.completion_texts) and not recording.needs_texts(
                self.reading, self.status_code):
            self.reading = replace(self.reading, prompt_texts=[], completion_texts=[])
        return self

    @classmethod
    def of(cls, match: Match, reading: Reading, status_code: int | None, *, app: str | None = None,
           client_id: str | None = None, **facts: Any) -> CapturedCall:
        """The record of one reading of a call `match` found."""
        return cls(provider=match.provider, app=app or match.app, endpoint=match.endpoint, route=match.route,
                   usage=match.usage, reading=reading, status_code=status_code, facts=facts, client_id=client_id)

    def knows_process(self) -> bool:
        return any(self.facts.get(name) is not None for name in PROCESS_FACTS)

    def to_event(self) -> UsageEvent:
        """The UsageEvent, estimated and priced; a call offgate fails to read is kept as
        "unparsed" with the reason."""
        # What recording needs of the match; no parser runs any more.
        match = Match(provider=self.provider, app=self.app, endpoint=self.endpoint, parser=CallParser,
                      path_model=None, route=self.route, usage=self.usage)
        try:
            return recording.build_event(match, self.reading, status_code=self.status_code, id=self.id, **self.facts)
        except Exception as exc:  # keep the call even if it cannot be read
            log.exception("could not make the event of a call to %s%s", self.facts.get("host"), self.facts.get("path"))
            return recording.unreadable_event(match, exc, status_code=self.status_code, id=self.id, **self.facts)

    def without_texts(self) -> dict[str, Any]:
        """The JSON form without any prompt or reply text (for what is kept for a person)."""
        return self.model_copy(update={"reading": replace(self.reading, prompt_texts=[], completion_texts=[])}
                               ).model_dump(mode="json")
