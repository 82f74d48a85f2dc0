"""What every catalog parser shares: the reading it produces and the byte-level driving.

A parser reads one call: the request body, then the response as chunks (a whole body is
one chunk). It knows nothing of mitmproxy or the browser, so the interceptor and the
native host share it. Subclasses only map provider JSON to a `Reading` through three
hooks: `on_request`, `on_json` (a whole JSON body, or one element of a JSON stream) and
`on_event` (one server-sent event). A WebSocket API's parser reads a session instead:
each message through `on_ws_message`, handing out a reading per response it completes
(sessions.py). No public method raises: whatever goes wrong becomes `Reading.status`
"partial" or "unparsed" with a reason in `Reading.error`.

The hooks see decoded JSON as `object` and read it through the typed accessors below
(`obj`, `array`, `string`, `objects`, `as_obj`, `as_list`, `as_str`, `as_int`), so
pyright checks that every value's type is tested before it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from offgate.catalog.decoding import DecodeError, Decoder, make_decoder
from offgate.catalog.framing import (
    AWSEventStreamReader,
    CorruptFrame,
    FrameTooLarge,
    JSONArrayReader,
    LineReader,
    SSEEvent,
    SSEReader,
    StreamException,
)

# Bodies parsed whole (requests, non-streamed JSON) are kept only up to this size;
# past it the call is counted but not parsed, so a huge body cannot exhaust memory.
MAX_BUFFERED_BYTES = 16 * 1024 * 1024
# One streamed unit (an SSE event, a JSON line or array element) may be at most this big.
MAX_FRAME_BYTES = 4 * 1024 * 1024
# The most text a parser holds for one unit of an app's own framing (poe, Microsoft Copilot).
MAX_TEXT_CHARS = 4 * 1024 * 1024
# Text kept in memory for token estimates, per side of a call. Past it only the characters
# are counted, and the estimate grows in proportion (recording.settle_usage): a long stream
# without usage holds 64 Ki characters, not megabytes, until its event is written.
KEPT_TEXT_CHARS = 64 * 1024
# A provider's error code or type ("rate_limit_exceeded", "throttlingException"): kept in a
# failure's reason, where free text from a body never is.
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", re.ASCII)

Status = Literal["ok", "partial", "unparsed"]


@dataclass(slots=True)
class Usage:
    """Token counts in LiteLLM's convention (prompt includes cache reads and writes;
    completion includes reasoning). Audio tokens are the part of the prompt or completion
    that was audio, None when the response does not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    audio_prompt_tokens: int | None = None
    audio_completion_tokens: int | None = None


def _no_texts() -> list[str]:
    return []  # a typed `list`: `list[str]()` would cost a microsecond per reading


@dataclass(slots=True)
class Reading:
    """What a parser learned about one call. The text lists live in memory only, for
    token estimates when the response reports no usage; they are never stored."""

    model: str | None = None
    response_model: str | None = None  # as the response names it (Azure: the real model)
    streamed: bool = False
    usage: Usage | None = None
    response_id: str | None = None
    reported_cost_usd: float | None = None  # a cost the provider reports itself (OpenRouter)
    prompt_texts: list[str] = field(default_factory=_no_texts)
    prompt_messages: int = 0
    completion_texts: list[str] = field(default_factory=_no_texts)
    # Characters past KEPT_TEXT_CHARS, counted and not kept, on each side.
    prompt_chars_not_kept: int = 0
    completion_chars_not_kept: int = 0
    status: Status = "ok"
    error: str | None = None
    # Tokens the service says the whole conversation holds after this call (history,
    # prompt and reply; DeepSeek's web app): the prompt is what the reply leaves of them.
    context_tokens: int | None = None
    # False when a URL shared with other traffic carried something else this time (another
    # GraphQL operation, a page load): capture paths record nothing for it.
    is_llm_call: bool = True


# No call comes near this many tokens (the largest context windows hold about 10**7). A
# larger count is junk, and even summed over every entry a body can hold, counts up to it
# fit the store's 64-bit columns.
MAX_TOKEN_COUNT = 10**12


class JSONShapeError(ValueError):
    """A JSON value is of another type than the API documents for it (its text is never kept)."""


# JSON's names of the types json.loads produces, for an error that quotes nothing of a value.
_JSON_TYPES: dict[type, str] = {
    type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object",
}


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


# The accessors every parser reads JSON through. `obj`, `array` and `string` take a value
# the API documents as an object, an array or a string, and raise JSONShapeError for any
# other type: the unit (a body, an event, a line) is then reported as not read. A value the
# API may leave out is passed as `value or {}` (or `[]`, `""`). The `as_*` ones take a value
# whose type varies and return None for a type they do not read.


