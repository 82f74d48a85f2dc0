"""The addons also load as a plain mitmproxy script: `mitmdump -s interceptor/addon.py`,
with the settings of the home's config.toml as `offgate proxy` has them."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.fixture_files import load_fixture
from tests.support.ports import free_port
from tests.support.proxy_harness import wait_listening
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

ADDON = Path(__file__).parent.parent / "interceptor" / "addon.py"


@contextmanager
def mitmdump(home: Path, *set_options: str) -> Iterator[int]:
    """mitmdump with the addon script, listening on the port it yields; SIGTERM at the end,
    which must stop it cleanly."""
    port = free_port()
    options = [arg for option in set_options for arg in ("--set", option)]
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OFFGATE_")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mitmdump"), "-q", "-s", str(ADDON), "--listen-host", "127.0.0.1",
         "--listen-port", str(port), "--set", f"confdir={home / 'ca'}", "--set", f"offgate_home={home}",
         "--set", "connection_strategy=lazy", *options],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, proc)
        yield port
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()


def stored_events(home: Path) -> list[UsageEvent]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return store.events()


def test_mitmdump_with_the_addon_script_records_calls(tmp_path):
    fixture = load_fixture("anthropic/messages")
    upstream = FakeUpstream().start()
    headers = upstream.add("script", Scenario(headers=fixture.response_headers, chunks=[fixture.response_body]))
    try:
        with mitmdump(tmp_path, f"map_remote=|^https://api\\.anthropic\\.com/|http://127.0.0.1:{upstream.port}/"
                      ) as port:
            verify = ssl.create_default_context(cafile=str(tmp_path / "ca" / "mitmproxy-ca-cert.pem"))
            with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=verify, timeout=30) as client:
                response = client.post(fixture.url, content=fixture.request_body,
                                       headers={**fixture.request_headers, **headers})
            assert response.content == fixture.response_body
    finally:
        upstream.stop()
    (event,) = stored_events(tmp_path)
    usage = fixture.expected["usage"]
    assert (event.provider, event.model, event.prompt_tokens, event.completion_tokens) == (
        "anthropic", fixture.expected["model"], usage["prompt_tokens"], usage["completion_tokens"])
    assert event.route == "direct"


def test_mitmdump_with_gateways_in_config_toml_records_gateway_calls_as_gateway(tmp_path):
    fixture = load_fixture("openai/chat")
    gateway = FakeUpstream().start()
    headers = gateway.add("gateway", Scenario(headers=fixture.response_headers, chunks=[fixture.response_body]))
    (tmp_path / "config.toml").write_text(
        f'[proxy]\ngateways = ["http://127.0.0.1:{gateway.port}"]\n[device]\nname = "build-box-7"\n',
        encoding="utf-8")
    try:
        with mitmdump(tmp_path) as port, httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=30) as client:
            response = client.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions",
                                   content=fixture.request_body, headers={**fixture.request_headers, **headers})
            assert response.content == fixture.response_body
    finally:
        gateway.stop()
    (event,) = stored_events(tmp_path)
    assert (event.route, event.provider, event.model, event.device) == (
        "gateway", "litellm", fixture.expected["model"], "build-box-7")
    assert event.prompt_tokens == fixture.expected["usage"]["prompt_tokens"]
