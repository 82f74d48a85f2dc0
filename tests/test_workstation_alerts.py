"""Apps found on a workstation feed the first-seen alerts: one found after the device's
inventory had been learning for min_history_days is news; what was there from the start is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.alerts import evaluate, raise_new_alerts
from offgate.config import AlertSettings
from offgate.store import Store
from offgate.store.workstation import FoundApp, WorkstationStore

NOW = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
CURSOR = FoundApp("cursor", "desktop-app", "desktop-entry", "cursor")
CLINE = FoundApp("cline", "ide-extension", "vscode", "saoudrizwan.claude-dev", "3.4.0")
AIDER = FoundApp("aider", "agent", "process", "aider")


def found_app_alerts(store: Store, settings: AlertSettings | None = None) -> list[tuple[str, str, str, str]]:
    return [(a.entity, a.metric, a.severity, a.message) for a in evaluate(store, settings or AlertSettings(), now=NOW)
            if a.kind == "first_seen" and a.metric == "first_found"]


def test_an_app_found_after_the_first_inventory_raises_one_alert(store_url: str) -> None:
    with Store.open(store_url) as store:
        workstation = WorkstationStore(store)
        workstation.record_apps("ws-17", "alice", [CURSOR], NOW - timedelta(days=30))
        workstation.record_apps("ws-17", "alice", [CURSOR, CLINE, AIDER], NOW - timedelta(hours=3, minutes=15))
        workstation.record_apps("ws-17", "alice", [CURSOR, CLINE], NOW - timedelta(hours=1))
        alerts = found_app_alerts(store)
        raised = raise_new_alerts(store, AlertSettings(), now=NOW)
        raised_again = raise_new_alerts(store, AlertSettings(), now=NOW + timedelta(minutes=5))
        off = found_app_alerts(store, AlertSettings(first_seen=False))
    assert alerts == [
        ("aider", "first_found", "warning",
         "A new AI app, aider, was found on ws-17 at 13:15 UTC on Tue 24 Nov (process: aider)."),
        ("cline", "first_found", "warning",
         "A new AI app, cline, was found on ws-17 at 13:15 UTC on Tue 24 Nov (vscode: saoudrizwan.claude-dev)."),
    ]
    assert [alert.entity for alert in raised if alert.metric == "first_found"] == ["aider", "cline"]
    assert [alert for alert in raised_again if alert.metric == "first_found"] == []
    assert off == []


def test_nothing_found_is_new_while_the_inventory_is_still_learning(store_url: str) -> None:
    with Store.open(store_url) as store:
        workstation = WorkstationStore(store)
        workstation.record_apps("ws-17", "alice", [CURSOR], NOW - timedelta(days=2))
        workstation.record_apps("ws-17", "alice", [CLINE], NOW - timedelta(hours=1))
        # Another device learnt long ago: its new app is news, ws-17's is not yet.
        workstation.record_apps("ws-9", "bob", [CURSOR], NOW - timedelta(days=40))
        workstation.record_apps("ws-9", "bob", [AIDER], NOW - timedelta(hours=2))
        alerts = found_app_alerts(store)
    assert [entity for entity, *_ in alerts] == ["aider"]
