"""The fuzz pass over the native host: its framing and its messages, with the store behind
it (issue 11).

Hypothesis writes the byte stream a browser (or anything else on the host's stdin) could:
frames holding the extension's messages built from every catalog endpoint with hostile
bodies, URLs and times (as in test_fuzz_parsers.py), the same messages with hostile values
in their own fields, JSON that is not a message, bytes that are not UTF-8 or not JSON,
length prefixes that lie, a frame over the host's limit, and an input that stops being
frames (cut inside a prefix or a message, a length no browser sends, random bytes).
`Host.serve` reads it in-process with a real recorder, on SQLite and on PostgreSQL.

What must hold: `serve` returns (0, or 1 once the input is no longer frames) without
raising; every frame gets exactly one reply, in order, and an input that breaks gets one
last error; no message is answered "unavailable" or "failed" (the store is up, so that
would be a call lost); every acknowledged event is in the store, nothing is left in the
journal or quarantined, and nothing stored holds what a store cannot keep.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host.framing import BROWSER_MAX_TO_HOST, LENGTH
from native_host.host import Host
from native_host.messages import MAX_MESSAGE_BYTES
from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.export import is_web_app
from offgate.journal import REJECTED_FILE, waiting_in_journal
from offgate.store import Store
from offgate.store.schema import UsageEventRow
from offgate.writer import QUARANTINE_FILE
from tests.support import postgres
from tests.support.fixture_files import load_fixture
from tests.support.fuzz_strategies import (
    HOSTILE_TEXT,
    PAGE_URL_CHARACTERS,
    RAW_JSON,
    Address,
    addresses,
    dumps,
    endpoints,
    fuzz_settings,
    request_bodies,
    response_bodies,
    session_messages,
    with_hostile_leaves,
)
from tests.support.native_host_process import call_message, frame, hello
from tests.support.storable import unstorable_fields

CATALOG = DEFAULT_CATALOG
HTTP_ENDPOINTS = endpoints(CATALOG, websocket=False)
SESSION_ENDPOINTS = endpoints(CATALOG, websocket=True)
WEB_APP_ORIGINS = sorted(f"https://{host}" for provider in CATALOG.providers if is_web_app(provider)
                         for host in provider.hosts if not host.startswith("*.") and ":" not in host)

# -- messages ----------------------------------------------------------------------------------

ZONES = [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14)), timezone(timedelta(minutes=-570))]
# Times as a browser's clock gives them, and now and then the extremes a broken or hostile
# page could send (no UTC equivalent, no time zone, no time at all).
CLOCK_TIMES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31),
                           timezones=st.sampled_from(ZONES)).map(lambda moment: moment.isoformat())
TIMES = st.one_of(CLOCK_TIMES, CLOCK_TIMES, CLOCK_TIMES,
                  st.sampled_from(["2026-11-29T10:00:00.000Z", "0001-01-01T00:00:00+14:00",
                                   "9999-12-31T23:59:59-14:00", "2026-11-29T10:00:00", "not a time", ""]))
MILLISECONDS = st.one_of(st.none(), st.floats(0, 7 * 24 * 3600 * 1000),
                         st.sampled_from([-1, 7 * 24 * 3600 * 1000 + 1, float("nan"), float("inf")]))
MESSAGE_IDS = st.uuids().map(lambda uuid: uuid.hex)
# A page's URL is percent-encoded by the browser: its query holds ASCII, controls and NUL included.
PAGE_QUERIES = st.dictionaries(st.sampled_from(["model", "deployment", "key"]),
                               st.text(PAGE_URL_CHARACTERS, max_size=20), max_size=2)
MESSAGE_FIELDS = ("type", "id", "transport", "url", "method", "request_body", "status", "response_headers",
                  "response_body", "complete", "started_at", "ttft_ms", "duration_ms", "page_origin", "session",
                  "messages", "closed", "clean", "from_client", "text", "at", "since", "extension_version")


def url_of(scheme: str, address: Address, query: dict[str, str]) -> str:
    port = "" if address.port == 443 else f":{address.port}"
    return f"{scheme}://{address.host}{port}{address.path}" + (
        "?" + "&".join(f"{name}={value}" for name, value in query.items()) if query else "")


def page_text(data: bytes) -> str:
    # What a page hands over is a JS string: undecodable bytes become lone surrogates.
    return data.decode("utf-8", "surrogateescape")


@st.composite
def call_messages(draw: st.DrawFn) -> dict[str, Any]:
    endpoint = draw(st.sampled_from(HTTP_ENDPOINTS))
    body, content_type = draw(response_bodies(CATALOG, endpoint))
    return {
        "type": "call", "id": draw(MESSAGE_IDS), "transport": draw(st.sampled_from(["fetch", "xhr", "eventsource"])),
        "url": url_of("https", draw(addresses(endpoint, PAGE_URL_CHARACTERS)), draw(PAGE_QUERIES)), "method": "POST",
        "request_body": page_text(draw(request_bodies(CATALOG, endpoint))),
        "status": draw(st.sampled_from([200, 200, 0, 400, 429, 500])),
        "response_headers": {"content-type": content_type if draw(st.integers(0, 3)) else draw(HOSTILE_TEXT)},
        "response_body": page_text(body), "complete": draw(st.booleans()), "started_at": draw(TIMES),
        "ttft_ms": draw(MILLISECONDS), "duration_ms": draw(MILLISECONDS),
        "page_origin": draw(st.sampled_from(WEB_APP_ORIGINS)),
    }


@st.composite
def websocket_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One session's messages in one to three batches; the last may close it."""
    endpoint = draw(st.sampled_from(SESSION_ENDPOINTS))
    url = url_of("wss", draw(addresses(endpoint, PAGE_URL_CHARACTERS)), draw(PAGE_QUERIES))
    session, origin = draw(MESSAGE_IDS), draw(st.sampled_from(WEB_APP_ORIGINS))
    at = draw(TIMES)
    messages = [{"from_client": from_client, "text": page_text(content), "at": at}
                for from_client, content in draw(session_messages(CATALOG, endpoint))]
    cuts = sorted(draw(st.lists(st.integers(0, len(messages)), max_size=2)))
    batches = [messages[start:end] for start, end in zip([0, *cuts], [*cuts, len(messages)], strict=True)]
    closed = draw(st.booleans())
    return [{"type": "websocket", "id": draw(MESSAGE_IDS), "session": session, "url": url, "messages": batch,
             "closed": closed and last, "clean": draw(st.booleans()), "page_origin": origin}
            for last, batch in zip([False] * (len(batches) - 1) + [True], batches, strict=True)]


