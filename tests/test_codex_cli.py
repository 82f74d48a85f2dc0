"""The real Codex CLI through the real proxy: it hangs up as soon as it has `response.completed`,
while the server still holds the stream open, and the call is recorded whole, with exact usage.

Codex is installed from the npm registry (the package ships its binary) into a temporary
directory by this module; node and npm come from Debian (`apt-get install nodejs npm`).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.fixture_files import load_fixture
from tests.support.npm_tools import npm_tool
from tests.support.proxy_harness import RunningProxy
from tests.support.upstream import FakeUpstream, Received, Scenario

pytestmark = pytest.mark.e2e

CODEX_PACKAGE = "@openai/codex@0.171.0"
# Codex's own provider settings, but over HTTPS only: the Responses WebSocket would go first.
PROVIDER = {
    "model_provider": '"direct"',
    "model_providers.direct.name": '"OpenAI"',
    "model_providers.direct.base_url": '"https://api.openai.com/v1"',
    "model_providers.direct.wire_api": '"responses"',
    "model_providers.direct.env_key": '"OPENAI_API_KEY"',
    "model_providers.direct.supports_websockets": "false",
}


@pytest.fixture(scope="module")
def codex(tmp_path_factory) -> str:
    """The codex executable, installed from the npm registry."""
    return npm_tool(tmp_path_factory.mktemp("codex"), CODEX_PACKAGE, "codex")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    running = RunningProxy(
        tmp_path_factory.mktemp("home"),
        set_options=[f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"],
    ).start()
    yield running
    running.stop()


def test_codex_hanging_up_after_response_completed_is_a_whole_call(codex, proxy, upstream: FakeUpstream, tmp_path):
    fixture = load_fixture("openai/responses_stream")
    requests: list[Received] = []

    def answer(received: Received) -> Scenario:
        requests.append(received)
        body = fixture.response_body
        # The whole stream, then the connection stays open: only the client can end it.
        return Scenario(headers=fixture.response_headers, chunks=[body[i:i + 200] for i in range(0, len(body), 200)],
                        streamed=True, hold_open=True)

    upstream.responder = answer
    env = {**os.environ, "CODEX_HOME": str(tmp_path), "OPENAI_API_KEY": "sk-test-codex-0123456789",
           "HTTPS_PROXY": proxy.url, "CODEX_CA_CERTIFICATE": str(proxy.ca_file)}
    overrides = [arg for key, value in PROVIDER.items() for arg in ("-c", f"{key}={value}")]
    try:
        run = subprocess.run([codex, "exec", "--skip-git-repo-check", "-m", "gpt-4.1-mini", *overrides, "Say hello."],
                             env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=120)
    finally:
        upstream.responder = None
    assert run.returncode == 0, run.stderr
    assert fixture.expected["completion_text"] in run.stdout

    (sent,) = requests
    assert (sent.method, sent.path) == ("POST", "/v1/responses")
    assert sent.headers["User-Agent"].startswith("codex_exec/0.171.0")
    (event,) = proxy.wait_for_events(lambda e: True)
    usage = fixture.expected["usage"]
    assert (event.endpoint, event.process_name, event.app) == ("responses", "codex", "codex-cli")
    assert (event.parse_status, event.parse_error) == ("ok", None)
    assert (event.model, event.response_id) == (fixture.expected["model"], fixture.expected["response_id"])
    assert (event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (
        usage["prompt_tokens"], usage["completion_tokens"], False)
    assert event.response_bytes == len(fixture.response_body)
