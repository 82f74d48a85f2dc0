"""Hypothesis strategies for the fuzz pass: hostile values, the recorded fixtures with hostile
leaves, bodies in every framing and content-encoding cut at random places, and URLs for every
endpoint of the catalog.

Hostile means what a broken or malicious server, page or network can put in front of a
parser: NUL characters and lone surrogates (PostgreSQL refuses the first, UTF-8 cannot carry
the second, and mitmproxy decodes undecodable header and path bytes into surrogates),
10,000-character strings, counts that are negative, huge, fractional or NaN, and JSON nested
deeper than the decoder's recursion limit.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import brotli
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from offgate.catalog.base import MAX_FRAME_BYTES
from offgate.catalog.decoding import zstd_module
from offgate.catalog.framing import AWSEventStreamReader, LineReader, SSEReader
from offgate.catalog.registry import Catalog, PathRule, Provider
from tests.support.aws_eventstream import aws_event_frame
from tests.support.fixture_files import Fixture, fixture_names, load_fixture, session_fixture_names

EXAMPLES_ENV = "OFFGATE_FUZZ_EXAMPLES"


def fuzz_settings(examples: int) -> settings:
    """`examples` per test, so the pass stays within a minute; $OFFGATE_FUZZ_EXAMPLES per
    test instead for a deeper one. Bodies are large and the store is real: no deadline."""
    deeper = os.environ.get(EXAMPLES_ENV)
    return settings(max_examples=int(deeper) if deeper else examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


# -- hostile leaves ---------------------------------------------------------------------------

# Strings every text column must survive: NULs, lone surrogates (as mitmproxy's surrogateescape
# makes them from undecodable bytes, and as JSON's \ud800 escapes decode), odd separators.
HOSTILE_TEXTS = ["\x00", "gpt-4o\x00", "\x00" * 64, "\ud800", "gpt-4o\udcff", "\udfff\ud800", "\ud83d",
                 "\x00\udc80", "\u2028\u2029", "\ufeff", "\x1b[31m", "a\r\nb", "", " ", "null", "[DONE]",
                 "é" * 300, "\U0001f600" * 100]
LONG_TEXT_CHARS = (1_000, 10_000)
ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates and NUL included
HOSTILE_NUMBERS: list[int | float] = [-1, -(2**63), 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, 10**400,
                                      1.5, -0.0, 1e308, -1e308, 1e-300, float("nan"), float("inf"),
                                      float("-inf"), 0, 1]


@dataclass(frozen=True)
class RawJSON:
    """JSON text put verbatim where a value goes: nesting past the decoder's recursion limit,
    an integer past Python's 4,300-digit conversion limit."""

    text: str


RAW_JSON = [RawJSON("[" * 5000 + "]" * 5000), RawJSON('{"a":' * 3000 + "1" + "}" * 3000), RawJSON("9" * 5000),
            RawJSON("-" + "9" * 4400)]


# Strategies are built once: Hypothesis validates each new one, which costs more than a draw.
HOSTILE_TEXT = st.one_of(
    st.sampled_from(HOSTILE_TEXTS),
    st.text(ANY_CHARACTER, max_size=40),
    st.builds(lambda char, size: char * size, ANY_CHARACTER, st.sampled_from(LONG_TEXT_CHARS)),
)
HOSTILE_NUMBER = st.one_of(st.sampled_from(HOSTILE_NUMBERS), st.integers(), st.floats())
HOSTILE_LEAF = st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER, st.sampled_from([None, True, False, [], {}, *RAW_JSON]))
# What no store keeps as it is: NUL, and lone surrogates (high, low, and the escapes
# mitmproxy and psutil make of undecodable bytes).
UNSTORABLE_CHARACTERS = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc80", "\udcff", "\udfff", "\x00\ud83d"])
_LIKE_TEXT = st.one_of(HOSTILE_TEXT, HOSTILE_LEAF)
_LIKE_NUMBER = st.one_of(HOSTILE_NUMBER, HOSTILE_LEAF)