@st.composite
def today_messages(draw: st.DrawFn) -> dict[str, Any]:
    return {"type": "today", "id": draw(MESSAGE_IDS), "since": draw(TIMES)}


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any] | Any]:
    """The extension's messages (a session's batches in a row), sometimes with hostile values
    in their own fields (JSON that is valid but not a valid message)."""
    kind = draw(st.sampled_from(["call", "call", "websocket", "today", "hello"]))
    found: list[Any] = (draw(websocket_batches()) if kind == "websocket" else
                        [draw(call_messages())] if kind == "call" else
                        [draw(today_messages())] if kind == "today" else [hello(draw(MESSAGE_IDS))])
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(found) - 1))
        found[at] = draw(with_hostile_leaves(found[at], MESSAGE_FIELDS))
    return found


# -- frames ------------------------------------------------------------------------------------

NOT_MESSAGES = [b"", b"\xff\xfe", b"\xed\xa0\x80", b'{"type": "hello"', b"[]", b"null", b"1e999", b'"\x00"',
                b'{"type": "hello", "id": "\\ud800", "extension_version": "1"}',
                b'{"type": "hello", "id": "x", "extension_version": "1", "' + b"k" * 2_000_000 + b'": 1}',
                *(raw.text.encode() for raw in RAW_JSON)]


def browser_json(message: Any, raw_utf8: bool) -> bytes:
    """A message as a browser writes it: JSON, non-ASCII characters raw or escaped (lone
    surrogates always escaped: raw, they would not be UTF-8)."""
    if raw_utf8:
        data = dumps(message, ascii_only=False)
        with contextlib.suppress(UnicodeDecodeError):
            data.decode("utf-8")
            return data
    return dumps(message)


