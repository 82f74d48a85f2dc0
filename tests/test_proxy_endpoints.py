"""Every documented endpoint, streaming and not, through the real proxy with a real HTTP
client trusting its CA: the client gets the provider's bytes untouched, and the store
gets one event with exact tokens, LiteLLM's cost, the process and a key fingerprint.
Every WebSocket session likewise, with a real WebSocket client: every message passes
untouched, and each response of the session is its own event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3

import httpx
import pytest
import websockets

from tests.support import postgres
from tests.support.event_checks import API_KEY, check_event, key_headers, sent_with_key, stored_path
from tests.support.fixture_files import (
    Fixture,
    fixture_names,
    load_fixture,
    read_call,
    read_session,
    session_fixture_names,
    timed_session,
)
from tests.support.proxy_harness import RunningProxy, proxying_to
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def proxy(request, tmp_path_factory, upstream):
    """The proxy recording to each backend in turn (PostgreSQL named in config.toml)."""
    home = tmp_path_factory.mktemp("home")
    with contextlib.ExitStack() as cleanup:
        if request.param == "postgresql":
            url = cleanup.enter_context(postgres.fresh_database(request.getfixturevalue("postgres_url")))
            (home / "config.toml").write_text(f'database_url = "{url}"\n')
        yield from _run_proxy(home, upstream)


def _run_proxy(home, upstream):
    yield from proxying_to(home, upstream.port, [f"http://127.0.0.1:{upstream.port}"])


def replay(fixture: Fixture, upstream: FakeUpstream, name: str,
           extra_headers: dict[str, str] | None = None) -> Scenario:
    streamed = fixture.expected["streamed"]
    scenario = Scenario(status=fixture.status, headers={**fixture.response_headers, **(extra_headers or {})},
                        chunks=_pieces(fixture.response_body) if streamed else [fixture.response_body],
                        streamed=streamed)
    upstream.add(name, scenario)
    return scenario


def _pieces(body: bytes, size: int = 97) -> list[bytes]:
    # Odd-sized pieces: events split across chunks, as they are on real networks.
    return [body[i:i + size] for i in range(0, len(body), size)]


def send(client: httpx.Client, url: str, fixture: Fixture, name: str) -> bytes:
    headers = key_headers(fixture, name)
    with client.stream(fixture.method, url, content=fixture.request_body, headers=headers) as response:
        assert response.status_code == fixture.status
        return b"".join(response.iter_raw())


@pytest.mark.parametrize("name", fixture_names())
def test_endpoint_recorded_exactly(proxy, upstream, name):
    check_call(proxy, upstream, load_fixture(name), name)


@pytest.mark.parametrize("name", session_fixture_names())
def test_session_recorded_exactly(proxy, upstream, name):
    check_session(proxy, upstream, load_fixture(name), name)


# Every way an LLM answer is framed on the wire, with a recorded call that shows it and what
# tells that framing apart (the response's content type, or a WebSocket session).
WIRE_FAMILIES = {
    "openai-sse": ("openai/chat_stream_usage", "text/event-stream"),
    "anthropic-sse": ("anthropic/messages_stream", "text/event-stream"),
    "gemini-sse": ("gemini/stream_sse", "text/event-stream"),
    "gemini-json-array": ("gemini/stream_array", "application/json"),
    "bedrock-event-stream": ("bedrock/converse_stream", "application/vnd.amazon.eventstream"),
    "cohere-v1-ndjson": ("cohere/chat_v1_stream", "application/stream+json"),
    "ollama-ndjson": ("ollama/chat_stream", "application/x-ndjson"),
    "chatgpt-delta-encoding": ("chatgpt/conversation_delta", "text/event-stream"),
    "openai-realtime-websocket": ("openai/realtime", "websocket"),
    "openai-responses-websocket": ("openai/responses_websocket", "websocket"),
    "gemini-live-websocket": ("gemini/live", "websocket"),
    "microsoft-copilot-websocket": ("microsoft-copilot/chat", "websocket"),
    "poe-websocket": ("poe/updates", "websocket"),
}


@pytest.mark.parametrize("family", WIRE_FAMILIES)
def test_wire_family_through_the_proxy(proxy, upstream, family):
    name, framing = WIRE_FAMILIES[family]
    assert name in fixture_names() + session_fixture_names(), f"no recorded call shows {family}"
    fixture = load_fixture(name)
    if framing == "websocket":
        assert fixture.websocket
        check_session(proxy, upstream, fixture, f"{name}#{family}")
    else:
        assert fixture.expected["streamed"] and framing in fixture.response_headers["content-type"]
        check_call(proxy, upstream, fixture, f"{name}#{family}")


def check_call(proxy: RunningProxy, upstream: FakeUpstream, fixture: Fixture, name: str) -> None:
    """One HTTP call through the proxy: bytes untouched, one exact event."""
    scenario = replay(fixture, upstream, name)
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
        received = send(client, fixture.url, fixture, name)

    assert received == scenario.body, "the client must get the provider's bytes untouched"
    sent = [r for r in upstream.received if r.headers.get("x-test-scenario") == name]
    assert sent[-1].body == fixture.request_body

    (event,) = proxy.wait_for_events(sent_with_key(proxy, name))
    assert (event.host, event.path) == (fixture.host, stored_path(fixture))
    assert event.request_bytes == len(fixture.request_body)
    assert event.response_bytes == len(fixture.response_body)
    check_event(event, fixture, fixture.expected, read_call(fixture))


def check_session(proxy: RunningProxy, upstream: FakeUpstream, fixture: Fixture, name: str) -> None:
    """One WebSocket session through the proxy: every message untouched both ways, one
    exact event per response, the session's bytes split among them."""
    upstream.add(name, Scenario(status=101, messages=list(fixture.messages)))
    received = asyncio.run(play_session(proxy, fixture, name))

    assert received == [m.content for m in fixture.messages if not m.from_client]
    sent = [r for r in upstream.received if r.headers.get("x-test-scenario") == name]
    assert sent[-1].messages == [m.content for m in fixture.messages if m.from_client]

    readings = fixture.expected["readings"]
    events = proxy.wait_for_events(sent_with_key(proxy, name), count=len(readings))
    assert len(events) == len(readings)
    assert {(e.host, e.path) for e in events} == {(fixture.host, stored_path(fixture))}
    events.sort(key=lambda e: e.ts)
    for event, expected, reading in zip(events, readings, read_session(fixture), strict=True):
        check_event(event, fixture, expected, reading)
    assert [(e.request_bytes, e.response_bytes) for e in events] == bytes_per_response(fixture)


