"""Connect-RPC calls that are counted, not read (Cursor, Windsurf).

These tools talk to their servers in Connect-RPC: the path is `/<package.Service>/<Method>`
and the bodies are protobuf, `application/proto` for one message or
`application/connect+proto` for a stream of enveloped messages. Their schemas are
private and change with each release, so offgate records the call, its bytes and its
RPC method, and claims no tokens and no cost.

Source: connectrpc.com's protocol reference (paths, content types); the methods that
run a model are named in each tool's module.
"""

from __future__ import annotations

from collections.abc import Mapping

from offgate.catalog.base import CallParser


class ConnectCall(CallParser):
    endpoint = "rpc"  # the path's `endpoint` group names the method
    expects_stream_end = False  # the body is not read, so its end is not looked for

    def read_request(self, body: bytes, content_encoding: str | None = None) -> None:
        """Protobuf in a private schema: not read."""

    def start_response(self, status_code: int, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        # No decoder is set, so the body passes by unread (the capture path counts its bytes).
        self.reading.streamed = "connect+" in (headers.get("content-type") or "").lower()
