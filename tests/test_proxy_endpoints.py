"""Every documented endpoint, streaming and not, through the real proxy with a real HTTP
client trusting its CA: the client gets the provider's bytes untouched, and the store
gets one event with exact tokens, LiteLLM's cost, the process and a key fingerprint."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sqlite3

import httpx
import psutil
import pytest

from tests import postgres
from tests.fixtures import Fixture, fixture_names, load_fixture
from tests.litellm_reference import litellm_cost, litellm_token_count
from tests.proxy_harness import RunningProxy
from tests.upstream import FakeUpstream, Scenario

API_KEY = "sk-test-0123456789abcdefTOPSECRET"
PRICE_PREFIX = {"openai": "", "azure": "azure/", "anthropic": "", "gemini": "gemini/", "litellm": ""}


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


def send(client: httpx.Client, url: str, fixture: Fixture, name: str) -> bytes:
    headers = {**fixture.request_headers, "x-test-scenario": name, "authorization": f"Bearer {API_KEY}"}
    with client.stream(fixture.method, url, content=fixture.request_body, headers=headers) as response:
        assert response.status_code == fixture.status
        return b"".join(response.iter_raw())


@pytest.mark.parametrize("name", fixture_names())
def test_endpoint_recorded_exactly(proxy, upstream, name):
    fixture = load_fixture(name)
    scenario = replay(fixture, upstream, name)
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
        received = send(client, fixture.url, fixture, name)

    assert received == scenario.body, "the client must get the provider's bytes untouched"
    sent = [r for r in upstream.received if r.headers.get("x-test-scenario") == name]
    assert sent[-1].body == fixture.request_body

    (event,) = proxy.wait_for_events(lambda e: e.host == fixture.host and e.path == fixture.path
                                     + (f"?{fixture.query}" if fixture.query else "")
                                     and e.response_id == fixture.expected["response_id"]
                                     and e.status_code == fixture.status)
    expected = fixture.expected
    assert (event.provider, event.endpoint, event.route) == (expected["provider"], expected["endpoint"], "direct")
    assert (event.model, event.streamed) == (expected["model"], expected["streamed"])
    assert event.parse_status == expected["status"]
    assert (event.source, event.method, event.status_code) == ("proxy", fixture.method, fixture.status)
    assert event.request_bytes == len(fixture.request_body)
    assert event.response_bytes == len(fixture.response_body)
    assert event.duration_ms is not None and event.ttft_ms is not None and event.ttft_ms <= event.duration_ms

    usage = expected["usage"]
    if fixture.status >= 400:
        assert event.prompt_tokens is None and event.cost_usd is None
    elif usage is None:
        # No usage reported: estimated offline, as LiteLLM's own token counter does.
        assert event.tokens_estimated is True
        request = json.loads(fixture.request_body)
        assert event.prompt_tokens == litellm_token_count(expected["model"], messages=request["messages"])
        assert event.completion_tokens == litellm_token_count(expected["model"], text=expected["completion_text"])
        assert event.cost_usd == pytest.approx(
            litellm_cost(event.model, event.prompt_tokens, event.completion_tokens), rel=1e-9)
    else:
        assert event.tokens_estimated is False
        assert (event.prompt_tokens, event.completion_tokens, event.cached_tokens,
                event.cache_write_tokens, event.reasoning_tokens) == (
            usage["prompt_tokens"], usage["completion_tokens"], usage["cached_tokens"],
            usage["cache_write_tokens"], usage["reasoning_tokens"])
        reference = litellm_cost(PRICE_PREFIX[event.provider] + event.model, usage["prompt_tokens"],
                                 usage["completion_tokens"], usage["cached_tokens"], usage["cache_write_tokens"],
                                 usage["reasoning_tokens"])
        assert event.cost_usd == pytest.approx(reference, rel=1e-9)
        assert event.cost_usd > 0

    me = psutil.Process()
    assert (event.pid, event.process_name, event.exe) == (os.getpid(), me.name(), me.exe())
    assert event.user == getpass.getuser()
    assert event.key_fingerprint is not None and len(event.key_fingerprint) == 12


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
    assert any(r.headers.get("Authorization") == f"Bearer {API_KEY}" for r in upstream.received)
    events = proxy.wait_for_events(lambda e: e.key_fingerprint is not None)
    assert events and "TOPSECRET" not in json.dumps([e.model_dump(mode="json") for e in events])
    database = proxy.home / "offgate.db"
    if database.exists():  # SQLite: not in any byte of the files either
        with sqlite3.connect(database) as db:
            db.execute("PRAGMA wal_checkpoint(FULL)")
        raw = b"".join(p.read_bytes() for p in proxy.home.glob("offgate.db*"))
        assert b"TOPSECRET" not in raw


def test_the_tool_is_named_from_its_user_agent(proxy, upstream):
    fixture = load_fixture("anthropic/messages")
    replay(fixture, upstream, "claude-code")
    headers = {**fixture.request_headers, "x-test-scenario": "claude-code",
               "user-agent": "claude-cli/2.1.39 (external, cli)"}
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
        client.post(fixture.url, content=fixture.request_body, headers=headers)
    (event,) = proxy.wait_for_events(lambda e: e.app == "claude-code")
    assert (event.provider, event.model) == ("anthropic", fixture.expected["model"])