def obj(value: object) -> dict[str, object]:
    """`value`, which must be a JSON object."""
    if isinstance(value, dict):
        return cast("dict[str, object]", value)
    raise JSONShapeError(f"expected a JSON object, got {_json_type(value)}")


def array(value: object) -> list[object]:
    """`value`, which must be a JSON array."""
    if isinstance(value, list):
        return cast("list[object]", value)
    raise JSONShapeError(f"expected a JSON array, got {_json_type(value)}")


def string(value: object) -> str:
    """`value`, which must be a JSON string."""
    if isinstance(value, str):
        return value
    raise JSONShapeError(f"expected a JSON string, got {_json_type(value)}")


def as_obj(value: object) -> dict[str, object] | None:
    """`value` if it is a JSON object, else None."""
    return cast("dict[str, object]", value) if isinstance(value, dict) else None


def as_list(value: object) -> list[object] | None:
    """`value` if it is a JSON array, else None."""
    return cast("list[object]", value) if isinstance(value, list) else None


def objects(value: object) -> list[dict[str, object]]:
    """The objects in `value` if it is a JSON array; other elements (and other values) are skipped."""
    return [item for item in map(as_obj, as_list(value) or ()) if item is not None]


def as_str(value: object) -> str | None:
    """`value` if it is a string (empty or not), else None."""
    return value if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    """A token count from JSON: ints (and integral floats) only, never negative nor past
    MAX_TOKEN_COUNT."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_TOKEN_COUNT else None


def text_of(content: object) -> Iterator[str]:
    """Strings found in a message content: a string, or a list of parts with `text`."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in cast("list[object]", content):
            if isinstance(part, str):
                yield part
            elif isinstance(part, dict):
                text = cast("dict[str, object]", part).get("text")
                if isinstance(text, str):
                    yield text


def _keep_texts(kept: list[str], texts: Iterable[str], room: int) -> tuple[int, int]:
    """Append `texts` to `kept` while `room` characters are left (the text that crosses the
    line is cut there); returns the room left and how many characters were only counted."""
    counted = 0
    for text in texts:
        if len(text) <= room:
            kept.append(text)
            room -= len(text)
        else:
            if room:
                kept.append(text[:room])
            counted += len(text) - room
            room = 0
    return room, counted