def hostile_like(value: Any) -> st.SearchStrategy[Any]:
    """Mostly a value of the same kind (a hostile string for a string), sometimes anything."""
    if isinstance(value, str):
        return _LIKE_TEXT
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _LIKE_NUMBER
    return HOSTILE_LEAF


def dumps(value: Any, ascii_only: bool = True) -> bytes:
    """JSON bytes; NaN and infinities as Python writes them, RawJSON verbatim, and lone
    surrogates either escaped (`\\ud800`) or, with `ascii_only` off, as the invalid UTF-8
    bytes a careless encoder writes."""
    raws: list[str] = []

    def placeholder(obj: Any) -> str:
        if isinstance(obj, RawJSON):
            raws.append(obj.text)
            return f"\x01raw{len(raws) - 1}\x01"
        raise TypeError(f"cannot write {type(obj).__name__} as JSON")

    text = json.dumps(value, default=placeholder, ensure_ascii=ascii_only)
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{index}\x01"), raw, 1)
    return text.encode("utf-8", "surrogatepass")


# -- hostile leaves in real shapes -----------------------------------------------------------


def node_paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path to every node below the root of a JSON value."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield (*at, key)
        yield from node_paths(child, (*at, key))


def node_at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def replaced_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `value` with the node at `path` replaced (the original is left alone)."""
    if not path:
        return new
    key, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = replaced_at(value[key], rest, new)
    return copy


@st.composite
def spoilt(draw: st.DrawFn, old: Any) -> Any:
    """A hostile value in place of `old`: half the time a string keeps its value with an
    unstorable character slipped in (so parsers still take it for what it was)."""
    if isinstance(old, str) and draw(st.booleans()):
        at = draw(st.integers(0, len(old)))
        return old[:at] + draw(UNSTORABLE_CHARACTERS) + old[at:]
    return draw(hostile_like(old))


@dataclass(frozen=True)
class Carried:
    """What a parser carries from a fixture's bodies into the record (its model, response id,
    token counts, the words of its error): the leaves most worth making hostile."""

    values: frozenset[str | int] = frozenset()
    error: str = ""

    @classmethod
    def of(cls, fixtures: Iterable[Fixture]) -> Carried:
        values: set[str | int] = set()
        errors = []
        for fixture in fixtures:
            expected = fixture.expected
            values |= {value for value in (expected.get("model"), expected.get("response_id")) if value}
            counts = (expected.get("usage") or {}).values()
            values |= {count for count in counts if isinstance(count, int) and count > 1}
            errors.append(expected.get("error") or "")
        return cls(frozenset(values), "\n".join(errors))

    def __contains__(self, node: object) -> bool:
        if isinstance(node, bool) or not isinstance(node, (str, int)):
            return False
        return node in self.values or (isinstance(node, str) and len(node) >= 3 and node in self.error)


NOTHING_CARRIED = Carried()


@st.composite
def with_hostile_leaves(draw: st.DrawFn, value: Any, keys: tuple[str, ...] = (),
                        carried: Carried = NOTHING_CARRIED) -> Any:
    """`value` (a JSON value in the shape a provider sends) with one to six nodes replaced by
    hostile values of mostly the same kind (half the time among the nodes the parser carries
    into the record), and sometimes a key added that parsers look for."""
    paths = list(node_paths(value))
    if not paths:
        return draw(hostile_like(value))
    targets = [path for path in paths if node_at(value, path) in carried]
    pool = targets if targets and draw(st.booleans()) else paths
    for path in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True)):
        try:
            old = node_at(value, path)
        except (KeyError, IndexError, TypeError):  # an earlier replacement removed it
            continue
        value = replaced_at(value, path, draw(spoilt(old)))
    dicts = [path for path in [(), *node_paths(value)] if isinstance(node_at(value, path), dict)]
    if keys and dicts and draw(st.booleans()):
        where = draw(st.sampled_from(dicts))
        value = replaced_at(value, where, {**node_at(value, where), draw(st.sampled_from(keys)): draw(HOSTILE_LEAF)})
    return value


@functools.cache
def shaped_json(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """JSON built from the keys the fixtures use, with hostile leaves."""
    return st.recursive(
        HOSTILE_LEAF,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(keys), children, max_size=5),
        max_leaves=12,
    )


# -- damaged bytes ---------------------------------------------------------------------------


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, cut, inserted or deleted."""
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        if kind == "flip" and at < len(data):
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "insert":
            noise = draw(st.binary(max_size=8) | st.sampled_from(
                [b"\x00", b"\xed\xa0\x80", b"\xff", b"\xff\xfe", b"\n\n", b"\r\n", b"data: ", b"[DONE]",
                 b'"', b"{", b"}"]))
            data = data[:at] + noise + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 64)):]
    return data


