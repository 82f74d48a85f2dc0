"""Every recorded call and session, mutated at random, still reads without raising.

Hypothesis damages the fixtures the way networks, proxies and servers do (flipped,
cut, inserted and deleted bytes; odd chunk boundaries and chunks out of order; a
content-encoding that lies) and the way a server can send nonsense (token counts that
are negative, huge, fractional, strings, NaN; ids and models of the wrong type). Whatever
arrives, a parser gives a reading with a known status, counts that are whole and never
negative, and a record the store accepts. Runs are derandomized, so CI sees the same
examples every time.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offgate import recording
from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.base import MAX_FRAME_BYTES, Reading
from offgate.catalog.framing import AWSEventStreamReader
from tests.support.aws_eventstream import bedrock_event
from tests.support.fixture_files import (
    Fixture,
    fixture_names,
    load_fixture,
    read_call,
    read_session,
    session_fixture_names,
)
from tests.support.fuzz_strategies import damaged
from tests.support.upstream import WebSocketMessage

EXAMPLES = 30
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

# Values a broken or hostile server might put where a count, an id or a model belongs.
JUNK_VALUES = [-1, -(2**63), 2**64, 10**30, 1.5, -0.5, 1e308, "12", "", "-3", None, True, False, [], {},
               [1, 2], {"input_tokens": -5}, "NaN", float("nan"), float("inf")]
JUNK = [json.dumps(value).encode() for value in JUNK_VALUES]
# A JSON value right after a key: a number, a string or a literal.
JSON_VALUE = re.compile(rb'(?<=":)\s*(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|true|false|null)')
ENCODINGS = ["gzip", "deflate", "br", "zstd", "identity", "compress", "gzip, br", "x-unknown"]


def check_reading(reading: Reading, fixture: Fixture) -> None:
    """A reading anyone downstream can trust, and an event the store accepts."""
    assert reading.status in ("ok", "partial", "unparsed")
    assert reading.error is None or isinstance(reading.error, str)
    assert reading.model is None or isinstance(reading.model, str)
    assert reading.response_id is None or isinstance(reading.response_id, str)
    assert all(isinstance(text, str) for text in reading.prompt_texts + reading.completion_texts)
    if reading.usage is not None:
        for count in (reading.usage.prompt_tokens, reading.usage.completion_tokens, reading.usage.cached_tokens,
                      reading.usage.cache_write_tokens, reading.usage.reasoning_tokens):
            assert count is None or (type(count) is int and count >= 0), reading.usage
    match = DEFAULT_CATALOG.lookup(fixture.host, fixture.port, fixture.path, websocket=fixture.websocket)
    event = recording.build_event(match, reading, status_code=fixture.status, host=fixture.host, path=fixture.path)
    assert all(count is None or count >= 0 for count in (event.prompt_tokens, event.completion_tokens))


# -- damaging bytes: `damaged` is the fuzz pass's ------------------------------------------


@st.composite
def chunks_of(draw: st.DrawFn, body: bytes) -> list[bytes]:
    """The body cut at random places, the pieces sometimes out of order."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=12)))
    pieces = [body[start:end] for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    if len(pieces) > 1 and draw(st.booleans()):
        first, second = draw(st.integers(0, len(pieces) - 1)), draw(st.integers(0, len(pieces) - 1))
        pieces[first], pieces[second] = pieces[second], pieces[first]
    return pieces


# -- junk values ----------------------------------------------------------------------------


def replace_values(text: bytes, replacements: dict[int, bytes]) -> bytes:
    """`text` with the n-th JSON value after a key replaced, for each n given."""
    counter = iter(range(len(text)))
    return JSON_VALUE.sub(lambda found: replacements.get(next(counter), found.group()), text)


def count_values(text: bytes) -> int:
    return len(JSON_VALUE.findall(text))


def rewrite_event_stream(body: bytes, rewrite: Callable[[bytes], bytes]) -> bytes:
    """A Bedrock event stream with each event's JSON (and the JSON inside an InvokeModel
    chunk's base64 `bytes`) rewritten, then framed again with valid checksums."""
    out = []
    for event in AWSEventStreamReader(MAX_FRAME_BYTES).feed(body):
        payload = json.loads(event.data)
        if isinstance(payload, dict) and isinstance(payload.get("bytes"), str):
            inner = rewrite(base64.b64decode(payload["bytes"]))
            payload = {**payload, "bytes": base64.b64encode(inner).decode()}
        else:
            payload = json.loads(rewrite(event.data.encode()))  # junk values are JSON values
        out.append(bedrock_event(event.event, payload))
    return b"".join(out)


def event_stream(fixture: Fixture) -> bool:
    return "eventstream" in fixture.response_headers.get("content-type", "")


# -- the properties -------------------------------------------------------------------------


@pytest.mark.parametrize("name", fixture_names())
@PROPERTY
@given(data=st.data())
def test_damaged_call_never_raises(name, data):
    fixture = load_fixture(name)
    body = data.draw(damaged(fixture.response_body)) if data.draw(st.booleans()) else fixture.response_body
    headers = dict(fixture.response_headers)
    if data.draw(st.booleans()):
        headers["content-encoding"] = data.draw(st.sampled_from(ENCODINGS))
    request = data.draw(damaged(fixture.request_body)) if data.draw(st.booleans()) else None
    reading = read_call(fixture, data.draw(chunks_of(body)), response_headers=headers, request_body=request,
                        complete=data.draw(st.booleans()))
    check_reading(reading, fixture)


@pytest.mark.parametrize("name", fixture_names())
@PROPERTY
@given(data=st.data())
def test_junk_values_never_raise_nor_count_below_zero(name, data):
    fixture = load_fixture(name)

    def junk(text: bytes) -> bytes:
        slots = count_values(text)
        if not slots:
            return text
        return replace_values(text, data.draw(st.dictionaries(st.integers(0, slots - 1), st.sampled_from(JUNK),
                                                              min_size=1, max_size=12)))

    body = (rewrite_event_stream(fixture.response_body, junk) if event_stream(fixture)
            else junk(fixture.response_body))
    reading = read_call(fixture, data.draw(chunks_of(body)), request_body=junk(fixture.request_body))
    check_reading(reading, fixture)


def test_junk_values_reach_the_json_of_every_framing():
    # The rewriting must change what the parser sees, or the property above tests nothing.
    for name in fixture_names():
        fixture = load_fixture(name)
        body = fixture.response_body
        changed = (rewrite_event_stream(body, lambda text: replace_values(text, {0: b"-1"})) if event_stream(fixture)
                   else replace_values(body, {0: b"-1"}))
        assert changed != body or count_values(body) == 0, name


@st.composite
def damaged_session(draw: st.DrawFn, messages: tuple[WebSocketMessage, ...]) -> list[WebSocketMessage]:
    """Messages damaged inside, given junk values, dropped, repeated or added."""
    result = list(messages)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(result) - 1))
        message = result[at]
        kind = draw(st.sampled_from(["damage", "junk", "drop", "repeat", "add"]))
        if kind == "damage":
            result[at] = WebSocketMessage(message.from_client, message.binary, draw(damaged(message.content)))
        elif kind == "junk" and count_values(message.content):
            slots = count_values(message.content)
            content = replace_values(message.content, draw(st.dictionaries(
                st.integers(0, slots - 1), st.sampled_from(JUNK), min_size=1, max_size=6)))
            result[at] = WebSocketMessage(message.from_client, message.binary, content)
        elif kind == "drop":
            del result[at]
        elif kind == "repeat":
            result.insert(at, message)
        elif kind == "add":
            junk = draw(st.sampled_from(JUNK + [b"", b"[]", b"not json", b'{"type": 5}', b"\xff\xfe"]))
            result.insert(at, WebSocketMessage(draw(st.booleans()), draw(st.booleans()), junk))
        if not result:
            break
    return result


@pytest.mark.parametrize("name", session_fixture_names())
@settings(PROPERTY, max_examples=4 * EXAMPLES)
@given(data=st.data())
def test_damaged_session_never_raises(name, data):
    fixture = load_fixture(name)
    readings = read_session(fixture, data.draw(damaged_session(fixture.messages)), complete=data.draw(st.booleans()))
    assert readings, "every session leaves a record"
    for reading in readings:
        check_reading(reading, fixture)