class CallParser:
    """Reads one call. Subclasses set `endpoint` and implement the hooks they need."""

    endpoint: str = ""

    def __init__(self, path_model: str | None = None, query: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None):
        self.reading = Reading(model=path_model)
        self.path_model = path_model
        self.query: Mapping[str, str] = query or {}
        # The request's headers (case-insensitive, or with lower-case names), where the
        # capture path has them: the native host does not (pages hand over no headers).
        self.headers: Mapping[str, str] = headers or {}
        self.status_code: int | None = None
        # Set by a subclass on its API's terminal event (the base class sets it on `[DONE]`).
        # A stream that had it is whole, however its connection then ended: clients hang up
        # as soon as they have it (Codex CLI), while servers may hold the connection open.
        self.finished_stream = False
        self._decoder: Decoder | None = None
        self._framer: SSEReader | LineReader | JSONArrayReader | AWSEventStreamReader | None = None
        self._buffer: bytearray | None = None
        self._broken = False  # the response can no longer be parsed
        self._failures: list[str] = []
        self.reset_text_room()

    # -- hooks for subclasses -------------------------------------------------------

    def on_request(self, body: dict[str, object]) -> None:
        """Read model, stream flag and prompt text from the request JSON."""

    def on_json(self, body: object) -> None:
        """Read a whole JSON response, or one element of a JSON-array or NDJSON stream."""

    def on_event(self, event: str, data: str) -> None:
        """Read one server-sent event (`data` is the raw data field)."""

    def on_request_body(self, body: bytes) -> None:
        """Read the decoded request body: JSON, handed to `on_request`, unless the app
        posts a form or multipart body."""
        parsed = as_obj(json.loads(body))
        if parsed is None:
            raise ValueError("request body is not a JSON object")
        self.on_request(parsed)

    def on_line(self, line: bytes) -> None:
        """Read one line of a line-framed body: JSON, unless the app prefixes its lines."""
        self.on_json(json.loads(line))

    def on_finish(self) -> None:
        """The body ended or was cut off: add what was held back (apps that send the
        whole text so far in each event are read from their last one)."""

    # -- helpers for subclasses -----------------------------------------------------

    def read_chat_messages(self, messages: object,
                           content: Callable[[dict[str, object]], object] | None = None) -> None:
        """Count the chat messages of a request and keep their text for estimates;
        `content` picks a message's content (default: its "content")."""
        dicts = objects(messages)
        self.reading.prompt_messages = len(dicts)
        for message in dicts:
            self.add_prompt_text(text_of(content(message) if content else message.get("content")))

    def add_prompt_text(self, texts: Iterable[str]) -> None:
        self._prompt_room, counted = _keep_texts(self.reading.prompt_texts, texts, self._prompt_room)
        self.reading.prompt_chars_not_kept += counted

    def add_completion_text(self, texts: Iterable[str]) -> None:
        self._completion_room, counted = _keep_texts(self.reading.completion_texts, texts, self._completion_room)
        self.reading.completion_chars_not_kept += counted

    def reset_text_room(self) -> None:
        """A new reading starts (a session's next response): it may keep KEPT_TEXT_CHARS again."""
        self._prompt_room = self._completion_room = KEPT_TEXT_CHARS

    def set_model(self, model: object) -> None:
        """Take a model name the response reports, unless the path already named one."""
        if isinstance(model, str) and model:
            self.reading.response_model = model
            if not self.path_model:
                self.reading.model = model

    # -- driving (called by the capture path) ---------------------------------------

    def read_request(self, body: bytes, content_encoding: str | None = None) -> None:
        try:
            if len(body) > MAX_BUFFERED_BYTES:
                raise ValueError(f"request body of {len(body)} bytes is too large to parse")
            decoded = make_decoder(content_encoding)(body)
            if not decoded.strip():
                return
            self.on_request_body(decoded)
        except Exception as exc:  # a parser never raises past here
            self._fail_on("request", exc)

    def start_response(self, status_code: int, headers: Mapping[str, str]) -> None:
        """Choose how to read the body from its headers (case-insensitive mapping)."""
        self.status_code = status_code
        try:
            self._decoder = make_decoder(headers.get("content-encoding"))
            content_type = (headers.get("content-type") or "").lower()
            if self.reads_lines:
                self.reading.streamed = True
                self._framer = LineReader(MAX_FRAME_BYTES)
            elif "event-stream" in content_type:
                self.reading.streamed = True
                self._framer = SSEReader(MAX_FRAME_BYTES)
            elif "vnd.amazon.eventstream" in content_type:  # Bedrock; its events read like SSE
                self.reading.streamed = True
                self._framer = AWSEventStreamReader(MAX_FRAME_BYTES)
            elif "ndjson" in content_type or "jsonl" in content_type:
                self.reading.streamed = True
                self._framer = LineReader(MAX_FRAME_BYTES)
            elif self.reading.streamed and "json" in content_type:
                self._framer = JSONArrayReader(MAX_FRAME_BYTES)
            else:
                self._buffer = bytearray()
        except Exception as exc:
            self._broken = True
            self._fail_on("response", exc)

    def feed(self, chunk: bytes) -> None:
        """One piece of the response body as it came off the wire (still encoded)."""
        if self._broken or not chunk or self._decoder is None:
            return
        try:
            data = self._decoder(chunk)
            if self._buffer is not None:
                if len(self._buffer) + len(data) > MAX_BUFFERED_BYTES:
                    self._buffer = None
                    raise FrameTooLarge(f"response body exceeds {MAX_BUFFERED_BYTES} bytes")
                self._buffer += data
            elif self._framer is not None:
                self._dispatch(self._framer.feed(data))
        except Exception as exc:
            self._broken = True
            self._fail_on("response", exc)

    def finish(self, complete: bool = True) -> Reading:
        """The response ended (`complete`) or its connection dropped first; returns the
        reading. A stream whose terminal event arrived is whole either way."""
        try:
            if not self._broken:
                if self._buffer is not None and complete:
                    if self._buffer.strip():
                        self.on_json(json.loads(bytes(self._buffer)))
                elif self._framer is not None:
                    self._dispatch(self._framer.close())
        except Exception as exc:
            self._fail_on("response", exc)
        try:
            self.on_finish()
        except Exception as exc:
            self._fail_on("response", exc)
        self._buffer = None
        return self._settle(complete)

    # -- internals ------------------------------------------------------------------

    def _dispatch(self, units: Iterable[SSEEvent | bytes]) -> None:
        for unit in units:
            try:
                if isinstance(unit, SSEEvent):  # from SSEReader or AWSEventStreamReader
                    if unit.data.strip() == "[DONE]":
                        self.finished_stream = True
                    else:
                        self.on_event(unit.event, unit.data)
                elif isinstance(self._framer, LineReader):
                    self.on_line(unit)
                else:
                    self.on_json(json.loads(unit))
            except FrameTooLarge:
                raise
            except Exception as exc:  # one bad unit spoils only itself
                self._fail_on("stream", exc)

    def _fail(self, reason: str) -> None:
        """Record why the call is partial. The reason is stored: offgate's own phrase, then
        after ": " at most a provider's error code, never its text (which may quote the prompt)."""
        phrase, colon, detail = reason.partition(": ")
        self._record_failure(phrase + colon + detail if _ERROR_CODE.fullmatch(detail) else phrase)

    def _fail_on(self, where: str, exc: Exception) -> None:
        self._record_failure(f"{where}: {_reason(exc)}")

    def _record_failure(self, reason: str) -> None:
        if len(self._failures) < 5:
            self._failures.append(reason)

    def _settle(self, complete: bool) -> Reading:
        reading = self.reading
        # Messages and text read count too: web apps name no model and report no usage.
        learned = (reading.model is not None or reading.usage is not None or reading.prompt_messages > 0
                   or bool(reading.prompt_texts or reading.completion_texts))
        if self._failures:
            reading.error = "; ".join(self._failures)
        if self.status_code is not None and self.status_code >= 400:
            reading.status = "partial"
            reading.error = reading.error or f"upstream answered {self.status_code}"
        elif self._failures:
            reading.status = "partial" if learned else "unparsed"
        elif not complete and not self.finished_stream:
            reading.status = "partial"
            reading.error = "response was cut off"
        elif reading.streamed and self.expects_stream_end and not self.finished_stream:
            reading.status = "partial"
            reading.error = "stream ended before its final event"
        return reading

    # A stream of this API always ends with a terminal event; without it, it was cut off.
    expects_stream_end: bool = True
    # The body is read line by line whatever its Content-Type says (web apps that send
    # JSON lines as text/plain or text/event-stream).
    reads_lines: bool = False

    # -- WebSocket sessions (one connection, many responses) -----------------------------

    # A parser of a WebSocket API: the catalog gives it the upgrade request (GET with
    # `Upgrade: websocket`), then every message of the session through `feed_message`.
    websocket: bool = False

    def on_ws_message(self, from_client: bool, message: object) -> None:
        """Read one JSON message of a WebSocket session, sent by the client or the server."""

    def feed_message(self, from_client: bool, content: bytes | str) -> None:
        """One whole WebSocket message as it passed (text or binary). A message may hold
        several JSON values back to back (Microsoft Copilot sends them so)."""
        try:
            if len(content) > MAX_FRAME_BYTES:
                raise FrameTooLarge(f"a WebSocket message exceeds {MAX_FRAME_BYTES} bytes")
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            for message in _json_values(text):
                self.on_ws_message(from_client, message)
        except Exception as exc:  # one bad message spoils only its response
            self._fail_on("message", exc)

    def take_readings(self) -> list[Reading]:
        """The responses a session completed since the last call, one reading each."""
        return []

    def finish_session(self, complete: bool = True) -> list[Reading]:
        """The session closed (cleanly if `complete`): the readings still owed."""
        return [self.finish(complete)]


