"""Every documented endpoint, streaming and not, through the real proxy with a real HTTP
client trusting its CA: the client gets the provider's bytes untouched, and the store
gets one event with exact tokens, LiteLLM's cost, the process and a key fingerprint.
Every WebSocket session likewise, with a real WebSocket client: every message passes
untouched, and each response of the session is its own event."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import sqlite3
from collections.abc import Callable

import httpx
import psutil
import pytest
import websockets

from offgate import tokens
from offgate.catalog import DEFAULT_CATALOG, app_models
from offgate.catalog.base import Reading
from offgate.events import UsageEvent
from offgate.fingerprint import key_fingerprint, load_salt, path_without_keys
from offgate.pricing import price_map
from tests import postgres
from tests.fixtures import (
    Fixture,
    fixture_names,
    load_fixture,
    read_call,
    read_session,
    session_fixture_names,
    timed_session,
)
from tests.litellm_reference import litellm_cost, litellm_token_count
from tests.proxy_harness import RunningProxy
from tests.upstream import FakeUpstream, Scenario

API_KEY = "sk-test-0123456789abcdefTOPSECRET"
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
                "audio_prompt_tokens", "audio_completion_tokens")
# LiteLLM's price-map prefix of each provider's models, where it is not "<provider>/".
PRICE_PREFIX = {"openai": "", "anthropic": "", "litellm": "", "vertex": "vertex_ai/", "together": "together_ai/",
                "fireworks": "fireworks_ai/"}


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
    running = RunningProxy(
        home,
        gateways=[f"http://127.0.0.1:{upstream.port}"],
        set_options=[f"map_remote=|^https://[^/]+/|http://127.0.0.1:{upstream.port}/"],
    ).start()
    yield running
    running.stop()


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


def key_headers(fixture: Fixture, name: str) -> dict[str, str]:
    """The fixture's headers, the scenario's name and an API key of the call's own."""
    return {**fixture.request_headers, "x-test-scenario": name, "authorization": f"Bearer {API_KEY}-{name}"}


def sent_with_key(proxy: RunningProxy, name: str) -> Callable[[UsageEvent], bool]:
    """Picks the events of the call `name` by the fingerprint of its key."""
    fingerprint = key_fingerprint(f"{API_KEY}-{name}", load_salt(proxy.home))
    return lambda event: event.key_fingerprint == fingerprint


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


def stored_path(fixture: Fixture) -> str:
    """The path as the event keeps it: with the query, less any key in it."""
    return path_without_keys(fixture.path + (f"?{fixture.query}" if fixture.query else ""))


def check_event(event: UsageEvent, fixture: Fixture, expected: dict, reading: Reading) -> None:
    """An event against what the fixture expects: its facts, its tokens (reported, or
    estimated offline the way LiteLLM counts them) and LiteLLM's cost for those tokens."""
    provider, model = fixture.expected["provider"], expected["model"]
    assert (event.provider, event.endpoint, event.route) == (provider, fixture.expected["endpoint"], "direct")
    assert (event.model, event.streamed, event.response_id) == (model, expected["streamed"], expected["response_id"])
    assert (event.parse_status, event.parse_error) == (expected["status"], expected["error"])
    assert (event.source, event.method, event.status_code) == ("proxy", fixture.method, fixture.status)
    assert event.duration_ms is not None and event.ttft_ms is not None and event.ttft_ms <= event.duration_ms
    me = psutil.Process()
    assert (event.pid, event.process_name, event.exe) == (os.getpid(), me.name(), me.exe())
    assert event.user == getpass.getuser()

    reported = expected["usage"] or dict.fromkeys(USAGE_FIELDS)
    # A subscription app's call is priced (and its text tokenized) as the API model it stands for.
    api = app_models.api_model(provider, model)
    priced_as = (api.provider, api.model) if api else (provider, model)
    counted_only = DEFAULT_CATALOG.lookup(fixture.host, fixture.port, fixture.path,
                                          websocket=fixture.websocket).usage == "counted"
    missing = reported["prompt_tokens"] is None or reported["completion_tokens"] is None
    if fixture.status >= 400 or counted_only or (missing and not reading.prompt_texts
                                                  and not reading.completion_texts):
        # Nothing billed, or nothing to count: no tokens are made up.
        assert (event.prompt_tokens, event.completion_tokens) == (
            (None, None) if fixture.status >= 400 else (reported["prompt_tokens"], reported["completion_tokens"]))
        assert event.tokens_estimated is False and event.cost_usd is None
        return
    # What the response did not report is estimated offline from the text the catalog read.
    completion = reported["completion_tokens"]
    if completion is None:
        completion = tokens.count_text(priced_as[1], expected["completion_text"])
    prompt = reported["prompt_tokens"]
    if prompt is None:
        prompt = prompt_estimate(fixture, priced_as[1], reading, completion)
    assert event.tokens_estimated is missing
    assert [getattr(event, field) for field in USAGE_FIELDS] == [prompt, completion, *(
        reported[field] for field in USAGE_FIELDS[2:])]
    check_cost(event, *priced_as, prompt, completion, reported["cached_tokens"], reported["cache_write_tokens"],
               reported["reasoning_tokens"],
               audio=(reported["audio_prompt_tokens"], reported["audio_completion_tokens"]))


def prompt_estimate(fixture: Fixture, model: str | None, reading: Reading, completion: int) -> int:
    """What the reply leaves of the conversation's size when the app reports that; else
    LiteLLM's own count where it reads the request (chat messages), else tiktoken's count
    of the prompt text the catalog read, with the chat overhead per message."""
    if reading.context_tokens is not None:
        return max(reading.context_tokens - completion, 0)
    try:
        request = json.loads(fixture.request_body) if fixture.request_body else {}
    except ValueError:  # a form or multipart body
        request = {}
    messages = request.get("messages") if isinstance(request, dict) else None
    if model and isinstance(messages, list) and all(isinstance(m.get("content"), str) for m in messages):
        return litellm_token_count(model, messages=messages)
    return tokens.estimate_prompt(model, reading.prompt_texts, reading.prompt_messages)


def check_cost(event: UsageEvent, provider: str | None, model: str | None, *counts: int | None,
               audio: tuple[int | None, int | None] = (None, None)) -> None:
    """The event's cost is LiteLLM's for the key LiteLLM's price map gives the model: under
    its provider ("groq/openai/gpt-oss-120b"), else bare ("command-r-08-2024"), else without
    a namespace of its own ("google/gemini-2.5-flash" on Vertex). A call whose model has no
    price (or is unknown) has none."""
    prefix = PRICE_PREFIX.get(provider, f"{provider}/") if provider else ""
    names = [model, model.split("/", 1)[1]] if model and "/" in model else [model] if model else []
    key = next((k for name in names for k in (prefix + name, name) if k in price_map()), None)
    if key is None:
        assert event.cost_usd is None, f"{model!r} has no price under {provider!r}, yet cost {event.cost_usd}"
        return
    assert event.cost_usd == pytest.approx(
        litellm_cost(key, *counts, audio_prompt=audio[0], audio_completion=audio[1]), rel=1e-9)
    assert event.cost_usd > 0


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
    secrets = ["TOPSECRET", "TESTKEY", "TESTTOKEN"]
    assert events and not [secret for secret in secrets if secret in stored]
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
