"""The fuzz pass over every parser in the catalog, with the store behind it (issue 11).

For every path rule in the registry (so a new provider is covered as soon as it is listed),
Hypothesis builds hostile calls: the provider's recorded fixtures with hostile leaves (NULs,
lone surrogates, 10,000-character strings, huge, negative, fractional and NaN counts, JSON
nested past the decoder's limit), units dropped, repeated and made up, framed as JSON, SSE,
JSON lines, a JSON array or Bedrock's event stream (the parser's own framing, or another one
with a content type that lies), compressed with gzip, deflate, br or zstd (with a
content-encoding that tells the truth, lies or says nothing), cut at random places, on a URL
whose path, query and headers are hostile too. WebSocket endpoints get their sessions'
messages the same way.

What must hold: no parser method raises, readings have a known status and whole,
non-negative, storable counts, `recording.build_event` turns every reading into an event,
and every event is stored in SQLite and in PostgreSQL and reads back equal.

The examples per test are few so the module stays within a minute on two cores;
OFFGATE_FUZZ_EXAMPLES=N runs N per test for a deeper pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offgate import recording
from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.apps import app_for
from offgate.catalog.base import Reading
from offgate.catalog.registry import Match
from offgate.events import UsageEvent
from offgate.fingerprint import path_without_keys
from offgate.store import Store
from tests.support import postgres
from tests.support.fixture_files import load_fixture, read_call
from tests.support.fuzz_strategies import (
    HOSTILE_TEXT,
    QUERY_STRINGS,
    Address,
    Endpoint,
    addresses,
    chunks_of,
    encoded,
    endpoints,
    fixtures_for,
    fuzz_settings,
    request_bodies,
    response_bodies,
    session_messages,
    spoilt,
)
from tests.support.storable import BIGINT_MAX, RoundTrip

CATALOG = DEFAULT_CATALOG
HTTP_ENDPOINTS = endpoints(CATALOG, websocket=False)
SESSION_ENDPOINTS = endpoints(CATALOG, websocket=True)


# Values servers put in the headers parsers read (Bedrock's counts and request id, LiteLLM's call id).
HOSTILE_COUNT_TEXTS = ["9" * 5000, str(2**64), str(2**63), "-1", "1.5", "١٢٣", " 12 ", "", "\x00", "\udcff"]
HEADERS_READ = ["x-litellm-call-id", "x-amzn-requestid", "x-amzn-bedrock-input-token-count",
                "x-amzn-bedrock-output-token-count", "x-amzn-bedrock-cache-read-input-token-count",
                "x-amzn-bedrock-cache-write-input-token-count", "x-request-id"]
STATUSES = [200, 200, 200, 101, 204, 400, 429, 500, 529]
TOKEN_FIELDS = [name for name in UsageEvent.model_fields if name.endswith("_tokens")]


@dataclass
class HostileCall:
    """One HTTP call as a capture path would hand it to the parser."""

    address: Address
    query: dict[str, str]
    request_headers: dict[str, str]
    request_body: bytes
    request_encoding: str | None
    status: int
    response_headers: dict[str, str]
    chunks: list[bytes]
    complete: bool
    process: dict[str, object]

    @property
    def path(self) -> str:
        return with_query(self.address.path, self.query)


def with_query(path: str, query: dict[str, str]) -> str:
    """The path as mitmproxy hands it over: undecodable bytes already surrogates."""
    return path + ("?" + "&".join(f"{name}={value}" for name, value in query.items()) if query else "")


# Who made the call, as the OS names it (psutil decodes undecodable names into surrogates).
PROCESS_FACTS = st.fixed_dictionaries({"process_name": HOSTILE_TEXT, "exe": HOSTILE_TEXT, "user": HOSTILE_TEXT,
                                       "device": HOSTILE_TEXT, "pid": st.integers(0, 2**31)})


@st.composite
def hostile_calls(draw: st.DrawFn, endpoint: Endpoint) -> HostileCall:
    address = draw(addresses(endpoint))
    request_headers = {"content-type": "application/json", "user-agent": draw(HOSTILE_TEXT)}
    for fixture in fixtures_for(CATALOG, endpoint)[:1]:  # headers a parser reads (Gemini's web app names its model)
        request_headers |= {name: draw(spoilt(value)) for name, value in fixture.request_headers.items()
                            if name != "content-type"}
    request_body, request_encoding = draw(encoded(draw(request_bodies(CATALOG, endpoint))))
    body, content_type = draw(response_bodies(CATALOG, endpoint))
    body, response_encoding = draw(encoded(body))
    response_headers = {"content-type": content_type}
    if response_encoding is not None:
        response_headers["content-encoding"] = response_encoding
    for name in draw(st.lists(st.sampled_from(HEADERS_READ), unique=True, max_size=4)):
        response_headers[name] = draw(st.sampled_from(HOSTILE_COUNT_TEXTS) | HOSTILE_TEXT)
    return HostileCall(
        address=address, query=draw(QUERY_STRINGS), request_headers=request_headers,
        request_body=request_body, request_encoding=request_encoding, status=draw(st.sampled_from(STATUSES)),
        response_headers=response_headers, chunks=draw(chunks_of(body)), complete=draw(st.booleans()),
        process=draw(PROCESS_FACTS),
    )


def read(call: HostileCall) -> tuple[Match, Reading]:
    """Drive the parser as the interceptor does; none of these calls may raise."""
    match = CATALOG.lookup(call.address.host, call.address.port, call.address.path)
    assert match is not None, call.address
    parser = match.new_parser(call.query, call.request_headers)
    parser.read_request(call.request_body, call.request_encoding)
    parser.start_response(call.status, call.response_headers)
    for chunk in call.chunks:
        parser.feed(chunk)
    return match, parser.finish(call.complete)


def check_reading(reading: Reading) -> None:
    assert reading.status in ("ok", "partial", "unparsed")
    for name in ("model", "response_model", "response_id", "error"):
        assert getattr(reading, name) is None or isinstance(getattr(reading, name), str), name
    if reading.usage is not None:
        for name, count in dataclasses.asdict(reading.usage).items():
            assert count is None or (type(count) is int and 0 <= count <= BIGINT_MAX), (name, count)


def to_event(match: Match, reading: Reading, status: int, call_facts: dict[str, object]) -> UsageEvent:
    """As the capture paths do; build_event itself must not raise."""
    event = recording.build_event(match, reading, status_code=status, **call_facts)
    for name in TOKEN_FIELDS:
        count = getattr(event, name)
        assert count is None or 0 <= count <= BIGINT_MAX, (name, count)
    return event


def call_facts(call: HostileCall, match: Match, ts: datetime) -> dict[str, object]:
    return dict(call.process, ts=ts, source="proxy", host=call.address.host, path=path_without_keys(call.path),
                app=app_for(call.request_headers, match.app),
                litellm_call_id=call.response_headers.get("x-litellm-call-id"),
                request_bytes=len(call.request_body), response_bytes=sum(map(len, call.chunks)))


# -- the stores --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def round_trip(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    """A fresh SQLite and a fresh PostgreSQL store for the module."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'offgate.db'}"
    with postgres.fresh_database(postgres_url) as postgres_store_url:
        stores = {"sqlite": Store.open(sqlite_url), "postgresql": Store.open(postgres_store_url)}
        yield RoundTrip(stores)
        for store in stores.values():
            store.close()


