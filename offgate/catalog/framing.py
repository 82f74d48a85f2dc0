"""Incremental readers for the ways LLM APIs frame a streamed response body.

Each reader takes decoded bytes as they arrive and yields complete units; none of them
holds more than one unfinished unit, so memory stays flat however long the stream runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class FrameTooLarge(ValueError):
    """One unit (an SSE event, a JSON element) is larger than the reader accepts."""


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


class SSEReader:
    """Server-sent events (WHATWG HTML, "Parsing an event stream")."""

    def __init__(self, max_event_bytes: int) -> None:
        self._max = max_event_bytes
        self._pending = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        if len(self._pending) > self._max:
            self._pending = b""
            raise FrameTooLarge(f"an SSE line exceeds {self._max} bytes")
        for raw in lines:
            event = self._line(raw.rstrip(b"\r").decode("utf-8", "replace"))
            if event is not None:
                yield event

    def close(self) -> Iterator[SSEEvent]:
        """Dispatch what is left when the body ends without a final blank line."""
        if self._pending:
            event = self._line(self._pending.rstrip(b"\r").decode("utf-8", "replace"))
            self._pending = b""
            if event is not None:
                yield event
        if self._data:
            yield self._dispatch()

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch() if self._data else None
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._size += len(value)
            if self._size > self._max:
                self._data, self._size = [], 0
                raise FrameTooLarge(f"an SSE event exceeds {self._max} bytes")
            self._data.append(value)
        return None

    def _dispatch(self) -> SSEEvent:
        event = SSEEvent(self._event or "message", "\n".join(self._data))
        self._event, self._data, self._size = "", [], 0
        return event


class LineReader:
    """Newline-delimited JSON (application/x-ndjson, application/jsonl)."""

    def __init__(self, max_line_bytes: int) -> None:
        self._max = max_line_bytes
        self._pending = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        if len(self._pending) > self._max:
            self._pending = b""
            raise FrameTooLarge(f"a line exceeds {self._max} bytes")
        yield from (line for line in lines if line.strip())

    def close(self) -> Iterator[bytes]:
        if self._pending.strip():
            yield self._pending
        self._pending = b""


class JSONArrayReader:
    """The elements of one top-level JSON array streamed in pieces (`[{..},\\r\\n{..}]`).

    A body that is one JSON object instead (an error answer, or a server that did not
    stream) is yielded as the only element."""

    def __init__(self, max_element_bytes: int) -> None:
        self._max = max_element_bytes
        self._element = bytearray()
        self._depth = 0  # depth inside the top-level array's current element
        self._opened = False
        self._in_string = False
        self._escaped = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        for byte in chunk:
            if not self._opened:
                if byte in b" \t\r\n":
                    continue
                if byte not in b"[{":
                    raise ValueError("the body is neither a JSON array nor an object")
                self._opened = True
                if byte == 0x5B:  # [
                    continue
            if self._depth == 0 and not self._in_string and byte in b" \t\r\n,]":
                continue
            self._element.append(byte)
            if len(self._element) > self._max:
                self._element.clear()
                raise FrameTooLarge(f"a JSON element exceeds {self._max} bytes")
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif byte == 0x5C:  # backslash
                    self._escaped = True
                elif byte == 0x22:  # "
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in b"{[":
                self._depth += 1
            elif byte in b"}]":
                self._depth -= 1
                if self._depth == 0:
                    element = bytes(self._element)
                    self._element.clear()
                    yield element

    def close(self) -> Iterator[bytes]:
        return iter(())