@st.composite
def chunks_of(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """The body as it may come off the wire: cut at random places, in order."""
    if len(body) < 2:
        return [body]
    cuts = sorted(draw(st.sets(st.integers(1, len(body) - 1), max_size=12)))
    return [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]


# -- framings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One streamed unit: an SSE or event-stream event's name and data, a JSON line, or an
    array element. `value` is JSON, or the bytes of a unit that is not JSON. `wrapped`: a
    Bedrock InvokeModel chunk, whose JSON travels base64-encoded in `{"bytes": ...}`."""

    event: str
    value: Any
    wrapped: bool = False
    message_type: str = "event"  # an event-stream message's; "exception" and "error" end the stream


@dataclass(frozen=True)
class Framing:
    name: str
    content_type: str


FRAMINGS = {framing.name: framing for framing in (
    Framing("json", "application/json"),
    Framing("sse", "text/event-stream; charset=utf-8"),
    Framing("lines", "application/x-ndjson"),
    Framing("json-array", "application/json"),
    Framing("eventstream", "application/vnd.amazon.eventstream"),
    Framing("raw", "text/plain"),
)}


def unit_bytes(unit: Unit, ascii_only: bool) -> bytes:
    if isinstance(unit.value, bytes):
        return unit.value
    if unit.wrapped:
        return dumps({"bytes": base64.b64encode(dumps(unit.value, ascii_only)).decode()})
    return dumps(unit.value, ascii_only)


def frame(framing: str, units: list[Unit], ascii_only: bool = True, crlf: bool = False) -> bytes:
    """The units as a body in the given framing."""
    data = [unit_bytes(unit, ascii_only) for unit in units]
    newline = b"\r\n" if crlf else b"\n"
    if framing == "sse":
        return b"".join((b"event: " + unit.event.encode("utf-8", "surrogatepass") + newline
                         if unit.event != "message" else b"")
                        + b"".join(b"data: " + line + newline for line in part.split(b"\n")) + newline
                        for unit, part in zip(units, data, strict=True))
    if framing == "lines":
        return b"".join(part + newline for part in data)
    if framing == "json-array":
        return b"[" + (b"," + newline).join(data) + b"]"
    if framing == "eventstream":
        return b"".join(aws_event_frame(_event_headers(unit), part)
                        for unit, part in zip(units, data, strict=True))
    return b"".join(data)


def _event_headers(unit: Unit) -> bytes:
    """An event-stream message's string headers, the event's name written as it comes."""
    name = {"exception": ":exception-type", "error": ":error-code"}.get(unit.message_type, ":event-type")
    headers = {name: unit.event, ":content-type": "application/json", ":message-type": unit.message_type}
    raw = b""
    for name, value in headers.items():
        data = value.encode("utf-8", "surrogatepass")[:0xFFFF]
        raw += bytes([len(name)]) + name.encode() + b"\x07" + len(data).to_bytes(2, "big") + data
    return raw


def _json_or_bytes(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def units_of(fixture: Fixture, reads_lines: bool) -> tuple[str, list[Unit]]:
    """A fixture's response body taken apart the way its parser reads it."""
    body = fixture.response_body
    content_type = fixture.response_headers.get("content-type", "").lower()
    if reads_lines or "ndjson" in content_type or "jsonl" in content_type:
        reader = LineReader(MAX_FRAME_BYTES)
        return "lines", [Unit("message", _json_or_bytes(line)) for line in [*reader.feed(body), *reader.close()]]
    if "event-stream" in content_type:
        reader = SSEReader(MAX_FRAME_BYTES)
        events = [*reader.feed(body), *reader.close()]
        return "sse", [Unit(event.event, _json_or_bytes(event.data.encode())) for event in events]
    if "eventstream" in content_type:
        units = []
        for event in AWSEventStreamReader(MAX_FRAME_BYTES).feed(body):
            payload = json.loads(event.data)
            if isinstance(payload, dict) and isinstance(payload.get("bytes"), str):
                units.append(Unit(event.event, json.loads(base64.b64decode(payload["bytes"])), wrapped=True))
            else:
                units.append(Unit(event.event, payload))
        return "eventstream", units
    value = _json_or_bytes(body)
    if isinstance(value, bytes):
        return "raw", [Unit("message", value)]
    if isinstance(value, list):
        return "json-array", [Unit("message", element) for element in value]
    return "json", [Unit("message", value)]


# -- content encodings -----------------------------------------------------------------------

def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": _raw_deflate,
    "br": brotli.compress,
    "zstd": zstd_module().compress,
    "identity": lambda data: data,
}
HEADER_NAME = {"raw-deflate": "deflate"}  # servers that send raw deflate still call it deflate
CLAIMED_ENCODINGS = ["gzip", "x-gzip", "deflate", "br", "zstd", "identity", "gzip, br", "compress", "x-unknown",
                     "\x00", "gzip\udcff"]


