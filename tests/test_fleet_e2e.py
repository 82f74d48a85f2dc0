"""The fleet end to end, every part real and in its own process: a PostgreSQL server, two
`offgate serve` collectors behind a relay (the load balancer, and the network a test can
cut), and workstation homes enrolled with `offgate enroll`, whose calls go through real
`offgate proxy` / `offgate up` instances to a fake provider and are pushed by `offgate push`
or by `offgate up` itself.

- Three agents: the central report (`offgate report --format json` on the central database)
  equals the sum of the three local ones: calls, tokens, cost.
- Faults, one agent: a collector SIGKILLed the moment a push reaches it (then restarted),
  the network cut while the agent goes on recording, PostgreSQL restarted while a push is in
  flight: afterwards the central database holds every local record exactly once.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from offgate.events import UsageEvent
from offgate.store import Store
from tests.support import postgres
from tests.support.fleet_world import Collector, Relay, central_environment, offgate, start_offgate, wait_for
from tests.support.ports import free_port
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]  # its own PostgreSQL server, stopped and restarted

CHAT_URL = "https://api.openai.com/v1/chat/completions"
TOTALS = ("captured_calls", "unmanaged_calls", "unmanaged_prompt_tokens", "unmanaged_completion_tokens")
COSTS = ("unmanaged_cost_usd", "total_cost_usd")


@pytest.fixture
def server() -> Iterator[postgres.LocalServer]:
    with postgres.stoppable_server_or_skip() as running:
        yield running


class Fleet:
    """Collectors behind a relay on one central database, and what the test started."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        self.database_url = database_url
        self.tmp = tmp
        Store.open(database_url).close()
        self.collectors = [Collector(database_url, tmp / f"collector-{number}").start() for number in range(2)]
        self.relay = Relay().start([collector.port for collector in self.collectors])
        self.processes: list[subprocess.Popen[bytes]] = []

    def token(self, uses: int) -> str:
        made = offgate(self.tmp, "fleet", "token", "create", "--uses", str(uses),
                       environment=central_environment(self.database_url))
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()

    def enrol(self, home: Path, token: str, *options: str) -> None:
        enrolled = offgate(home, "enroll", self.relay.url, "--token", token, "--name", home.name, *options)
        assert enrolled.returncode == 0, enrolled.stderr

    def start(self, home: Path, *arguments: str) -> subprocess.Popen[bytes]:
        process = start_offgate(home, *arguments)
        self.processes.append(process)
        return process

    def central_ids(self, device: str) -> list[str]:
        with psycopg2.connect(self.database_url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT id FROM usage_event WHERE device = %s ORDER BY id", (device,))
            ids = [event_id for (event_id,) in cursor.fetchall()]
        connection.close()
        return ids

    def report(self) -> dict[str, Any]:
        return report_of(self.tmp, central_environment(self.database_url))

    def devices(self) -> dict[str, dict[str, Any]]:
        listed = offgate(self.tmp, "fleet", "devices", "--json", environment=central_environment(self.database_url))
        assert listed.returncode == 0, listed.stderr
        return {device["name"]: device for device in json.loads(listed.stdout)}

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.relay.stop()
        for collector in self.collectors:
            collector.stop()


@pytest.fixture
def fleet(server: postgres.LocalServer, tmp_path: Path) -> Iterator[Fleet]:
    running = Fleet(server.url, tmp_path)
    yield running
    running.stop()


def local_ids(home: Path) -> list[str]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return sorted(event.id for event in store.events())


def report_of(home: Path, environment: dict[str, str] | None = None) -> dict[str, Any]:
    made = offgate(home, "report", "--since", "30d", "--format", "json", environment=environment)
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def proxy_options(upstream: FakeUpstream) -> list[str]:
    return ["--set", "connection_strategy=lazy",
            "--set", f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"]


def wait_for_proxy(home: Path, port: int, process: subprocess.Popen[bytes]) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{home.name}'s proxy exited ({process.returncode})")
        with socket.socket() as probe:
            return (home / "ca" / "mitmproxy-ca-cert.pem").exists() and probe.connect_ex(("127.0.0.1", port)) == 0
    wait_for(listening, f"{home.name}'s proxy", logs=tuple(home.parent.glob(f"{home.name}-*.log")))


def call_through(home: Path, port: int, upstream: FakeUpstream, tokens: list[tuple[int, int]]) -> None:
    """One chat completion through the home's proxy per (prompt, completion) token pair."""
    trusting = ssl.create_default_context(cafile=home / "ca" / "mitmproxy-ca-cert.pem")
    with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=trusting, timeout=30) as client:
        for prompt, completion in tokens:
            answer = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "model": "gpt-4o-mini",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                "total_tokens": prompt + completion}}
            headers = upstream.add(answer["id"], Scenario(headers={"content-type": "application/json"},
                                                          chunks=[json.dumps(answer).encode()]))
            sent = client.post(CHAT_URL, headers={**headers, "authorization": "Bearer sk-own-key"},
                               json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
            assert sent.status_code == 200, sent.text


def import_records(home: Path, count: int) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    lines = home.parent / f"{home.name}-import-{uuid.uuid4().hex[:6]}.jsonl"
    lines.write_text("".join(
        UsageEvent(ts=start + timedelta(seconds=number), host="api.anthropic.com", path="/v1/messages",
                   provider="anthropic", model="claude-sonnet-4-5", prompt_tokens=200 + number % 50,
                   completion_tokens=20, cost_usd=0.0009, device="laptop").model_dump_json() + "\n"
        for number in range(count)))
    imported = offgate(home, "events", "import", str(lines))
    assert imported.returncode == 0, imported.stderr


def test_three_agents_through_two_collectors_add_up_to_the_central_report(
        fleet: Fleet, upstream: FakeUpstream, tmp_path: Path) -> None:
    token = fleet.token(uses=3)
    homes = [tmp_path / f"agent-{number}" for number in (1, 2, 3)]
    ports = [free_port() for _ in homes]
    for home in homes:
        fleet.enrol(home, token)
    # agent-1 runs everything with `offgate up` (its push included); the others a proxy and `offgate push`.
    proxies = [fleet.start(homes[0], "up", "--listen-port", str(ports[0]), "--dashboard-port", str(free_port()),
                           *proxy_options(upstream))]
    for home, port in zip(homes[1:], ports[1:], strict=True):
        proxies.append(fleet.start(home, "proxy", "--listen-port", str(port), *proxy_options(upstream)))
    for home, port, process in zip(homes, ports, proxies, strict=True):
        wait_for_proxy(home, port, process)
    for home in homes[1:]:
        fleet.start(home, "push", "--interval", "1s")

    calls = {homes[0]: [(120, 30), (80, 20), (1000, 1)],
             homes[1]: [(10, 10), (20, 20), (30, 30), (40, 40)],
             homes[2]: [(7, 3)] * 5}
    for home, port in zip(homes, ports, strict=True):
        call_through(home, port, upstream, calls[home])
    for home in homes:
        wait_for(lambda home=home: len(local_ids(home)) == len(calls[home]), f"{home.name} to record its calls")
        wait_for(lambda home=home: fleet.central_ids(home.name) == local_ids(home),
                 f"{home.name}'s records at the collector", logs=(*home.parent.glob(f"{home.name}-*.log"),
                                                                   *(c.log for c in fleet.collectors)))

    local = [report_of(home)["totals"] for home in homes]
    central = fleet.report()["totals"]
    assert [total["captured_calls"] for total in local] == [3, 4, 5]
    for field in TOTALS:
        assert central[field] == sum(total[field] for total in local), field
    for field in COSTS:
        assert central[field] == pytest.approx(sum(total[field] for total in local), rel=1e-12), field
    assert central["unmanaged_prompt_tokens"] == 1200 + 100 + 35
    by_device = offgate(tmp_path, "report", "--since", "30d", "--by", "device", "--format", "json",
                        environment=central_environment(fleet.database_url))
    assert {row["key"]: row["unmanaged_calls"] for row in json.loads(by_device.stdout)["rows"]} == {
        "agent-1": 3, "agent-2": 4, "agent-3": 5}

    devices = fleet.devices()
    assert sorted(devices) == ["agent-1", "agent-2", "agent-3"]
    for name, device in devices.items():
        assert device["records_stored"] == len(calls[tmp_path / name]), name
        assert (device["agent_version"], device["running"]["proxy"], device["running"]["native_host"]) == (
            "0.1.0", True, False), name
        assert device["last_seen_at"] is not None and device["revoked_at"] is None


def test_every_record_arrives_exactly_once_through_a_killed_collector_a_cut_network_and_a_database_restart(
        fleet: Fleet, server: postgres.LocalServer, upstream: FakeUpstream, tmp_path: Path) -> None:
    home = tmp_path / "roaming-laptop"
    fleet.enrol(home, fleet.token(uses=1), "--no-push")
    import_records(home, 3000)  # a backlog of three batches
    port = free_port()
    proxy = fleet.start(home, "proxy", "--listen-port", str(port), *proxy_options(upstream))
    wait_for_proxy(home, port, proxy)
    logs = (*tmp_path.glob("roaming-laptop-*.log"), *(collector.log for collector in fleet.collectors))

    # 1. The collector a push reaches is SIGKILLed there and then; the agent goes on through the other.
    killed: list[Collector] = []
    fleet.relay.when_pushed(lambda reached: killed.append(_kill(fleet, reached)))
    fleet.start(home, "push", "--interval", "1s")
    wait_for(lambda: fleet.central_ids(home.name) == local_ids(home), "the backlog past a killed collector", logs=logs)
    assert len(killed) == 1 and killed[0].process is not None and killed[0].process.returncode == -9
    restarted = Collector(fleet.database_url, tmp_path / "collector-restarted").start()
    fleet.collectors.append(restarted)
    fleet.relay.upstreams = [restarted.port]  # from now on only the restarted collector serves

    # 2. The network is cut: the agent records on, fails to push, and catches up once it is back.
    fleet.relay.cut()
    call_through(home, port, upstream, [(50, 5)] * 4)
    wait_for(lambda: len(local_ids(home)) == 3004, "the calls recorded while the network is down")
    wait_for(lambda: "push error: cannot reach the collector at" in offgate(home, "status").stdout,
             "the agent to find the collector unreachable", logs=logs)
    assert len(fleet.central_ids(home.name)) == 3000
    fleet.relay.restore()
    wait_for(lambda: fleet.central_ids(home.name) == local_ids(home), "the catching up", logs=logs)

    # 3. PostgreSQL restarts while a push is on its way to the collector.
    restarts: list[int] = []
    fleet.relay.when_pushed(lambda reached: restarts.append(_restart(server, reached)))
    import_records(home, 2000)
    wait_for(lambda: restarts and fleet.central_ids(home.name) == local_ids(home),
             "every record after the database restart", logs=(*logs, restarted.log))

    ids = local_ids(home)
    assert len(ids) == 5004 and fleet.central_ids(home.name) == ids  # each exactly once
    device = fleet.devices()[home.name]
    assert (device["records_stored"], device["pending"]) == (5004, 0)
    local, central = report_of(home)["totals"], fleet.report()["totals"]
    for field in TOTALS:
        assert central[field] == local[field], field
    assert "0 outbox entries waiting" in offgate(home, "status").stdout


def _kill(fleet: Fleet, port: int) -> Collector:
    collector = next(collector for collector in fleet.collectors if collector.port == port)
    collector.kill()
    return collector


def _restart(server: postgres.LocalServer, port: int) -> int:
    """Restart PostgreSQL as an administrator does (every session ended at once)."""
    server.stop("fast")
    server.start()
    return port
