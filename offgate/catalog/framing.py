"""Incremental readers for the ways LLM APIs frame a streamed response body.

Each reader takes decoded bytes as they arrive and yields complete units; none of them
holds more than one unfinished unit, so memory stays flat however long the stream runs.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass


class FrameTooLarge(ValueError):
    """One unit (an SSE event, a JSON element) is larger than the reader accepts."""


class CorruptFrame(ValueError):
    """A binary frame fails its own length or checksum checks."""


class StreamException(ValueError):
    """The stream itself reports an error and ends (an AWS exception or error message)."""


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


class _Lines:
    """Complete lines out of chunks. The pieces of an unfinished line are kept apart and
    joined once, when its end arrives: a long line split into many small chunks costs its
    length, not its length times its chunks. A chunk is split before the pieces are joined
    to its first line, so the bytes of both are copied once, not twice."""

    def __init__(self, max_line_bytes: int, what: str) -> None:
        self._max = max_line_bytes
        self._what = what  # "an SSE line": what FrameTooLarge names
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" in chunk:
            lines = chunk.split(b"\n")
            rest = lines.pop()
            if self._size:
                lines[0] = b"".join([*self._parts, lines[0]])
            self._parts, self._size = [rest], len(rest)
        else:
            lines = []
            self._parts.append(chunk)
            self._size += len(chunk)
        if self._size > self._max:
            self._parts, self._size = [], 0
            raise FrameTooLarge(f"{self._what} exceeds {self._max} bytes")
        return lines

    def close(self) -> bytes:
        """The unfinished line (b"" if none), and no more."""
        rest = b"".join(self._parts)
        self._parts, self._size = [], 0
        return rest


class SSEReader:
    """Server-sent events (WHATWG HTML, "Parsing an event stream")."""

    def __init__(self, max_event_bytes: int) -> None:
        self._max = max_event_bytes
        self._lines = _Lines(max_event_bytes, "an SSE line")
        self._event = ""
        self._data: list[str] = []
        self._size = 0

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        for raw in self._lines.feed(chunk):
            event = self._line(raw.rstrip(b"\r").decode("utf-8", "replace"))
            if event is not None:
                yield event

    def close(self) -> Iterator[SSEEvent]:
        """Dispatch what is left when the body ends without a final blank line."""
        rest = self._lines.close()
        if rest:
            event = self._line(rest.rstrip(b"\r").decode("utf-8", "replace"))
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
        self._lines = _Lines(max_line_bytes, "a line")

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        yield from (line for line in self._lines.feed(chunk) if line.strip())

    def close(self) -> Iterator[bytes]:
        rest = self._lines.close()
        if rest.strip():
            yield rest


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


class AWSEventStreamReader:
    """AWS's binary event stream (application/vnd.amazon.eventstream), as Bedrock sends it.

    Each message is `total length u32 | headers length u32 | prelude CRC32 | headers |
    payload | message CRC32`, big-endian, CRC32 as in zlib. Headers are
    `name length u8 | name | type u8 | value`. A message whose `:message-type` is "event"
    is yielded as an SSEEvent named by its `:event-type`, its payload as the data; an
    "exception" or "error" message raises StreamException with AWS's own words, and a
    message that fails a CRC check raises CorruptFrame (nothing after it can be trusted).
    """

    _PRELUDE = struct.Struct(">III")
    _OVERHEAD = _PRELUDE.size + 4  # prelude plus the message CRC
    # Header value type -> its size in bytes; types 6 (bytes) and 7 (string) carry a u16 length.
    _FIXED_SIZES = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}

    def __init__(self, max_message_bytes: int) -> None:
        self._max = max_message_bytes
        self._pending = bytearray()
        self._offset = 0  # where the pending bytes start in the whole stream

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        self._pending += chunk
        while len(self._pending) >= self._PRELUDE.size:
            total, headers_size, prelude_crc = self._PRELUDE.unpack_from(self._pending)
            if zlib.crc32(self._pending[:8]) != prelude_crc:
                raise CorruptFrame(f"the event-stream message at byte {self._offset} fails its prelude CRC32")
            if total > self._max:
                raise FrameTooLarge(f"an event-stream message of {total} bytes exceeds {self._max} bytes")
            if total < self._OVERHEAD + headers_size:
                raise CorruptFrame(f"the event-stream message at byte {self._offset} has impossible lengths")
            if len(self._pending) < total:
                return
            message = bytes(self._pending[:total])
            del self._pending[:total]
            start, self._offset = self._offset, self._offset + total
            if zlib.crc32(message[:-4]) != int.from_bytes(message[-4:], "big"):
                raise CorruptFrame(f"the event-stream message at byte {start} fails its message CRC32")
            headers_end = self._PRELUDE.size + headers_size
            headers = self._headers(message[self._PRELUDE.size:headers_end], start)
            yield self._event(headers, message[headers_end:-4])

    def close(self) -> Iterator[SSEEvent]:
        if self._pending:
            raise CorruptFrame(f"the body ends inside an event-stream message ({len(self._pending)} bytes)")
        return iter(())

    def _headers(self, raw: bytes, start: int) -> dict[str, str]:
        """The string-valued headers (the only kind Bedrock sends); others are skipped."""
        headers: dict[str, str] = {}
        truncated = f"the event-stream message at byte {start} has truncated headers"
        at = 0
        try:
            while at < len(raw):
                name_end = at + 1 + raw[at]
                name = raw[at + 1:name_end].decode("utf-8", "replace")
                kind = raw[name_end]
                at = name_end + 1
                if kind in (6, 7):
                    size = int.from_bytes(raw[at:at + 2], "big")
                    value, at = raw[at + 2:at + 2 + size], at + 2 + size
                    if kind == 7:
                        headers[name] = value.decode("utf-8", "replace")
                elif kind in self._FIXED_SIZES:
                    at += self._FIXED_SIZES[kind]
                else:
                    raise CorruptFrame(f"the event-stream message at byte {start} has a header of unknown type {kind}")
                if at > len(raw):
                    raise CorruptFrame(truncated)
        except IndexError:  # a name or type byte past the end
            raise CorruptFrame(truncated) from None
        return headers

    @staticmethod
    def _event(headers: dict[str, str], payload: bytes) -> SSEEvent:
        data = payload.decode("utf-8", "replace")
        kind = headers.get(":message-type", "event")
        if kind == "exception":
            raise StreamException(f"{headers.get(':exception-type', 'exception')}: {data}")
        if kind == "error":
            raise StreamException(f"{headers.get(':error-code', 'error')}: {headers.get(':error-message', data)}")
        return SSEEvent(headers.get(":event-type", "message"), data)


class ConnectEnvelopeReader:
    """Connect-RPC's enveloped stream (application/connect+proto, +json): each message is
    `flags u8 | length u32 (big-endian) | message`. Only the envelopes' flags are read: the
    messages are skipped, never kept, so memory stays flat. Flag 0x02 marks the
    end-of-stream message, the stream's last."""

    END_STREAM = 0x02
    _HEADER = struct.Struct(">BI")

    def __init__(self) -> None:
        self._pending = b""  # the start of an envelope header split across chunks
        self._flags = 0  # of the envelope whose message is still passing
        self._left = 0  # bytes of that message still to come

    def feed(self, chunk: bytes) -> bool:
        """Whether this chunk completed an end-of-stream envelope."""
        ended = False
        skipped = min(self._left, len(chunk))
        self._left -= skipped
        if skipped and not self._left:
            ended = bool(self._flags & self.END_STREAM)
        data, at = self._pending + chunk[skipped:], 0
        while at + self._HEADER.size <= len(data):
            flags, length = self._HEADER.unpack_from(data, at)
            at += self._HEADER.size + length
            if at > len(data):
                self._flags, self._left, self._pending = flags, at - len(data), b""
                return ended
            ended = ended or bool(flags & self.END_STREAM)
        self._pending = data[at:]
        return ended