@st.composite
def encoded(draw: st.DrawFn, body: bytes) -> tuple[bytes, str | None]:
    """The body compressed (or not), and the content-encoding header sent with it: the
    truth half of the time, a lie or nothing otherwise."""
    used = draw(st.sampled_from(sorted(ENCODERS)))
    data = ENCODERS[used](body)
    honest = None if used == "identity" else HEADER_NAME.get(used, used)
    claimed = draw(st.one_of(st.just(honest), st.just(honest), st.none(), st.sampled_from(CLAIMED_ENCODINGS)))
    return data, claimed


# -- the catalog's endpoints -----------------------------------------------------------------

# What a path can hold once mitmproxy hands it over: any character (undecodable bytes arrive
# as surrogates), except what would end the path.
PATH_CHARACTERS = st.characters(exclude_categories=(), exclude_characters="?#")
# What a page's URL can hold: browsers percent-encode the rest, but controls and NUL pass.
PAGE_URL_CHARACTERS = st.characters(codec="ascii", exclude_characters="?#")


@dataclass(frozen=True)
class Endpoint:
    """One path rule of one provider: what the fuzz tests are parametrized over."""

    provider: Provider
    rule: PathRule
    index: int  # of the rule among the provider's (one endpoint can have several paths)

    @property
    def id(self) -> str:
        return f"{self.provider.name}-{self.index}-{self.rule.endpoint}"


def endpoints(catalog: Catalog, websocket: bool) -> list[Endpoint]:
    """Every path rule in the catalog whose parser reads HTTP calls (or WebSocket sessions)."""
    return [Endpoint(provider, rule, index) for provider in catalog.providers
            for index, rule in enumerate(provider.paths) if rule.parser.websocket is websocket]


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    path: str  # without the query


@st.composite
def addresses(draw: st.DrawFn, endpoint: Endpoint, alphabet: st.SearchStrategy[str] = PATH_CHARACTERS) -> Address:
    """A host of the provider (in any case, sometimes with a trailing dot) and a path the
    rule matches, made of hostile characters where the rule allows any."""
    host = draw(st.sampled_from(endpoint.provider.hosts))
    port = 443
    if host.startswith("*."):
        host = draw(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True)) + host[1:]
    elif ":" in host:
        host, _, port_text = host.partition(":")
        port = int(port_text)
    host = draw(st.sampled_from([host, host.upper(), host + "."]))
    path = draw(_paths(endpoint.rule.pattern, alphabet))
    return Address(host, port, path)


@functools.cache
def _paths(pattern: re.Pattern[str], alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True, alphabet=alphabet)


# Query parameters parsers read (a Realtime model or deployment, a key) with hostile values.
QUERY_STRINGS = st.dictionaries(st.sampled_from(["model", "deployment", "key", "api-version", "alt"]), HOSTILE_TEXT,
                                max_size=3)