# -- HTTP calls --------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", HTTP_ENDPOINTS, ids=[e.id for e in HTTP_ENDPOINTS])
@fuzz_settings(examples=8)
@given(data=st.data())
def test_every_endpoint_reads_hostile_calls_without_raising(endpoint: Endpoint, data: st.DataObject) -> None:
    call = data.draw(hostile_calls(endpoint))
    match, reading = read(call)
    check_reading(reading)
    to_event(match, reading, call.status, call_facts(call, match, datetime.now(UTC)))


@pytest.mark.parametrize("endpoint", HTTP_ENDPOINTS, ids=[e.id for e in HTTP_ENDPOINTS])
@fuzz_settings(examples=3)
@given(data=st.data())
def test_every_endpoint_stores_what_it_reads_from_hostile_calls(endpoint: Endpoint, data: st.DataObject,
                                                                round_trip: RoundTrip) -> None:
    call = data.draw(hostile_calls(endpoint))
    match, reading = read(call)
    hour = round_trip.next_hour()
    round_trip.check([to_event(match, reading, call.status, call_facts(call, match, hour))], hour)


# -- WebSocket sessions ------------------------------------------------------------------------


@dataclass
class HostileSession:
    address: Address
    query: dict[str, str]
    messages: list[tuple[bool, bytes]]  # (from the client, content)
    complete: bool
    process: dict[str, object]


