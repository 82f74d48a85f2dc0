"""The messages the extension sends, validated before anything reads them.

Every message is a JSON object with a `type` and an `id` the reply repeats:

- `hello`: the extension connected; the reply gives the host's version and limits.
- `call`: one HTTP call an AI web app made (fetch, XMLHttpRequest or EventSource), sent
  once, after its response ended: the page keeps a copy of the body while it streams, so
  the host reads a whole call at once and keeps no state between messages.
- `websocket`: the messages of one WebSocket session since the last batch; a session is
  long-lived, so it comes in batches keyed by `session`.
- `today`: how many web-app calls are recorded since `since` and their estimated cost.
- `coaching`: the policy's coach and block rules for the AI web apps (the extension asks at
  start and refreshes).
- `coached`: a coaching notice was shown on an app's page, or its alternative's link clicked;
  `id` becomes the row's, so one sent again is kept once.

No message carries cookies or request headers: the one response header taken is the
content type (the parsers choose their framing by it), and unknown fields are refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import ErrorDetails

# The whole message; the page stops copying a body before it would pass this.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
MAX_URL_CHARS = 8192
MAX_WEBSOCKET_MESSAGES = 1000

MAX_ID_CHARS = 64
MessageId = Annotated[str, Field(pattern=rf"^[A-Za-z0-9_-]{{1,{MAX_ID_CHARS}}}$")]
Url = Annotated[str, Field(max_length=MAX_URL_CHARS, pattern=r"^(https?|wss?)://")]
# The page that made the call, as the browser names it to the extension's worker.
Origin = Annotated[str, Field(max_length=2048, pattern=r"^https?://[^/]+$")]
Milliseconds = Annotated[float, Field(ge=0, le=7 * 24 * 3600 * 1000)]
# The times a browser's clock can give. Past them a time may have no UTC equivalent (year 1
# at +14:00), which no record can be given.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def _on_a_clock(moment: datetime) -> datetime:
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise ValueError(f"must be between {EARLIEST_TIME.year} and {LATEST_TIME.year}")
    return moment


Time = Annotated[AwareDatetime, AfterValidator(_on_a_clock)]


class NotInCatalog(ValueError):
    """A message names a URL the catalog does not read (the extension and host disagree)."""


class Unavailable(Exception):
    """The host cannot record a message now (its settings cannot be read, or its events could
    not be kept durably): nothing of it was acknowledged, and the extension sends it again."""


# Each model builds its validator on first use: a host answering only `hello` so far has
# not paid for the others (the browser waits for the first reply).
STRICT = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Message(BaseModel):
    model_config = STRICT

    id: MessageId


class Hello(_Message):
    type: Literal["hello"]
    extension_version: str = Field(max_length=32)


class ResponseHeaders(BaseModel):
    model_config = STRICT

    content_type: str | None = Field(default=None, alias="content-type", max_length=256)


class CallMessage(_Message):
    """One HTTP call; `id` also becomes the event's id, so a call sent twice (after the
    host went away before acknowledging it) is stored once."""

    type: Literal["call"]
    transport: Literal["fetch", "xhr", "eventsource"]
    url: Url
    method: str = Field(pattern=r"^[A-Z]{1,16}$")
    request_body: str = ""
    status: int = Field(ge=0, le=999, description="0: no response (a network error or abort)")
    response_headers: ResponseHeaders = Field(default_factory=ResponseHeaders)
    response_body: str = ""
    complete: bool = Field(description="the body was read to its end (not aborted, cut off or truncated)")
    started_at: Time
    ttft_ms: Milliseconds | None = None
    duration_ms: Milliseconds | None = None
    page_origin: Origin


class WebSocketMessage(BaseModel):
    model_config = STRICT

    from_client: bool
    text: str
    at: Time


class WebSocketBatch(_Message):
    """Some messages of a session; `id` names the batch, so one sent again is read once."""

    type: Literal["websocket"]
    session: MessageId
    url: Url
    messages: list[WebSocketMessage] = Field(max_length=MAX_WEBSOCKET_MESSAGES)
    closed: bool = False
    clean: bool = Field(default=True, description="when closed: the session ended normally")
    page_origin: Origin


class Today(_Message):
    type: Literal["today"]
    since: Time


class Coaching(_Message):
    type: Literal["coaching"]


class Coached(_Message):
    type: Literal["coached"]
    app: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    rule: str = Field(min_length=1, max_length=200)
    event: Literal["shown", "clicked"]
    at: Time
    page_origin: Origin


Message = Hello | CallMessage | WebSocketBatch | Today | Coaching | Coached
MODELS: dict[str, type[Message]] = {"hello": Hello, "call": CallMessage, "websocket": WebSocketBatch, "today": Today,
                                    "coaching": Coaching, "coached": Coached}


def describe_errors(errors: list[ErrorDetails]) -> str:
    """pydantic's first few errors as one line: `field.path: what is wrong`."""
    parts = []
    for error in errors[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "message"
        parts.append(f"{where}: {error['msg']}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more