# -- what the fixtures hold ------------------------------------------------------------------


@functools.cache
def fixtures_for(catalog: Catalog, endpoint: Endpoint) -> list[Fixture]:
    """The recorded calls (or sessions) this endpoint's parser reads; failing that, those of
    parsers it derives from or that derive from it (OpenAI-compatible APIs share theirs)."""
    websocket = endpoint.rule.parser.websocket
    names = session_fixture_names() if websocket else fixture_names()
    fixtures = [load_fixture(name) for name in names]
    parsers = {fixture.name: _parser_of(catalog, fixture) for fixture in fixtures}
    own = [f for f in fixtures if parsers[f.name] is endpoint.rule.parser and _provider_of(f) == endpoint.provider.name]
    return own or [f for f in fixtures if _related(parsers[f.name], endpoint.rule.parser)]


def _related(parser: type | None, other: type) -> bool:
    return parser is not None and (issubclass(parser, other) or issubclass(other, parser))


def _parser_of(catalog: Catalog, fixture: Fixture) -> type | None:
    match = catalog.lookup(fixture.host, fixture.port, fixture.path, websocket=fixture.websocket)
    return match.parser if match else None


def _provider_of(fixture: Fixture) -> str:
    return fixture.expected.get("provider", "")


@functools.cache
def json_keys() -> tuple[str, ...]:
    """Every object key in every fixture: the vocabulary generated JSON is made of."""
    keys: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for child in value.values():
                collect(child)
        elif isinstance(value, list):
            for child in value:
                collect(child)

    for name in fixture_names():
        fixture = load_fixture(name)
        collect(_json_or_bytes(fixture.request_body))
        for unit in units_of(fixture, reads_lines=False)[1]:
            collect(unit.value)
    for name in session_fixture_names():
        for message in load_fixture(name).messages:
            collect(_json_or_bytes(message.content))
    return tuple(sorted(keys))


@functools.cache
def event_names() -> tuple[str, ...]:
    """The SSE and event-stream event names the fixtures use."""
    names = {"message"}
    for name in fixture_names():
        _, units = units_of(load_fixture(name), reads_lines=False)
        names.update(unit.event for unit in units)
    return tuple(sorted(names))


@st.composite
def hostile_units(draw: st.DrawFn, units: list[Unit], keys: tuple[str, ...], names: tuple[str, ...],
                  carried: Carried = NOTHING_CARRIED) -> list[Unit]:
    """The units with hostile leaves in some (half the time one that holds what the parser
    carries into the record), some dropped, repeated, made up, or an AWS exception."""
    result = list(units)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["leaves", "leaves", "spoil", "bytes", "drop", "repeat", "add"]))
        at = draw(st.integers(0, max(len(result) - 1, 0)))
        if kind == "spoil":  # one carried value (an id a stream repeats) spoilt wherever it is
            present = sorted({node for unit in result for node in _nodes(unit.value) if node in carried}, key=repr)
            if present:
                old = draw(st.sampled_from(present))
                new = draw(spoilt(old))
                result = [replace(unit, value=_swapped(unit.value, old, new)) for unit in result]
        elif kind == "add" or not result:
            made_up = Unit(draw(st.sampled_from(names) | HOSTILE_TEXT), draw(shaped_json(keys)),
                           message_type=draw(st.sampled_from(["event", "event", "exception", "error"])))
            result.insert(at, made_up)
        elif kind == "leaves":
            holding = [i for i, unit in enumerate(result) if _holds(unit.value, carried)]
            if holding and draw(st.booleans()):
                at = draw(st.sampled_from(holding))
            unit = result[at]
            value = unit.value if isinstance(unit.value, bytes) else draw(with_hostile_leaves(unit.value, keys,
                                                                                              carried))
            result[at] = replace(unit, value=value)
        elif kind == "bytes":
            result[at] = replace(result[at], value=draw(damaged(unit_bytes(result[at], ascii_only=True))),
                                 wrapped=False)
        elif kind == "drop":
            del result[at]
        else:
            result.insert(at, result[at])
    return result


def _nodes(value: Any) -> Iterator[Any]:
    if not isinstance(value, bytes):
        yield from (node_at(value, path) for path in node_paths(value))


