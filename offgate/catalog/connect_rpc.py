"""Connect-RPC calls that are counted, not read (Cursor, Windsurf).

These tools talk to their servers in Connect-RPC: the path is `/<package.Service>/<Method>`
and the bodies are protobuf, `application/proto` for one message or
`application/connect+proto` for a stream of enveloped messages. Their schemas are
private and change with each release, so offgate records the call, its bytes and its
RPC method, and claims no tokens and no cost. Of a stream only the envelopes' flags are
read: the end-of-stream envelope is its terminal event.

Source: connectrpc.com's protocol reference (paths, content types); the methods that
run a model are named in each tool's module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offgate.catalog.base import CallParser
from offgate.catalog.framing import ConnectEnvelopeReader


class ConnectCall(CallParser):
    endpoint = "rpc"  # the path's `endpoint` group names the method
    # Only a connection that drops early needs the end envelope: a clean end is whole, as
    # the messages themselves are not read.
    expects_stream_end = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._envelopes: ConnectEnvelopeReader | None = None

    def read_request(self, body: bytes, content_encoding: str | None = None) -> None:
        """Protobuf in a private schema: not read."""

    def start_response(self, status_code: int, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        # No decoder is set: the messages pass by unread (the capture path counts their bytes).
        self.reading.streamed = "connect+" in (headers.get("content-type") or "").lower()
        # Only a stream's envelope flags are looked at, and not through a compressed body.
        if self.reading.streamed and (headers.get("content-encoding") or "identity").lower() == "identity":
            self._envelopes = ConnectEnvelopeReader()

    def feed(self, chunk: bytes) -> None:
        if self._envelopes is None:
            return
        if self._envelopes.feed(chunk):
            self.finished_stream = True
