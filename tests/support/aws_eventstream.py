"""AWS's binary event stream written out, as Bedrock frames its streams: for the
`.response.bin` fixtures and for tests that need messages the fixtures do not hold."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any


def aws_event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (header type 7)."""
    raw_headers = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + len(value.encode()).to_bytes(2, "big") + value.encode()
        for name, value in headers.items())
    return aws_event_frame(raw_headers, payload)


def aws_event_frame(raw_headers: bytes, payload: bytes) -> bytes:
    """Headers already encoded and a payload, framed: lengths and prelude CRC32, then the
    message CRC32."""
    prelude = struct.pack(">II", 16 + len(raw_headers) + len(payload), len(raw_headers))
    message = prelude + zlib.crc32(prelude).to_bytes(4, "big") + raw_headers + payload
    return message + zlib.crc32(message).to_bytes(4, "big")


def bedrock_event(event_type: str, payload: dict[str, Any]) -> bytes:
    """A Bedrock stream event: its type in `:event-type`, its JSON as the payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return aws_event_message(headers, json.dumps(payload, separators=(",", ":")).encode())
