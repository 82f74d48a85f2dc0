"""When two records are one call seen by two capture paths, and which of them the store keeps.

The proxy and the browser extension can both see a call to an AI web app, and read the same
response id from it. Two records are the same call when they come from different sources,
with the same host and response id, from the same device and user, within DUPLICATE_WINDOW.
Only other sources count: some apps number answers per conversation (DeepSeek uses small
integers), so one path's equal ids can be different calls, and on another device or for
another user they are always different calls.

A coding agent's own log (source "agent-log") names the provider's message id, which the
proxy read as the response id: the log's line is written as the reply streams, up to
AGENT_LOG_WINDOW after the request started, and such ids are unique to the provider, so
the window with an agent-log record is wider.

Of the two, a record that is not the extension's is kept: the extension's copy comes from
inside a page, where a page script can replay a real response id, so an extension record
never displaces another, and the proxy's record replaces the extension's when it comes
second. Between two other sources (proxy, import, agent-log) the first one stored stays.
The record kept notes the other source among its `witnesses` (`RecordedCalls.witnessed`),
and, when the other priced the call as a plan's (an agent's log knows the agent is signed in
with a plan; the proxy cannot tell), takes that basis too (`RecordedCalls.on_a_plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from offgate.events import UsageEvent
from offgate.pricing_basis import pricing_basis

# The two paths' start times differ by milliseconds; apps that number answers per
# conversation make a wide window risky.
DUPLICATE_WINDOW = timedelta(minutes=2)
AGENT_LOG_WINDOW = timedelta(minutes=30)
EXTENSION = "extension"
AGENT_LOG = "agent-log"

# host (lower case), response id, device
CallKey = tuple[str, str, str | None]


@dataclass(frozen=True, slots=True)
class Record:
    """What the rule reads of a stored (or already admitted) record; `ts` is naive UTC."""

    id: str
    source: str
    ts: datetime
    user: str | None


def window(one_source: str, other_source: str) -> timedelta:
    """How far apart two sources' records of one call may start."""
    return AGENT_LOG_WINDOW if AGENT_LOG in (one_source, other_source) else DUPLICATE_WINDOW


def call_key(host: str, response_id: str, device: str | None) -> CallKey:
    return host.lower(), response_id, device


class RecordedCalls:
    """The records a batch is checked against: those stored near it (`note_stored`), then
    those it admits. `is_stored` says whether an event id is stored already."""

    def __init__(self, is_stored: Callable[[str], bool]) -> None:
        self._is_stored = is_stored
        self._by_call: dict[CallKey, dict[str, list[Record]]] = {}
        self._ids: set[str] = set()
        # record id -> the other sources that saw its call
        self.witnessed: dict[str, set[str]] = {}
        # records whose call another source priced as a plan's (an agent's log knows; the proxy cannot tell)
        self.on_a_plan: set[str] = set()

    def note_stored(self, key: CallKey, record: Record) -> None:
        self._by_call.setdefault(key, {}).setdefault(record.source, []).append(record)
        self._ids.add(record.id)

    def admit(self, event: UsageEvent, ts: datetime) -> tuple[bool, Record | None]:
        """Whether to store `event` (which has a response id; `ts` is its naive UTC time),
        and the record it displaces, if any."""
        if event.id in self._ids:
            return False, None
        assert event.response_id is not None
        by_source = self._by_call.setdefault(call_key(event.host, event.response_id, event.device), {})
        same_call = [record for source, records in by_source.items() if source != event.source
                     for record in records
                     if abs(record.ts - ts) <= window(source, event.source) and _same_user(record.user, event.user)]
        kept = next((record for record in same_call if record.source != EXTENSION), None)
        if kept is not None:
            self.witnessed.setdefault(kept.id, set()).add(event.source)
            if pricing_basis(event.cost_usd is not None, event.cost_note) == "plan_equivalent":
                self.on_a_plan.add(kept.id)
            return False, None
        # Left: the extension's records of this call, and `event` comes from another source.
        displaced = min(same_call, key=lambda record: abs(record.ts - ts), default=None)
        if displaced is not None:
            if self._is_stored(event.id):
                return False, None  # written again (a spool replayed): it displaces nothing
            by_source[EXTENSION].remove(displaced)
            self._ids.discard(displaced.id)
            self.witnessed.setdefault(event.id, set()).add(EXTENSION)
        by_source.setdefault(event.source, []).append(Record(event.id, event.source, ts, event.user))
        self._ids.add(event.id)
        return True, displaced


def _same_user(one: str | None, other: str | None) -> bool:
    # The proxy names no user when it cannot tell which process made a call: then the device decides.
    return one is None or other is None or one == other