def prefix(size: int) -> bytes:
    return LENGTH.pack(size)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """Frames as a browser writes them, or not quite."""
    kind = draw(st.sampled_from(["messages"] * 5 + ["not a message", "lying length"]))
    if kind == "messages":
        return b"".join(frame(browser_json(message, draw(st.booleans()))) for message in draw(messages()))
    body = draw(st.sampled_from(NOT_MESSAGES) | st.binary(max_size=64))
    if kind == "not a message":
        return frame(body)
    return prefix(max(len(body) + draw(st.sampled_from([-3, -1, 1, 3, 2**16])), 0)) + body


# How an input stops being frames, if it does.
ENDINGS = st.one_of(
    st.just(b""),
    st.sampled_from([b"\x05", b"\x05\x00", prefix(100) + b"{}", prefix(BROWSER_MAX_TO_HOST + 1),
                     prefix(MAX_MESSAGE_BYTES + 1)]),
    st.binary(min_size=1, max_size=16),
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    pieces = draw(st.lists(frames(), min_size=1, max_size=4))
    if draw(st.sampled_from([False] * 7 + [True])):  # one message over the limit, skipped unread
        # Its bytes read as a length no browser sends, should a lying length before it misalign the stream.
        oversized = prefix(MAX_MESSAGE_BYTES + 1) + b"\xff" * (MAX_MESSAGE_BYTES + 1)
        pieces.insert(draw(st.integers(0, len(pieces))), oversized)
    return b"".join(pieces) + draw(ENDINGS)


def expected_replies(stream: bytes) -> list[str]:
    """The reply each frame is owed, read off the stream independently of the host: "answer",
    "too_large" (over the host's limit), and a last "broken_stream" when the input stops being
    frames (cut inside a prefix or a message, or a length no browser sends)."""
    owed, at = [], 0
    while at < len(stream):
        if len(stream) - at < LENGTH.size:
            return [*owed, "broken_stream"]
        size = int.from_bytes(stream[at:at + LENGTH.size], sys.byteorder)
        at += LENGTH.size
        if size > BROWSER_MAX_TO_HOST or at + size > len(stream):
            return [*owed, "broken_stream"]
        owed.append("too_large" if size > MAX_MESSAGE_BYTES else "answer")
        at += size
    return owed


def replies_in(output: bytes) -> list[dict[str, Any]]:
    replies, at = [], 0
    while at < len(output):
        (size,) = LENGTH.unpack_from(output, at)
        replies.append(json.loads(output[at + LENGTH.size:at + LENGTH.size + size]))
        at += LENGTH.size + size
    return replies


def answered_as(reply: dict[str, Any]) -> str:
    return reply["error"] if reply["type"] == "error" and reply["error"] in ("too_large", "broken_stream") else "answer"


# -- the host and its store --------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the host's own SQLite store in its home; else a PostgreSQL database for the module."""
    if request.param == "sqlite":
        yield None
        return
    with postgres.fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


def host_home(directory: str, database_url: str | None) -> tuple[Path, str]:
    """A home for one example, and the URL of the store its host writes to (emptied)."""
    home = Path(directory)
    if database_url is None:
        return home, f"sqlite:///{home / 'offgate.db'}"
    (home / "config.toml").write_text(f'database_url = "{database_url}"\n')
    with Store.open(database_url) as store:
        UsageEventRow.delete().execute(store.database)
    return home, database_url


def serve(home: Path, stream: bytes) -> tuple[int, list[dict[str, Any]]]:
    """Run a host on `stream` in this process: its exit status and its replies."""
    output = io.BytesIO()
    status = Host(home).serve(io.BytesIO(stream), output)
    return status, replies_in(output.getvalue())


@fuzz_settings(examples=20)
@given(stream=streams())
def test_the_host_answers_every_frame_once_and_stores_what_it_acknowledges(stream: bytes,
                                                                           database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="offgate-fuzz-host-") as directory:
        home, store_url = host_home(directory, database_url)
        status, replies = serve(home, stream)
        owed = expected_replies(stream)
        assert [answered_as(reply) for reply in replies] == owed
        assert status == (1 if owed[-1:] == ["broken_stream"] else 0)
        unanswered = [reply["message"] for reply in replies if reply.get("error") in ("unavailable", "failed")]
        assert not unanswered, f"the host could not answer: {unanswered}"

        acknowledged = {event_id for reply in replies if reply["type"] == "ack" for event_id in reply["event_ids"]}
        with Store.open(store_url) as store:
            stored = store.events()
        assert acknowledged <= {event.id for event in stored}, "an acknowledged call is not in the store"
        for event in stored:
            assert not unstorable_fields(event), (event.provider, event.endpoint, unstorable_fields(event))
        assert waiting_in_journal(home) == 0
        assert not (home / QUARANTINE_FILE).exists(), (home / QUARANTINE_FILE).read_text(errors="replace")[:2000]
        assert not (home / REJECTED_FILE).exists()


# -- defects the fuzz found --------------------------------------------------------------------


def test_json_nested_deeper_than_the_decoder_goes_is_refused_and_the_host_goes_on(tmp_path: Path) -> None:
    deep = b'{"type": "hello", "id": "deep", "extension_version": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, replies = serve(tmp_path, frame(deep) + frame(hello("next")))
    assert status == 0
    assert [(reply["type"], reply.get("error")) for reply in replies] == [("error", "bad_json"), ("hello", None)]
    assert "nested too deeply" in replies[0]["message"]


EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]  # no UTC time is that early or late


