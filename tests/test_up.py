"""`offgate up` as a user runs it: one process with the interceptor, the watcher and the
dashboard. A call through its proxy shows up in the dashboard's feed, the watcher raises the
first-seen alert and posts it to a webhook, the export sends it to an OTLP receiver, the PAC
file names the LLM hosts, and SIGTERM stops everything cleanly with every call written."""

from __future__ import annotations

import os
import pty
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from offgate.demo.provider import provider_app
from offgate.demo.threaded_server import ThreadedServer
from offgate.events import UsageEvent
from tests.support.notify_receivers import WebhookReceiver
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

DEADLINE_S = 90


@pytest.fixture
def provider() -> Iterator[int]:
    server = ThreadedServer()
    yield server.serve(provider_app())
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.stop()


def test_up_runs_the_proxy_the_watcher_and_the_dashboard_and_stops_cleanly(
        tmp_path: Path, provider: int, receiver: WebhookReceiver, otlp: OtlpReceiver) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        "[notify]\nmin_severity = \"info\"\ndesktop = false\n"
        f"[notify.webhook]\nurl = \"{receiver.url('hook')}\"\n"
        f"[export]\notlp_endpoint = \"{otlp.endpoint}\"\ninterval = \"1s\"\n", encoding="utf-8")
    environment = _without_offgate_settings(tmp_path)
    # Three weeks of history with Anthropic only: the first OpenAI call is news.
    history = tmp_path / "history.jsonl"
    history.write_text(UsageEvent(ts=datetime.now(UTC) - timedelta(days=21), provider="anthropic",
                                  host="api.anthropic.com", path="/v1/messages", model="claude-sonnet-4-5",
                                  prompt_tokens=10, completion_tokens=5).model_dump_json() + "\n")
    subprocess.run([sys.executable, "-m", "offgate", "--home", str(home), "events", "import", str(history)],
                   env=environment, check=True, capture_output=True)
    proxy_port, dashboard_port = free_port(), free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "offgate", "--home", str(home), "up", "--listen-port", str(proxy_port),
         "--dashboard-port", str(dashboard_port), "--interval", "1s", "--set", "connection_strategy=lazy",
         "--set", f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{provider}/"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        token_file = home / "dashboard-token"
        wait_for(lambda: token_file.exists() and _get(dashboard + "/api/summary", token_file.read_text().strip()),
                 "the dashboard to answer", up)
        token = token_file.read_text().strip()

        trusting_the_ca = ssl.create_default_context(cafile=home / "ca" / "mitmproxy-ca-cert.pem")
        with httpx.Client(proxy=f"http://127.0.0.1:{proxy_port}", verify=trusting_the_ca, timeout=30) as client:
            answer = client.post("https://api.openai.com/v1/chat/completions",
                                 headers={"authorization": "Bearer sk-someones-own"},
                                 json={"model": "gpt-4o-mini", "max_tokens": 30,
                                       "messages": [{"role": "user", "content": "hello there"}]})
        assert answer.status_code == 200

        calls = wait_for(lambda: _get(dashboard + "/api/calls?limit=5", token), "the call in the live feed", up,
                         accept=lambda found: len(found["calls"]) == 2)["calls"]  # newest first
        assert (calls[0]["provider"], calls[0]["model"], calls[0]["completion_tokens"]) == ("openai", "gpt-4o-mini", 30)

        # The call is news several ways (its provider, its key, ...): one post per alert, one
        # after another, so the provider's may come after another's.
        wait_for(lambda: receiver.delivered("hook"), "the watcher's webhook post about openai", up,
                 accept=lambda posted: ("first_seen", "provider", "openai") in {
                     (alert["kind"], alert["dimension"], alert["entity"]) for alert in posted})
        # The imported history and the call, each once, as OTLP log records.
        exported = wait_for(lambda: otlp.logs, "the export of both records", up, accept=lambda logs: len(logs) >= 2)
        assert sorted(log.attributes["gen_ai.provider.name"] for log in exported) == ["anthropic", "openai"]
        assert [log.attributes["gen_ai.usage.output_tokens"] for log in exported
                if log.attributes["gen_ai.provider.name"] == "openai"] == [30]
        pac = httpx.get(dashboard + "/proxy.pac").text
        assert '"api.openai.com"' in pac and f"PROXY 127.0.0.1:{proxy_port}" in pac
    finally:
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    for line in (f"proxy:      http://127.0.0.1:{proxy_port}",
                 f"dashboard:  {dashboard}/  (log in with the token in {token_file})",
                 "watcher:    every 1s",
                 "scan:       the coding agents' usage logs, AI apps and shell history, every 5m",
                 f"export:     {otlp.endpoint}/v1/logs",
                 "offgate: 1 events written, 0 spooled, 0 addon errors", "stopped"):
        assert line in output, output
    assert token not in output  # a log file or a pipe never gets the token
    assert "beyond this machine" not in output
    assert len(otlp.logs) == 2


