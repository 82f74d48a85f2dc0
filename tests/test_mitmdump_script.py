"""The addon also loads as a plain mitmproxy script: `mitmdump -s interceptor/addon.py`."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from offgate.store import Store
from tests.support.fixture_files import load_fixture
from tests.support.ports import free_port
from tests.support.proxy_harness import wait_listening
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

ADDON = Path(__file__).parent.parent / "interceptor" / "addon.py"


def test_mitmdump_with_the_addon_script_records_calls(tmp_path):
    fixture = load_fixture("anthropic/messages")
    upstream = FakeUpstream().start()
    headers = upstream.add("script", Scenario(headers=fixture.response_headers, chunks=[fixture.response_body]))
    port = free_port()
    mitmdump = Path(sys.executable).parent / "mitmdump"
    proc = subprocess.Popen(
        [str(mitmdump), "-q", "-s", str(ADDON), "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "--set", f"confdir={tmp_path / 'ca'}", "--set", f"offgate_home={tmp_path}",
         "--set", "connection_strategy=lazy",
         "--set", f"map_remote=|^https://api\\.anthropic\\.com/|http://127.0.0.1:{upstream.port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, proc)
        verify = ssl.create_default_context(cafile=str(tmp_path / "ca" / "mitmproxy-ca-cert.pem"))
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=verify, timeout=30) as client:
            response = client.post(fixture.url, content=fixture.request_body,
                                   headers={**fixture.request_headers, **headers})
        assert response.content == fixture.response_body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        upstream.stop()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        (event,) = store.events()
    usage = fixture.expected["usage"]
    assert (event.provider, event.model, event.prompt_tokens, event.completion_tokens) == (
        "anthropic", fixture.expected["model"], usage["prompt_tokens"], usage["completion_tokens"])
