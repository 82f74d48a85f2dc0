"""A client that refuses offgate's certificate, through the real proxy.

curl trusting only its own CA bundle (as certifi users and Node without NODE_EXTRA_CA_CERTS
do) fails its first call to a catalog host, as it would with plain mitmproxy. Its next
connections to that host pass through untouched to the server, which has a certificate of
its own from a throw-away CA that curl trusts, and they are counted: the store, `offgate
status` and the report say how many connections from curl could not be read. A client that
trusts offgate's CA (this test process, with httpx) is still decrypted and recorded.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from mitmproxy import certs
from typer.testing import CliRunner

from offgate.cli import app
from offgate.store.unread import UnreadConnectionStore
from tests.support.proxy_harness import RunningProxy
from tests.support.required import unavailable
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

HOST = "api.openai.com"
CHAT = {"id": "chatcmpl-fallback1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}
REQUEST = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi."}]})
CURL_EXIT_CERTIFICATE_PROBLEM = 60
SENTENCE = f"3 connections from curl to {HOST} could not be read (certificate not trusted or pinned)"


@pytest.fixture(scope="module")
def upstream_ca(tmp_path_factory) -> Path:
    """A throw-away CA of the fake provider's own; returns its directory."""
    return tmp_path_factory.mktemp("upstream-ca")


@pytest.fixture(scope="module")
def tls_upstream(upstream_ca):
    """The fake provider serving HTTPS as api.openai.com (and 127.0.0.1) with the throw-away CA's certificate."""
    store = certs.CertStore.from_store(upstream_ca, "upstream", 2048)
    entry = store.get_cert(HOST, [HOST, "127.0.0.1"])
    key = entry.privatekey.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption())
    (upstream_ca / "server.pem").write_bytes(entry.cert.to_pem() + key)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(upstream_ca / "server.pem")
    fake = FakeUpstream(ssl_context=server_ctx).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, tls_upstream, upstream_ca):
    running = RunningProxy(tmp_path_factory.mktemp("home"), set_options=[
        # The decrypted client's calls go on to the fake provider, whose CA mitmproxy trusts.
        f"map_remote=|^https://api\\.openai\\.com/|https://127.0.0.1:{tls_upstream.port}/",
        f"ssl_verify_upstream_trusted_ca={upstream_ca / 'upstream-ca-cert.pem'}",
    ]).start()
    yield running
    running.stop()


def curl(proxy: RunningProxy, upstream: FakeUpstream, ca_bundle: Path, scenario: str) -> subprocess.CompletedProcess:
    """curl trusting only `ca_bundle`, through the proxy; the tunnel goes to the fake provider."""
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "20", "--proxy", proxy.url,
         "--cacert", str(ca_bundle), "--connect-to", f"{HOST}:443:127.0.0.1:{upstream.port}",
         "--header", "content-type: application/json", "--header", f"x-test-scenario: {scenario}",
         "--data", REQUEST, f"https://{HOST}/v1/chat/completions"],
        capture_output=True, text=True, timeout=60)


def unread_counts(proxy: RunningProxy, connections: int, timeout: float = 20.0) -> list[dict]:
    """The store's unread connections once they add up to `connections` (written every few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        with proxy.store() as store:
            found = UnreadConnectionStore(store).by_process_and_host()
        if sum(e["connections"] for e in found) >= connections or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_client_refusing_the_certificate_is_passed_through_and_counted(proxy, tls_upstream, upstream_ca):
    if shutil.which("curl") is None:
        unavailable("curl is not installed", "the TLS fallback test needs curl: apt-get install curl")
    answer = Scenario(headers={"content-type": "application/json"}, chunks=[json.dumps(CHAT).encode()])
    own_bundle = upstream_ca / "upstream-ca-cert.pem"

    # The first call fails as it would with plain mitmproxy: curl sees offgate's certificate.
    first = curl(proxy, tls_upstream, own_bundle, "refused")
    assert first.returncode == CURL_EXIT_CERTIFICATE_PROBLEM, first.stderr
    assert not [r for r in tls_upstream.received if r.headers.get("x-test-scenario") == "refused"]

    # Then curl's connections to the host pass through untouched: the provider's own certificate.
    for scenario in ("passed-1", "passed-2"):
        tls_upstream.add(scenario, answer)
        passed = curl(proxy, tls_upstream, own_bundle, scenario)
        assert passed.returncode == 0, passed.stderr
        assert json.loads(passed.stdout) == CHAT
        (received,) = [r for r in tls_upstream.received if r.headers.get("x-test-scenario") == scenario]
        assert received.body == REQUEST.encode()

    # A client that trusts offgate's CA is still decrypted and recorded.
    tls_upstream.add("decrypted", answer)
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
        response = client.post(f"https://{HOST}/v1/chat/completions", content=REQUEST,
                               headers={"content-type": "application/json", "x-test-scenario": "decrypted"})
    assert response.json() == CHAT
    (event,) = proxy.wait_for_events(lambda e: True)
    assert (event.host, event.response_id, event.prompt_tokens, event.completion_tokens) == (
        HOST, "chatcmpl-fallback1", 9, 1)
    assert event.process_name != "curl"

    (unread,) = unread_counts(proxy, 3)
    assert (unread["process"], unread["host"], unread["handshakes_failed"], unread["passed_through"]) == (
        "curl", HOST, 1, 2)
    assert unread["message"] == SENTENCE

    runner = CliRunner(env={"COLUMNS": "200"})
    status = runner.invoke(app, ["--home", str(proxy.home), "status"], catch_exceptions=False)
    assert f"           {SENTENCE}; last at " in status.output
    report = runner.invoke(app, ["--home", str(proxy.home), "report", "--since", "1h"], catch_exceptions=False)
    assert f"Connections offgate could not read:\n  {SENTENCE}\n" in report.output
