"""Load the recorded calls and WebSocket sessions in tests/fixtures/ (format:
tests/fixtures/README.md) and feed them through a catalog parser the way a capture path does."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.base import Reading
from offgate.catalog.registry import Catalog
from tests.support.upstream import WebSocketMessage

FIXTURES_DIR = Path(__file__).parents[1] / "fixtures"
SESSION_SUFFIX = ".websocket.txt"


@dataclass(frozen=True)
class Fixture:
    name: str  # "<provider>/<call>"
    method: str
    host: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes  # exactly the bytes on the wire (before any content-encoding)
    expected: dict[str, Any]
    messages: tuple[WebSocketMessage, ...] = ()  # a WebSocket session, in order
    port: int = 443  # a local model server's (reached through reverse mode)

    @property
    def websocket(self) -> bool:
        return bool(self.messages)

    @property
    def expected_reading(self) -> dict[str, Any]:
        """`expected` without the catalog's part (provider, endpoint, route)."""
        return {k: v for k, v in self.expected.items() if k not in ("provider", "endpoint", "route")}

    @property
    def url(self) -> str:
        authority = self.host if self.port == 443 else f"{self.host}:{self.port}"
        return f"https://{authority}{self.path}" + (f"?{self.query}" if self.query else "")


def fixture_names() -> list[str]:
    """The recorded HTTP calls."""
    return sorted(name for name, session in _all_names() if not session)


def session_fixture_names() -> list[str]:
    """The recorded WebSocket sessions."""
    return sorted(name for name, session in _all_names() if session)


def _all_names() -> Iterator[tuple[str, bool]]:
    for meta in FIXTURES_DIR.glob("*/*.meta.json"):
        stem = meta.name.removesuffix(".meta.json")
        yield f"{meta.parent.name}/{stem}", (meta.parent / f"{stem}{SESSION_SUFFIX}").exists()


def load_fixture(name: str) -> Fixture:
    meta_path = FIXTURES_DIR / f"{name}.meta.json"
    meta = json.loads(meta_path.read_text())
    stem = meta_path.name.removesuffix(".meta.json")
    session_path = meta_path.parent / f"{stem}{SESSION_SUFFIX}"
    if session_path.exists():
        return _load_session(name, meta, session_path)
    (response_path,) = meta_path.parent.glob(f"{stem}.response.*")
    (request_path,) = meta_path.parent.glob(f"{stem}.request.*")  # .json, or a form's .txt
    request, response = meta["request"], meta["response"]
    return Fixture(
        name=name,
        method=request["method"],
        host=request["host"],
        path=request["path"],
        query=request["query"],
        request_headers=request["headers"],
        request_body=request_path.read_bytes(),
        status=response["status"],
        response_headers=response["headers"],
        response_body=response_path.read_bytes(),
        expected=meta["expected"],
        port=request.get("port", 443),
    )


def _load_session(name: str, meta: dict[str, Any], path: Path) -> Fixture:
    """A session: each line is `> text|binary MESSAGE` (client) or `< text|binary MESSAGE`
    (server), MESSAGE exactly as sent."""
    messages = []
    for line in path.read_bytes().splitlines():
        direction, kind, content = line.split(b" ", 2)
        messages.append(WebSocketMessage(direction == b">", kind == b"binary", content))
    request, response = meta["request"], meta["response"]
    return Fixture(name=name, method=request["method"], host=request["host"], path=request["path"],
                   query=request["query"], request_headers=request["headers"], request_body=b"",
                   status=response["status"], response_headers=response["headers"], response_body=b"",
                   expected=meta["expected"], messages=tuple(messages))


def chunked(body: bytes, size: int | None) -> Iterator[bytes]:
    """The body in pieces of `size` bytes (None: one piece)."""
    if size is None:
        yield body
        return
    for start in range(0, len(body), size):
        yield body[start:start + size]


def read_call(fixture: Fixture, chunks: Iterable[bytes] | None = None, *,
              response_headers: dict[str, str] | None = None, request_body: bytes | None = None,
              request_encoding: str | None = None, complete: bool = True,
              catalog: Catalog = DEFAULT_CATALOG) -> Reading:
    """Parse a fixture's call as the interceptor would: look the URL up, read the request,
    then the response headers and body chunks. Arguments replace parts of the fixture."""
    match = catalog.lookup(fixture.host, fixture.port, fixture.path)
    assert match is not None, f"{fixture.name}: the catalog does not know {fixture.url}"
    parser = match.new_parser(query=dict(parse_qsl(fixture.query)), headers=fixture.request_headers)
    parser.read_request(fixture.request_body if request_body is None else request_body, request_encoding)
    parser.start_response(fixture.status, response_headers or fixture.response_headers)
    for chunk in chunks if chunks is not None else [fixture.response_body]:
        parser.feed(chunk)
    return parser.finish(complete)


def read_session(fixture: Fixture, messages: Iterable[WebSocketMessage] | None = None, *,
                 complete: bool = True, catalog: Catalog = DEFAULT_CATALOG) -> list[Reading]:
    """Parse a fixture's WebSocket session as the interceptor would: every reading it gives,
    as responses complete and when it closes. `messages` replaces the fixture's."""
    return [reading for _, reading in timed_session(fixture, messages, complete=complete, catalog=catalog)]


def timed_session(fixture: Fixture, messages: Iterable[WebSocketMessage] | None = None, *,
                  complete: bool = True, catalog: Catalog = DEFAULT_CATALOG) -> list[tuple[int, Reading]]:
    """`read_session`, each reading with the number of messages read when it came out."""
    match = catalog.lookup(fixture.host, 443, fixture.path, websocket=True)
    assert match is not None, f"{fixture.name}: the catalog does not know {fixture.url} as a WebSocket"
    parser = match.new_parser(query=dict(parse_qsl(fixture.query)), headers=fixture.request_headers)
    parser.read_request(b"")
    parser.start_response(fixture.status, fixture.response_headers)
    readings: list[tuple[int, Reading]] = []
    count = 0
    for count, message in enumerate(fixture.messages if messages is None else messages, 1):
        parser.feed_message(message.from_client, message.content)
        readings += [(count, reading) for reading in parser.take_readings()]
    return readings + [(count, reading) for reading in parser.finish_session(complete)]


def reading_view(reading: Reading) -> dict[str, Any]:
    """A reading in the shape of a fixture's `expected_reading`."""
    return {
        "model": reading.model,
        "streamed": reading.streamed,
        "response_id": reading.response_id,
        "status": reading.status,
        "error": reading.error,
        "usage": dataclasses.asdict(reading.usage) if reading.usage is not None else None,
        "prompt_messages": reading.prompt_messages,
        "completion_text": "".join(reading.completion_texts),
    }