def bytes_per_response(fixture: Fixture) -> list[tuple[int, int]]:
    """(client, server) bytes each response is recorded with: the messages since the one
    that completed the response before it, up to the one that completes it."""
    parts, start = [], 0
    for end, _ in timed_session(fixture):
        between = fixture.messages[start:end]
        parts.append((sum(len(m.content) for m in between if m.from_client),
                      sum(len(m.content) for m in between if not m.from_client)))
        start = end
    return parts


async def play_session(proxy: RunningProxy, fixture: Fixture, name: str) -> list[bytes]:
    """Plays the client's side with the `websockets` package through the proxy (HTTP
    CONNECT, then TLS with the proxy's CA); returns the server's messages as received."""
    headers = key_headers(fixture, name)
    url = "wss://" + fixture.url.removeprefix("https://")
    received = []
    async with websockets.connect(url, proxy=proxy.url, ssl=proxy.ssl_context(), additional_headers=headers,
                                  open_timeout=30) as session:
        for message in fixture.messages:
            if message.from_client:
                await session.send(message.content if message.binary else message.content.decode())
            else:
                answer = await asyncio.wait_for(session.recv(), 30)
                assert isinstance(answer, bytes) == message.binary, "the frame type must pass unchanged"
                received.append(answer if isinstance(answer, bytes) else answer.encode())
    return received


def test_gateway_call_is_recorded_as_gateway(proxy, upstream):
    fixture = load_fixture("openai/chat")
    replay(fixture, upstream, "gateway-chat", {"x-litellm-call-id": "7f1c2a9e-1111-4e2b-9c3d-0123456789ab"})
    gateway_url = f"http://127.0.0.1:{upstream.port}/v1/chat/completions"
    with httpx.Client(proxy=proxy.url, timeout=30) as client:
        send(client, gateway_url, fixture, "gateway-chat")
    (event,) = proxy.wait_for_events(lambda e: e.route == "gateway")
    assert (event.provider, event.endpoint, event.model) == ("litellm", "chat.completions", fixture.expected["model"])
    assert event.litellm_call_id == "7f1c2a9e-1111-4e2b-9c3d-0123456789ab"
    assert event.response_id == fixture.expected["response_id"]
    assert event.prompt_tokens == fixture.expected["usage"]["prompt_tokens"]


def test_api_key_is_never_stored(proxy, upstream):
    assert any(r.headers.get("Authorization", "").startswith(f"Bearer {API_KEY}") for r in upstream.received)
    events = proxy.wait_for_events(lambda e: e.key_fingerprint is not None)
    stored = json.dumps([e.model_dump(mode="json") for e in events])
    # The key in a header, and the keys in WebSocket URLs (Gemini Live's, Copilot's token).
    # Nor any eight characters in a row of the key's end (its start, "0123456789", is in ids
    # elsewhere): a hint keeps three characters after the prefix, and the last four.
    tail = API_KEY.removeprefix("sk-test-0123456789")
    secrets = ["TOPSECRET", "TESTKEY", "TESTTOKEN", *(tail[i:i + 8] for i in range(len(tail) - 7))]
    assert events and not [secret for secret in secrets if secret in stored]
    header_keyed = [e for e in events if e.key_hint and e.key_hint.startswith("sk-")]
    assert header_keyed and {e.key_hint[:9] for e in header_keyed} == {"sk-tes..."}
    database = proxy.home / "offgate.db"
    if database.exists():  # SQLite: not in any byte of the files either
        with sqlite3.connect(database) as db:
            db.execute("PRAGMA wal_checkpoint(FULL)")
        raw = b"".join(p.read_bytes() for p in proxy.home.glob("offgate.db*"))
        assert not [secret for secret in secrets if secret.encode() in raw]


def test_the_tool_is_named_from_its_user_agent(proxy, upstream):
    fixture = load_fixture("anthropic/messages")
    replay(fixture, upstream, "claude-code")
    headers = {**fixture.request_headers, "x-test-scenario": "claude-code",
               "user-agent": "claude-cli/2.1.39 (external, cli)"}
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
        client.post(fixture.url, content=fixture.request_body, headers=headers)
    (event,) = proxy.wait_for_events(lambda e: e.app == "claude-code")
    assert (event.provider, event.model) == ("anthropic", fixture.expected["model"])
