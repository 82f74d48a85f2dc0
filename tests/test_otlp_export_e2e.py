"""The OTLP export as a user runs it: `offgate export --once` on a workstation's home, and
two `offgate serve` processes on one central PostgreSQL draining it on their timer to a real
OTLP/HTTP receiver on loopback, which goes down and comes back: every record once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offgate.events import UsageEvent
from offgate.store import Store
from tests.support import postgres
from tests.support.fleet_world import Collector, offgate, wait_for
from tests.support.otlp_receiver import OtlpReceiver

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    yield running
    running.stop()


def calls(prefix: str, count: int, start: datetime = T0, **fields: Any) -> list[UsageEvent]:
    return [UsageEvent(id=f"{prefix}-{n}", ts=start + timedelta(seconds=n), host="api.anthropic.com",
                       path="/v1/messages", route="direct", provider="anthropic", **fields) for n in range(count)]


def export_config(home: Path, receiver: OtlpReceiver) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'[export]\notlp_endpoint = "{receiver.endpoint}"\ninterval = "1s"\n')


@pytest.mark.e2e
def test_export_once_sends_what_waits_and_stop_drops_the_queue(tmp_path: Path, receiver: OtlpReceiver) -> None:
    home = tmp_path / "home"
    unconfigured = offgate(home, "export", "--once")
    assert unconfigured.returncode != 0
    assert "no export is configured: set [export] otlp_endpoint" in unconfigured.stderr
    export_config(home, receiver)
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        store.add(calls("call", 3, device="laptop"))
    first = offgate(home, "export", "--once")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"exported 3 records to {receiver.endpoint}/v1/logs; 0 waiting"
    assert offgate(home, "export", "--once").stdout.strip().startswith("exported 0 records")
    assert receiver.record_ids() == ["call-0", "call-1", "call-2"]
    assert {log.attributes["gen_ai.provider.name"] for log in receiver.logs} == {"anthropic"}
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        store.add(calls("unsent", 2, start=T0 + timedelta(hours=1)))
    stopped = offgate(home, "export", "--stop")
    assert stopped.stdout.strip() == "export stopped: no more records are queued for it; 2 waiting were dropped"


@pytest.mark.e2e
def test_two_collectors_export_every_record_once_through_a_receiver_outage(
        tmp_path: Path, postgres_url: str, receiver: OtlpReceiver) -> None:
    with postgres.fresh_database(postgres_url) as url:
        with Store.open(url) as central:
            central.add(calls("before", 5, device="alpha"))
        collectors = []
        for name in ("collector-1", "collector-2"):
            export_config(tmp_path / name, receiver)
            collectors.append(Collector(url, tmp_path / name))
        try:
            for collector in collectors:
                collector.start()
            logs = tuple(collector.log for collector in collectors)
            wait_for(lambda: len(receiver.logs) >= 5, "the records stored before the export started", logs=logs)
            receiver.stop()
            with Store.open(url) as central:  # an agent back from days offline: old timestamps, stored now
                central.add(calls("late", 20, device="beta", start=T0 - timedelta(days=4)))
            wait_for(lambda: any("export failed" in log.read_text() for log in logs), "an export to fail", logs=logs)
            receiver.start()
            wait_for(lambda: len(receiver.logs) >= 25, "the records stored while the receiver was down", logs=logs)
            with Store.open(url) as central:
                central.add(calls("last", 1, device="alpha"))
            wait_for(lambda: "last-0" in receiver.record_ids(), "a record stored after the outage", logs=logs)
        finally:
            for collector in collectors:
                collector.stop()
    ids = receiver.record_ids()
    assert len(ids) == 26 and len(set(ids)) == 26
    assert sorted(ids) == sorted([f"before-{n}" for n in range(5)] + [f"late-{n}" for n in range(20)] + ["last-0"])
