"""Load the recorded calls in tests/fixtures/ (format: tests/fixtures/README.md) and feed
them through a catalog parser the way a capture path does."""

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

FIXTURES_DIR = Path(__file__).parent / "fixtures"


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

    @property
    def expected_reading(self) -> dict[str, Any]:
        """`expected` without the catalog's part (provider, endpoint, route)."""
        return {k: v for k, v in self.expected.items() if k not in ("provider", "endpoint", "route")}

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}" + (f"?{self.query}" if self.query else "")


def fixture_names() -> list[str]:
    return sorted(f"{p.parent.name}/{p.name.removesuffix('.meta.json')}"
                  for p in FIXTURES_DIR.glob("*/*.meta.json"))


def load_fixture(name: str) -> Fixture:
    meta_path = FIXTURES_DIR / f"{name}.meta.json"
    meta = json.loads(meta_path.read_text())
    stem = meta_path.name.removesuffix(".meta.json")
    (response_path,) = meta_path.parent.glob(f"{stem}.response.*")
    request, response = meta["request"], meta["response"]
    return Fixture(
        name=name,
        method=request["method"],
        host=request["host"],
        path=request["path"],
        query=request["query"],
        request_headers=request["headers"],
        request_body=(meta_path.parent / f"{stem}.request.json").read_bytes(),
        status=response["status"],
        response_headers=response["headers"],
        response_body=response_path.read_bytes(),
        expected=meta["expected"],
    )


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
    match = catalog.lookup(fixture.host, 443, fixture.path)
    assert match is not None, f"{fixture.name}: the catalog does not know {fixture.url}"
    parser = match.new_parser(query=dict(parse_qsl(fixture.query)))
    parser.read_request(fixture.request_body if request_body is None else request_body, request_encoding)
    parser.start_response(fixture.status, response_headers or fixture.response_headers)
    for chunk in chunks if chunks is not None else [fixture.response_body]:
        parser.feed(chunk)
    return parser.finish(complete)


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
