"""What the dashboard tests serve: tests/support/reconcile_data.py's world moved to the last day (so
the default 30-day window holds it), reconciled, with three open alerts; the dashboard over
it, running in a thread; and `offgate report --format json` over the same home."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from analytics.dashboard import create_app
from analytics.reconcile import reconcile
from offgate.cli import app as cli
from offgate.config import ReconcileSettings, load_settings
from offgate.demo.threaded_server import ThreadedServer
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.alerts import Alert, AlertStore
from offgate.store.spend import SpendLog
from tests.support import reconcile_data

TOKEN = "dashboard-test-token-0123456789"
PROXY_ADDRESS = "127.0.0.1:8080"
COOLDOWN = timedelta(hours=24)
runner = CliRunner(env={"COLUMNS": "200"})


def world_events(now: datetime) -> list[UsageEvent]:
    events, _ = reconcile_data.world()
    return [event.model_copy(update={"ts": event.ts + (now - reconcile_data.NOW)}) for event in events]


def fill(url: str, now: datetime) -> list[Alert]:
    """The moved world, reconciled at `now`, and the alerts raised; returns the alerts."""
    shift = now - reconcile_data.NOW
    _, rows = reconcile_data.world()
    raised = alerts(now)
    with Store.open(url) as store:
        store.add(world_events(now))
        SpendLog(store).add([replace(row, start_time=row.start_time + shift) for row in rows], "file")
        reconcile(store, ReconcileSettings(), since=None, now=now)
        AlertStore(store).raise_alerts(raised, COOLDOWN, now)
    return raised


def alerts(now: datetime) -> list[Alert]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [
        Alert(kind="spike", severity="warning", dimension="user", entity="bob", metric="cost_usd",
              ts=hour - timedelta(hours=2), message="bob spent $12.00 in one hour, 6 times the usual.",
              statistic=12.0, baseline=2.0, p_value=1e-6, q_value=1e-4),
        Alert(kind="first_seen", severity="info", dimension="app", entity="claude-code", metric="first_call",
              ts=hour - timedelta(hours=1), message="claude-code made its first call around the gateway."),
        Alert(kind="budget", severity="critical", dimension="total", entity="all", metric="cost_usd", ts=hour,
              message="Unmanaged spend will likely pass this month's $500.00 budget.", statistic=640.0,
              baseline=500.0),
    ]


def use_store(home: Path, url: str) -> None:
    """Point the home's settings (the CLI's and the dashboard's) at the store at `url`."""
    (home / "config.toml").write_text(f'database_url = "{url}"\n', encoding="utf-8")


@contextmanager
def serving(home: Path) -> Iterator[str]:
    """The dashboard over the home's store; yields its base URL."""
    server = ThreadedServer()
    port = server.serve(create_app(home, load_settings(home), TOKEN, PROXY_ADDRESS))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def report_json(home: Path, *args: str) -> dict:
    """What `offgate report --format json ARGS` prints for the home."""
    result = runner.invoke(cli, ["--home", str(home), "report", "--format", "json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_times(document: dict) -> dict:
    """The report without the times taken from the clock (two runs differ in them)."""
    return {name: value for name, value in document.items() if name not in ("generated_at", "since", "until")}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
