"""Local model servers through mitmproxy's reverse mode (docs/local-models.md): the client
talks to the proxy's port, the proxy to Ollama's own, and the call is recorded."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.fixture_files import load_fixture
from tests.support.proxy_harness import RunningProxy
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

OLLAMA_PORT = 11434


def test_ollama_through_reverse_mode(tmp_path):
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", OLLAMA_PORT)) == 0:
            pytest.fail(f"port {OLLAMA_PORT} is taken: this test plays Ollama there")
    fixture = load_fixture("ollama/chat_stream")
    ollama = FakeUpstream(port=OLLAMA_PORT).start()
    proxy = None
    try:
        ollama.responder = lambda received: Scenario(headers=fixture.response_headers,
                                                     chunks=[fixture.response_body], streamed=True)
        proxy = RunningProxy(tmp_path, set_options=[f"mode=reverse:http://127.0.0.1:{OLLAMA_PORT}"]).start()
        with httpx.Client(timeout=30) as client:  # straight to the proxy: it is the server here
            response = client.post(f"http://127.0.0.1:{proxy.port}{fixture.path}", content=fixture.request_body,
                                   headers=fixture.request_headers)
        assert response.content == fixture.response_body
        (event,) = proxy.wait_for_events(lambda e: e.provider == "ollama")
    finally:
        if proxy is not None:
            proxy.stop()
        ollama.stop()
    usage = fixture.expected["usage"]
    assert (event.model, event.streamed, event.parse_status) == (fixture.expected["model"], True, "ok")
    assert (event.prompt_tokens, event.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