def _holds(value: Any, carried: Carried) -> bool:
    return any(node in carried for node in _nodes(value))


def _swapped(value: Any, old: Any, new: Any) -> Any:
    """`value` with every node equal to `old` replaced by `new`."""
    if type(value) is type(old) and value == old:
        return new
    if isinstance(value, dict):
        return {key: _swapped(child, old, new) for key, child in value.items()}
    if isinstance(value, list):
        return [_swapped(child, old, new) for child in value]
    return value


_SEPARATORS = re.compile(r"[ \t\r\n\x1e]*")  # between JSON values in one message (Copilot's \x1e)


def json_values_of(content: bytes) -> list[Any] | None:
    """The JSON values back to back in a body or WebSocket message, or None if it is not JSON."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    values, at = [], 0
    while True:
        at = _SEPARATORS.match(text, at).end()  # type: ignore[union-attr]
        if at == len(text):
            return values
        try:
            value, at = _DECODER.raw_decode(text, at)
        except ValueError:
            return None
        values.append(value)


_DECODER = json.JSONDecoder()


# -- whole bodies and sessions for an endpoint -----------------------------------------------


@st.composite
def request_bodies(draw: st.DrawFn, catalog: Catalog, endpoint: Endpoint) -> bytes:
    """A request body: a fixture's with hostile leaves or damaged bytes, or made-up JSON."""
    fixtures = fixtures_for(catalog, endpoint)
    if fixtures and draw(st.integers(0, 3)):  # three times in four
        fixture = draw(st.sampled_from(fixtures))
        values = json_values_of(fixture.request_body)
        if values is not None and len(values) == 1 and draw(st.integers(0, 3)):
            leaves = with_hostile_leaves(values[0], json_keys(), Carried.of([fixture]))
            return dumps(draw(leaves), ascii_only=draw(st.booleans()))
        return draw(damaged(fixture.request_body))
    return dumps(draw(shaped_json(json_keys())), ascii_only=draw(st.booleans()))


@st.composite
def response_bodies(draw: st.DrawFn, catalog: Catalog, endpoint: Endpoint) -> tuple[bytes, str]:
    """A response body and the content type it is sent with: a fixture's units made hostile,
    in the fixture's framing or (a quarter of the time) another, said so or not."""
    fixtures = fixtures_for(catalog, endpoint)
    carried = NOTHING_CARRIED
    if fixtures and draw(st.integers(0, 3)):  # three times in four
        fixture = draw(st.sampled_from(fixtures))
        framing, units = units_of(fixture, endpoint.rule.parser.reads_lines)
        content_type = fixture.response_headers.get("content-type", FRAMINGS[framing].content_type)
        carried = Carried.of([fixture])
    else:
        framing, units, content_type = "json", [], FRAMINGS["json"].content_type
    units = draw(hostile_units(units, json_keys(), event_names(), carried))
    if draw(st.integers(0, 3)) == 0:
        framing = draw(st.sampled_from(sorted(FRAMINGS)))
        content_type = draw(st.sampled_from([FRAMINGS[framing].content_type, content_type,
                                             *(f.content_type for f in FRAMINGS.values())]))
    body = frame(framing, units, ascii_only=draw(st.booleans()), crlf=draw(st.booleans()))
    return body, content_type


@st.composite
def session_messages(draw: st.DrawFn, catalog: Catalog, endpoint: Endpoint) -> list[tuple[bool, bytes]]:
    """A WebSocket session's messages, (from the client, content): the fixtures' sessions
    with hostile leaves, messages damaged, dropped, repeated and made up."""
    units = []
    for fixture in fixtures_for(catalog, endpoint):
        for message in fixture.messages:
            side = "client" if message.from_client else "server"
            values = json_values_of(message.content)
            units += [Unit(side, value) for value in values] if values else [Unit(side, message.content)]
    units = draw(hostile_units(units, json_keys(), ("client", "server"), Carried.of(fixtures_for(catalog, endpoint))))
    ascii_only = draw(st.booleans())
    return [(unit.event == "client", frame("raw", [unit], ascii_only)) for unit in units]