def _reason(exc: Exception) -> str:
    """What went wrong, in words that hold nothing of a body: the messages offgate writes
    itself, else the exception's type (with an AWS exception's own type)."""
    if isinstance(exc, (DecodeError, FrameTooLarge, JSONShapeError)):
        return str(exc)
    if isinstance(exc, CorruptFrame):  # where in the body it broke, not what the body said
        return f"CorruptFrame: {exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg} at {exc.pos})"
    if isinstance(exc, StreamException):
        aws_type = str(exc).partition(": ")[0]
        return f"StreamException: {aws_type}" if _ERROR_CODE.fullmatch(aws_type) else "StreamException"
    return type(exc).__name__


def loads_openai_event(data: str) -> object:
    """One event of an OpenAI-shaped stream, decoded (about twice as fast as json.loads on a
    64 KB event). orjson reads the same documents alike, but for integers past 64 bits (a
    float instead of an int: the same value to `as_int`, which refuses both, and to a cost),
    so only parsers that read numbers through `as_int` or as costs use it. What orjson
    refuses (NaN, lone surrogates, bad JSON) goes to json, so what json reads is read and a
    broken event's reason is json's words, as before."""
    import orjson  # here: the idle proxy does not hold it (its RSS, issue 17); a dict lookup after the first

    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


_JSON = json.JSONDecoder()


def _json_values(text: str) -> Iterator[object]:
    """Every JSON value in `text`, allowing whitespace and record separators between."""
    at = 0
    while True:
        while at < len(text) and text[at] in " \t\r\n\x1e":
            at += 1
        if at == len(text):
            return
        value, at = _JSON.raw_decode(text, at)
        yield value
