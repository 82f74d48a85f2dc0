"""Broken traffic through the real proxy: the client gets exactly the bytes a direct call
gets, and the call is still recorded, as "partial" or "unparsed"."""

from __future__ import annotations

import asyncio
import gzip
import json

import httpx
import pytest
import websockets

from tests.support.proxy_harness import RunningProxy
from tests.support.upstream import FakeUpstream, Scenario, WebSocketMessage

pytestmark = pytest.mark.e2e

CHAT_PATH = "/v1/chat/completions"
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def chat_request(stream: bool) -> bytes:
    return json.dumps({"model": "gpt-4o-mini", "stream": stream,
                       "messages": [{"role": "user", "content": "Say hello in five words."}]}).encode()


def sse_chunks(words: list[str]) -> list[bytes]:
    chunks = []
    for word in words:
        delta = {"id": "chatcmpl-broken1", "object": "chat.completion.chunk", "created": 1,
                 "model": "gpt-4o-mini-2024-07-18",
                 "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
        chunks.append(b"data: " + json.dumps(delta).encode() + b"\n\n")
    chunks.append(b"data: [DONE]\n\n")
    return chunks


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    home = tmp_path_factory.mktemp("home")
    running = RunningProxy(home, set_options=[f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"]).start()
    yield running
    running.stop()


def call_both_ways(proxy: RunningProxy, upstream: FakeUpstream, name: str, scenario: Scenario,
                   body: bytes, request_headers: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """The raw response bytes of the same request sent directly and through the proxy."""
    headers = {**upstream.add(name, scenario), "content-type": "application/json", **(request_headers or {})}
    results = []
    for client, base in (
        (httpx.Client(timeout=60), f"http://127.0.0.1:{upstream.port}"),
        (httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=60), "https://api.openai.com"),
    ):
        with client, client.stream("POST", base + CHAT_PATH, content=body, headers=headers) as response:
            try:
                results.append(b"".join(response.iter_raw()))
            except httpx.RemoteProtocolError:
                results.append(b"<connection closed>")
    return results[0], results[1]


def latest_event(proxy: RunningProxy, before: int):
    found = proxy.wait_for_events(lambda e: True, count=before + 1)
    assert len(found) == before + 1, f"expected a new event, have {len(found)}"
    return max(found, key=lambda e: e.ts)


def count_events(proxy: RunningProxy) -> int:
    store = proxy.store()
    try:
        return store.count()
    finally:
        store.close()


def test_invalid_json_response_is_recorded_unparsed(proxy, upstream):
    before = count_events(proxy)
    scenario = Scenario(headers=JSON, chunks=[b'{"id": "chatcmpl-x", "usage": {"prompt_tok'])
    direct, proxied = call_both_ways(proxy, upstream, "bad-json", scenario, chat_request(False))
    assert proxied == direct == scenario.body
    event = latest_event(proxy, before)
    assert event.parse_status == "partial"  # the model came from the request
    assert event.model == "gpt-4o-mini"
    assert "invalid JSON" in event.parse_error
    assert event.tokens_estimated is True  # prompt text was read from the request


def test_truncated_stream_is_partial_with_estimate(proxy, upstream):
    before = count_events(proxy)
    chunks = sse_chunks(["Hello", " there", ",", " friend", "!"])
    scenario = Scenario(headers=SSE, chunks=chunks, streamed=True, cut_after=3)
    direct, proxied = call_both_ways(proxy, upstream, "truncated", scenario, chat_request(True))
    assert proxied == direct
    event = latest_event(proxy, before)
    assert event.parse_status == "partial"
    assert event.streamed is True
    assert event.tokens_estimated is True
    assert event.completion_tokens == 3  # "Hello", " there", "," in o200k_base


def test_lying_content_encoding(proxy, upstream):
    before = count_events(proxy)
    body = json.dumps({"id": "chatcmpl-lie", "object": "chat.completion", "model": "gpt-4o-mini",
                       "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}).encode()
    scenario = Scenario(headers={**JSON, "content-encoding": "gzip"}, chunks=[body])
    direct, proxied = call_both_ways(proxy, upstream, "lying-encoding", scenario, chat_request(False))
    assert proxied == direct == body
    event = latest_event(proxy, before)
    assert event.parse_status == "partial"
    assert "gzip" in event.parse_error


def test_gzip_response_is_read(proxy, upstream):
    before = count_events(proxy)
    body = json.dumps({"id": "chatcmpl-gz", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
                       "usage": {"prompt_tokens": 14, "completion_tokens": 2, "total_tokens": 16}}).encode()
    scenario = Scenario(headers={**JSON, "content-encoding": "gzip"}, chunks=[gzip.compress(body)])
    direct, proxied = call_both_ways(proxy, upstream, "gzip", scenario, chat_request(False))
    assert proxied == direct == scenario.body
    event = latest_event(proxy, before)
    assert (event.parse_status, event.prompt_tokens, event.completion_tokens) == ("ok", 14, 2)
    assert event.response_id == "chatcmpl-gz"
    assert event.tokens_estimated is False


def test_server_error_passes_through(proxy, upstream):
    before = count_events(proxy)
    body = b'{"error": {"message": "The server had an error", "type": "server_error"}}'
    scenario = Scenario(status=503, headers=JSON, chunks=[body])
    direct, proxied = call_both_ways(proxy, upstream, "5xx", scenario, chat_request(False))
    assert proxied == direct == body
    event = latest_event(proxy, before)
    assert (event.status_code, event.parse_status) == (503, "partial")
    assert event.prompt_tokens is None and event.cost_usd is None
    assert event.cost_note == "no usage: upstream answered 503"


def test_client_hanging_up_mid_stream(proxy, upstream):
    before = count_events(proxy)
    chunks = sse_chunks(["word"] * 50)
    upstream.add("hangup", Scenario(headers=SSE, chunks=chunks, streamed=True, chunk_delay=0.05))
    client = httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30)
    with client, client.stream("POST", "https://api.openai.com" + CHAT_PATH, content=chat_request(True),
                               headers={"x-test-scenario": "hangup", "content-type": "application/json"}) as response:
        first = next(response.iter_raw())
        assert first.startswith(b"data: ")
    # The client closed the stream after the first chunk: the call is still recorded.
    event = latest_event(proxy, before)
    assert event.parse_status == "partial"
    assert event.streamed is True
    assert event.response_bytes < len(b"".join(chunks))


def test_fifty_megabyte_body(proxy, upstream):
    before = count_events(proxy)
    big = b"data: " + b"x" * (50 * 1024 * 1024) + b"\n\n"
    scenario = Scenario(headers=SSE, chunks=[big[i:i + 65536] for i in range(0, len(big), 65536)], streamed=True)
    direct, proxied = call_both_ways(proxy, upstream, "50mb", scenario, chat_request(True))
    assert proxied == direct
    assert len(proxied) == len(big)
    event = latest_event(proxy, before)
    assert event.response_bytes == len(big)
    assert event.parse_status == "partial"
    assert "exceeds" in event.parse_error


# -- WebSocket sessions ------------------------------------------------------------------------

REALTIME_URL = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
ANSWER = [
    WebSocketMessage(True, False, b'{"type":"response.create"}'),
    WebSocketMessage(False, False, b'{"type":"response.created","response":{"id":"resp_B1","status":"in_progress"}}'),
    WebSocketMessage(False, False, b'{"type":"response.output_text.delta","response_id":"resp_B1","delta":"Hello"}'),
    WebSocketMessage(False, False, b'{"type":"response.done","response":{"id":"resp_B1","status":"completed",'
                                   b'"usage":{"input_tokens":12,"output_tokens":1}}}'),
]


async def play(proxy: RunningProxy, name: str, messages: list[WebSocketMessage]) -> list[bytes | str]:
    """The client's side of a session through the proxy; what it received, until the end or a drop."""
    received: list[bytes | str] = []
    async with websockets.connect(REALTIME_URL, proxy=proxy.url, ssl=proxy.ssl_context(),
                                  additional_headers={"x-test-scenario": name}) as session:
        try:
            for message in messages:
                if message.from_client:
                    await session.send(message.content if message.binary else message.content.decode())
                else:
                    received.append(await asyncio.wait_for(session.recv(), 30))
        except websockets.ConnectionClosed:
            pass  # the upstream dropped the connection (mitmproxy closes the client's side)
    return received


def as_sent(messages: list[WebSocketMessage]) -> list[bytes | str]:
    return [m.content if m.binary else m.content.decode() for m in messages if not m.from_client]


def test_junk_messages_pass_untouched_and_the_answer_is_still_recorded(proxy, upstream):
    before = count_events(proxy)
    junk = [WebSocketMessage(False, True, b"\x00\xffnot json at all"), WebSocketMessage(False, False, b"{")]
    messages = [*ANSWER[:2], *junk, *ANSWER[2:]]
    upstream.add("ws-junk", Scenario(status=101, messages=messages))
    assert asyncio.run(play(proxy, "ws-junk", messages)) == as_sent(messages)
    event = latest_event(proxy, before)
    assert (event.endpoint, event.response_id, event.prompt_tokens, event.completion_tokens) == (
        "realtime", "resp_B1", 12, 1)
    assert event.parse_status == "partial" and "message: " in event.parse_error


def test_session_dropped_mid_answer_is_recorded_as_cut_off(proxy, upstream):
    before = count_events(proxy)
    messages = [*ANSWER, *ANSWER[:3]]  # a second answer, dropped after its first delta
    script = [*messages, ANSWER[3]]  # the last message is never sent: the connection drops
    upstream.add("ws-drop", Scenario(status=101, messages=script, cut_after=len(messages)))
    assert asyncio.run(play(proxy, "ws-drop", script)) == as_sent(messages)
    found = proxy.wait_for_events(lambda e: True, count=before + 2)
    done, dropped = sorted(found, key=lambda e: e.ts)[-2:]
    assert (done.parse_status, done.prompt_tokens) == ("ok", 12)
    assert (dropped.parse_status, dropped.parse_error) == ("partial", "session ended before the response completed")
    assert dropped.tokens_estimated is True and dropped.completion_tokens == 1  # "Hello"


def test_refused_handshake_is_an_ordinary_call(proxy, upstream):
    before = count_events(proxy)
    body = b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}'
    upstream.add("ws-401", Scenario(status=401, headers=JSON, chunks=[body]))
    with pytest.raises(websockets.InvalidStatus):
        asyncio.run(play(proxy, "ws-401", []))
    event = latest_event(proxy, before)
    assert (event.endpoint, event.status_code, event.parse_status) == ("realtime", 401, "partial")
    assert event.prompt_tokens is None and event.cost_usd is None
