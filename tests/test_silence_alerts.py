"""Silence is a signal: an enrolled device that stops reporting, and one whose proxy stops
recording while its browser extension goes on, raise alerts with exact sentences, through
the alert store (once each), on SQLite and PostgreSQL alike. The devices are as the
collector keeps them (fleet_device), with what each agent last said of itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.alerts import raise_new_alerts
from analytics.notify.text import facts, headline
from offgate.cli import app
from offgate.config import AlertSettings
from offgate.store import Store
from tests.support.fleet_devices import device_row, enrol

NOW = datetime(2026, 11, 21, 15, 30, tzinfo=UTC)  # a Saturday afternoon
ALICE_LAST_SEEN = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)  # 30 hours and 15 minutes before
BOB_PROXY_LAST = datetime(2026, 11, 18, 11, 2, tzinfo=UTC)
BOB_EXTENSION_LAST = datetime(2026, 11, 21, 14, 40, tzinfo=UTC)
SILENT = ("Device alice-laptop (alice's) has not reported since 09:15 UTC on Fri 20 Nov (30 hours): "
          "offgate may have been removed or switched off there.")
PROXY_SILENT = ("The proxy on device bob-desktop (bob's) has recorded no call since 11:02 UTC on Wed 18 Nov, "
                "while its browser extension still reports (last at 14:40 UTC on Sat 21 Nov): "
                "the proxy may be switched off or bypassed.")


FLEET = [
    device_row("alice-laptop", "alice", ALICE_LAST_SEEN, proxy=ALICE_LAST_SEEN, extension=ALICE_LAST_SEEN),
    device_row("bob-desktop", "bob", NOW - timedelta(minutes=5), proxy=BOB_PROXY_LAST,
               extension=BOB_EXTENSION_LAST, proxy_running=False),
    device_row("carol-mac", "carol", NOW - timedelta(minutes=10), proxy=NOW - timedelta(hours=2),
               extension=NOW - timedelta(hours=1)),
    device_row("dave-old", "dave", NOW - timedelta(days=10), revoked_at=NOW - timedelta(days=1)),  # cut off on purpose
    device_row("erin-new", "erin", None),  # enrolled, never pushed yet
    device_row("frank-ci", None, NOW - timedelta(minutes=1), proxy=NOW - timedelta(days=5)),  # no extension at all
]


def test_a_silent_device_and_a_silent_proxy_raise_one_alert_each(store_url: str) -> None:
    enrol(store_url, FLEET)
    with Store.open(store_url) as store:
        raised = raise_new_alerts(store, AlertSettings(), now=NOW)
        again = raise_new_alerts(store, AlertSettings(), now=NOW + timedelta(hours=1))
    assert [(alert.kind, alert.dimension, alert.entity, alert.ts, alert.message) for alert in raised] == [
        ("proxy_silent", "device", "bob-desktop", BOB_PROXY_LAST, PROXY_SILENT),
        ("silent_device", "device", "alice-laptop", ALICE_LAST_SEEN, SILENT),
    ]
    assert raised[0].details == {"owner": "bob", "silent_hours": pytest.approx(76.4666, abs=1e-3),
                                 "proxy_running": False, "extension_last_record": BOB_EXTENSION_LAST.isoformat()}
    assert again == []  # the same silences: raised once
    assert [(headline(alert), facts(alert)[:2]) for alert in raised] == [
        ("Warning: the proxy on device bob-desktop has stopped recording",
         [("When", "2026-11-18 11:02 UTC"), ("Silent for", "76 hours")]),
        ("Warning: device alice-laptop has stopped reporting", [("When", "2026-11-20 09:15 UTC"),
                                                                ("Silent for", "30 hours")]),
    ]


def test_the_time_of_silence_is_a_setting(store_url: str) -> None:
    enrol(store_url, FLEET)
    with Store.open(store_url) as store:
        two_days = raise_new_alerts(store, AlertSettings(device_silent_after="2d"), now=NOW)
        off = raise_new_alerts(store, AlertSettings(device_silent_after=None), now=NOW + timedelta(days=3))
    assert [(alert.kind, alert.entity) for alert in two_days] == [("proxy_silent", "bob-desktop")]
    assert off == []


def test_offgate_alerts_lists_the_silences_and_refuses_a_bad_setting(tmp_path: Path) -> None:
    enrol(f"sqlite:///{tmp_path / 'offgate.db'}", FLEET)
    (tmp_path / "config.toml").write_text('[alerts]\ndevice_silent_after = "1d"\n')
    runner = CliRunner(env={"COLUMNS": "400"})
    listed = runner.invoke(app, ["--home", str(tmp_path), "alerts", "--json", "--device", "alice-laptop"],
                           catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    # Now is later than NOW: alice has been silent longer, so only the sentence's span differs.
    assert [(alert["kind"], alert["entity"]) for alert in json.loads(listed.stdout)] == [
        ("silent_device", "alice-laptop")]
    (tmp_path / "config.toml").write_text('[alerts]\ndevice_silent_after = "a while"\n')
    refused = runner.invoke(app, ["--home", str(tmp_path), "alerts"], catch_exceptions=False)
    assert refused.exit_code == 2
    assert "'a while' is not a length of time" in refused.output
