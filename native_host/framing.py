"""Native messaging's framing: a 4-byte length in the machine's byte order, then that many
bytes of UTF-8 JSON, in both directions (Chrome and Firefox document the same format).

Reading never trusts the length: a message over the host's limit is skipped without being
held in memory, and a length no browser can send (over 64 MiB) means the stream is not
native messaging at all, so nothing after it can be read.
"""

from __future__ import annotations

import struct
import threading
from typing import BinaryIO

LENGTH = struct.Struct("=I")
# Chrome accepts at most 64 MiB from the extension to the host, and 1 MB back.
BROWSER_MAX_TO_HOST = 64 * 1024 * 1024
BROWSER_MAX_TO_EXTENSION = 1024 * 1024
_SKIP_CHUNK = 1024 * 1024


class StreamBroken(Exception):
    """The input can no longer be read as frames (cut off, or not native messaging)."""


class MessageTooLarge(Exception):
    """One frame was over the host's limit; it was skipped and the next can be read."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes is over the host's limit of {limit} bytes")
        self.size = size


def read_frame(stream: BinaryIO, limit: int) -> bytes | None:
    """The next message, or None when the input ended between messages."""
    prefix = _read_exactly(stream, LENGTH.size)
    if not prefix:
        return None
    if len(prefix) < LENGTH.size:
        raise StreamBroken(f"input ended inside a length prefix ({len(prefix)} of 4 bytes)")
    (size,) = LENGTH.unpack(prefix)
    if size > BROWSER_MAX_TO_HOST:
        raise StreamBroken(f"length prefix says {size} bytes, more than any browser sends: not native messaging")
    if size > limit:
        _skip(stream, size)
        raise MessageTooLarge(size, limit)
    body = _read_exactly(stream, size)
    if len(body) < size:
        raise StreamBroken(f"input ended inside a message ({len(body)} of {size} bytes)")
    return body


class FrameWriter:
    """Writes replies; thread-safe, one whole frame at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, body: bytes) -> None:
        if len(body) > BROWSER_MAX_TO_EXTENSION:
            raise ValueError(f"a reply of {len(body)} bytes is over the browser's limit")
        with self._lock:
            self._stream.write(LENGTH.pack(len(body)) + body)
            self._stream.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    parts, missing = [], size
    while missing:
        part = stream.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _skip(stream: BinaryIO, size: int) -> None:
    missing = size
    while missing:
        part = stream.read(min(missing, _SKIP_CHUNK))
        if not part:
            raise StreamBroken(f"input ended inside a message ({size - missing} of {size} bytes)")
        missing -= len(part)