@pytest.mark.parametrize("time", EDGE_TIMES)
@pytest.mark.parametrize("kind", ["today", "call", "websocket"])
def test_a_time_with_no_utc_equivalent_is_refused_naming_the_field(tmp_path: Path, kind: str, time: str) -> None:
    fixture = load_fixture("chatgpt/conversation_delta")
    message, field = {
        "today": ({"type": "today", "id": "t1", "since": time}, "since"),
        "call": (call_message(fixture, started_at=time), "started_at"),
        "websocket": ({"type": "websocket", "id": "w1", "session": "s1", "url": "wss://api.openai.com/v1/realtime",
                       "messages": [{"from_client": True, "text": "{}", "at": time}],
                       "page_origin": "https://chatgpt.com"}, "messages.0.at"),
    }[kind]
    valid = call_message(fixture)
    status, replies = serve(tmp_path, frame(message) + frame(valid))
    assert status == 0
    assert [(reply["type"], reply.get("error")) for reply in replies] == [("error", "invalid_message"), ("ack", None)]
    assert replies[0]["message"].startswith(f"{field}: ")
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        assert [event.id for event in store.events()] == [valid["id"]]


def test_an_error_about_a_huge_field_name_fits_the_browsers_limit(tmp_path: Path) -> None:
    # The reply names the unknown field; a reply over 1 MB would be one the host cannot send.
    unknown = {**hello("big"), "k" * 2_000_000: 1}
    status, replies = serve(tmp_path, frame(unknown) + frame(hello("next")))
    assert status == 0
    assert [(reply["type"], reply.get("error")) for reply in replies] == [("error", "invalid_message"),
                                                                         ("hello", None)]
    assert replies[0]["message"].startswith("kkkk")
    assert len(replies[0]["message"]) <= 300


def test_a_model_name_no_store_can_hold_loses_no_call(tmp_path: Path, database_url: str | None) -> None:
    # The page's JSON can name any model, NUL and lone surrogates included: the call is
    # recorded, and so is every call after it.
    fixture = load_fixture("openai/chat")
    response = fixture.response_body.decode().replace('"gpt-4o-mini-2024-07-18"', '"gpt-4o-mini\\u0000\\ud800"')
    hostile = call_message(fixture, response_body=response, page_origin="https://chatgpt.com")
    after = call_message(fixture, page_origin="https://chatgpt.com")
    home, store_url = host_home(str(tmp_path), database_url)
    status, replies = serve(home, frame(hostile) + frame(after))
    assert status == 0
    assert [reply["type"] for reply in replies] == ["ack", "ack"]
    with Store.open(store_url) as store:
        stored = store.events()
    assert sorted(event.id for event in stored) == sorted([hostile["id"], after["id"]])
    assert all(not unstorable_fields(event) for event in stored)
    assert waiting_in_journal(home) == 0
    assert not (home / QUARANTINE_FILE).exists()