@st.composite
def hostile_sessions(draw: st.DrawFn, endpoint: Endpoint) -> HostileSession:
    return HostileSession(draw(addresses(endpoint)), draw(QUERY_STRINGS), draw(session_messages(CATALOG, endpoint)),
                          draw(st.booleans()), draw(PROCESS_FACTS))


def read_session(session: HostileSession) -> tuple[Match, list[Reading]]:
    """Drive the session parser as the interceptor does: upgrade, then each message."""
    match = CATALOG.lookup(session.address.host, session.address.port, session.address.path, websocket=True)
    assert match is not None, session.address
    parser = match.new_parser(session.query, {})
    parser.read_request(b"")
    parser.start_response(101, {})
    readings = []
    for from_client, content in session.messages:
        parser.feed_message(from_client, content)
        readings += parser.take_readings()
    return match, readings + parser.finish_session(session.complete)


def session_facts(session: HostileSession, hour: datetime) -> dict[str, object]:
    return dict(session.process, ts=hour, source="proxy", method="GET", host=session.address.host,
                path=path_without_keys(with_query(session.address.path, session.query)))


@pytest.mark.parametrize("endpoint", SESSION_ENDPOINTS, ids=[e.id for e in SESSION_ENDPOINTS])
@fuzz_settings(examples=30)
@given(data=st.data())
def test_every_session_endpoint_stores_what_it_reads_from_hostile_messages(endpoint: Endpoint,
                                                                           data: st.DataObject,
                                                                           round_trip: RoundTrip) -> None:
    session = data.draw(hostile_sessions(endpoint))
    match, readings = read_session(session)
    assert readings, "every session leaves a record"
    hour = round_trip.next_hour()
    events = []
    for reading in readings:
        check_reading(reading)
        events.append(to_event(match, reading, 101, session_facts(session, hour)))
    round_trip.check(events, hour)


# -- what offgate records when it fails itself -----------------------------------------------


@fuzz_settings(examples=30)
@given(endpoint=st.sampled_from(HTTP_ENDPOINTS), reason=HOSTILE_TEXT, process=PROCESS_FACTS,
       status=st.sampled_from(STATUSES) | st.none())
def test_an_unreadable_call_is_stored_whatever_the_error_says(endpoint: Endpoint, reason: str,
                                                              process: dict[str, object], status: int | None,
                                                              round_trip: RoundTrip) -> None:
    match = Match(endpoint.provider.name, endpoint.provider.app, endpoint.rule.endpoint, endpoint.rule.parser,
                  None, "direct")
    hour = round_trip.next_hour()
    event = recording.unreadable_event(match, ValueError(reason), status_code=status, ts=hour, host="api.example",
                                       path="/", **process)
    round_trip.check([event], hour)


# -- defects the fuzz found --------------------------------------------------------------------


@pytest.mark.parametrize("count", [b"9223372036854775808", b"18446744073709551616", b"1e300", b"1" + b"0" * 30])
def test_a_count_no_call_can_have_is_not_taken_for_one(count: bytes, round_trip: RoundTrip) -> None:
    # 2**63 and up do not fit the store's 64-bit columns: the event could never be written.
    fixture = load_fixture("openai/chat")
    body = fixture.response_body.replace(b'"prompt_tokens": 31', b'"prompt_tokens": ' + count)
    reading = read_call(fixture, [body])
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens) == (None, 26)
    match = CATALOG.lookup(fixture.host, fixture.port, fixture.path)
    hour = round_trip.next_hour()
    event = recording.build_event(match, reading, status_code=200, ts=hour, host=fixture.host, path=fixture.path)
    assert (event.completion_tokens, event.tokens_estimated) == (26, True)  # the prompt is estimated instead
    round_trip.check([event], hour)


@pytest.mark.parametrize("count", ["9" * 5000, "18446744073709551616"])
def test_bedrock_token_count_headers_of_any_size_are_read_without_raising(count: str) -> None:
    # A Llama body reports no counts of its own: Bedrock's headers are all there is.
    fixture = load_fixture("bedrock/invoke_llama")
    headers = {**fixture.response_headers, "x-amzn-bedrock-input-token-count": count}
    reading = read_call(fixture, response_headers=headers)
    assert (reading.status, reading.error) == ("ok", None)
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens) == (None, 35)