def test_up_shows_the_login_link_on_its_terminal_and_not_in_its_log(tmp_path: Path) -> None:
    home = tmp_path / "home"
    environment = _without_offgate_settings(tmp_path)
    proxy_port, dashboard_port = free_port(), free_port()
    terminal, terminal_end = pty.openpty()
    up = subprocess.Popen(
        [sys.executable, "-m", "offgate", "--home", str(home), "up", "--listen-port", str(proxy_port),
         "--dashboard-port", str(dashboard_port), "--set", "connection_strategy=lazy"],
        env=environment, stdout=terminal_end, stderr=subprocess.PIPE, text=True)
    os.close(terminal_end)
    try:
        token_file = home / "dashboard-token"
        wait_for(lambda: token_file.exists() and _get(f"http://127.0.0.1:{dashboard_port}/api/summary",
                                                      token_file.read_text().strip()),
                 "the dashboard to answer", up)
    finally:
        up.send_signal(signal.SIGTERM)
        _, log = up.communicate(timeout=60)
    shown = _read_all(terminal)
    token = token_file.read_text().strip()
    assert up.returncode == 0, log
    assert shown == f"open http://127.0.0.1:{dashboard_port}/?token={token}\r\n"
    assert f"dashboard:  http://127.0.0.1:{dashboard_port}/  (log in with the token in {token_file})" in log
    assert token not in log


def test_up_refuses_a_busy_port_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run([sys.executable, "-m", "offgate", "--home", str(tmp_path), "up", "--listen-port",
                                  str(port)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in refused.stderr


def test_up_refuses_proxy_port_0_clearly(tmp_path: Path) -> None:
    # The PAC file and the system proxy name the proxy's port: one picked anew each run cannot be named
    # (proxy.listen_port refuses 0 alike).
    refused = subprocess.run([sys.executable, "-m", "offgate", "--home", str(tmp_path), "up", "--listen-port", "0",
                              "--dashboard-port", "0"], capture_output=True, text=True, timeout=60,
                             env={**_without_offgate_settings(tmp_path), "COLUMNS": "200"})
    assert refused.returncode == 2
    assert "Invalid value for '--listen-port': Input should be greater than or equal to 1" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_up_refuses_a_bad_interval(tmp_path: Path) -> None:
    refused = subprocess.run([sys.executable, "-m", "offgate", "--home", str(tmp_path), "up", "--interval", "soon"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "--interval:" in refused.stderr


@pytest.mark.parametrize(("database_url", "exit_code", "message"), [
    ("mysql://db/offgate", 2, "offgate: error: database_url 'mysql://db/offgate' is not supported"),
    ("postgresql://offgate@127.0.0.1:1/offgate", 1,
     "offgate: error: cannot open PostgreSQL database postgresql://offgate@127.0.0.1:1/offgate"),
], ids=["unsupported", "down"])
def test_up_says_what_is_wrong_with_the_store_instead_of_a_traceback(
        tmp_path: Path, database_url: str, exit_code: int, message: str) -> None:
    (tmp_path / "config.toml").write_text(f'database_url = "{database_url}"\n', encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "offgate", "--home", str(tmp_path), "up", "--listen-port",
                              str(free_port()), "--dashboard-port", "0"],
                             capture_output=True, text=True, timeout=60,
                             env={**_without_offgate_settings(tmp_path), "COLUMNS": "200"})
    assert refused.returncode == exit_code
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr and "unexpected error" not in refused.stderr


def _without_offgate_settings(tmp_path: Path) -> dict[str, str]:
    """This process's environment without OFFGATE_* variables (the test's home decides), and
    with a user home of its own, without agent logs (`offgate up` scans the user's home)."""
    user_home = tmp_path / "user-home"
    user_home.mkdir(exist_ok=True)
    agents = ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME")
    return {**{key: value for key, value in os.environ.items() if not key.startswith("OFFGATE_") and key not in agents},
            "HOME": str(user_home)}


def _read_all(terminal: int) -> str:
    """What was written to a pseudo-terminal whose other end is closed."""
    read = b""
    try:
        while chunk := os.read(terminal, 4096):
            read += chunk
    except OSError:  # EIO: every writer is gone
        pass
    finally:
        os.close(terminal)
    return read.decode()


def _get(url: str, token: str) -> Any:
    try:
        answer = httpx.get(url, headers={"authorization": f"Bearer {token}"}, timeout=5)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


def wait_for(probe: Callable[[], Any], what: str, process: subprocess.Popen,
             accept: Callable[[Any], bool] = bool) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"offgate up exited ({process.returncode}) while waiting for {what}:\n{_log(process).read()}")
        found = probe()
        if found and accept(found):
            return found
        time.sleep(0.2)
    process.terminate()
    process.wait(30)
    pytest.fail(f"no {what} within {DEADLINE_S} s; the end of its log:\n{_log(process).read()[-4000:]}")


def _log(process: subprocess.Popen) -> IO[str]:
    log = process.stdout or process.stderr
    assert log is not None, "offgate up was started without a pipe for its log"
    return log
