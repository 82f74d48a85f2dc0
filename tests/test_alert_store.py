"""Alerts kept in the store: raised once, folded within the cooldown, acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offgate.store import Store
from offgate.store.alerts import Alert, AlertScope, AlertStore, UnknownAlertError
from offgate.store.filters import CallFilter

NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)
COOLDOWN = timedelta(hours=24)


@pytest.fixture
def alerts(store_url: str) -> Iterator[AlertStore]:
    with Store.open(store_url) as store:
        yield AlertStore(store)


def spike(ts: datetime = NOON, entity: str = "alice", dimension: AlertScope = "user", **fields: Any) -> Alert:
    return Alert(kind="spike", severity="warning", dimension=dimension, entity=entity, metric="cost_usd", ts=ts,
                 message=f"{entity} spent $12.00 in one hour, 6 times the usual.", statistic=12.0, baseline=2.0,
                 p_value=1e-6, q_value=1e-4, details={"hour_of_week": 36}, **fields)


def test_an_alert_is_raised_once_and_read_back_whole(alerts: AlertStore) -> None:
    now = NOON + timedelta(minutes=5)
    assert [a.id for a in alerts.raise_alerts([spike()], COOLDOWN, now)] == [spike().id]
    assert alerts.raise_alerts([spike()], COOLDOWN, now + timedelta(hours=1)) == []  # the same data again
    [stored] = alerts.alerts()
    assert stored.to_json() == {**spike().to_json(), "raised_at": now.isoformat(), "last_seen_at": now.isoformat()}


def test_within_the_cooldown_one_alert_counts_the_occurrences(alerts: AlertStore) -> None:
    first, second, later = spike(NOON), spike(NOON + timedelta(hours=3)), spike(NOON + timedelta(hours=30))
    new = alerts.raise_alerts([first, second, later, spike(entity="bob")], COOLDOWN, NOON)
    assert [(a.entity, a.ts) for a in new] == [("alice", first.ts), ("bob", NOON), ("alice", later.ts)]
    by_id = {a.id: a for a in alerts.alerts()}
    assert by_id[first.id].occurrences == 2
    assert by_id[later.id].occurrences == 1
    assert second.id not in by_id


def test_acknowledged_alerts_leave_the_open_list(alerts: AlertStore) -> None:
    alerts.raise_alerts([spike(), spike(entity="bob")], COOLDOWN, NOON)
    acked = alerts.ack(spike().id, by="pat", now=NOON + timedelta(hours=1))
    assert (acked.acked, acked.acked_by, acked.acked_at) == (True, "pat", NOON + timedelta(hours=1))
    assert alerts.ack(spike().id, by="sam").acked_by == "pat"  # the first acknowledgement stands
    assert [a.entity for a in alerts.alerts()] == ["bob"]
    assert sorted(a.entity for a in alerts.alerts(include_acked=True)) == ["alice", "bob"]


def test_acknowledging_an_unknown_id_says_so(alerts: AlertStore) -> None:
    with pytest.raises(UnknownAlertError, match="no alert has the id 'nope'"):
        alerts.ack("nope")


def test_alerts_about_some_devices_or_users(alerts: AlertStore) -> None:
    laptop = spike(entity="alice-laptop", dimension="device")
    app = spike(entity="cursor", dimension="app")
    alerts.raise_alerts([spike(), spike(entity="bob"), laptop, app], COOLDOWN, NOON)
    about = {(found.dimension, found.entity) for found in alerts.alerts(about=CallFilter(users=("bob",)))}
    assert about == {("user", "bob")}
    about = {(found.dimension, found.entity)
             for found in alerts.alerts(about=CallFilter(devices=("alice-laptop", "nowhere"), users=("alice",)))}
    assert about == {("device", "alice-laptop"), ("user", "alice")}
    assert len(alerts.alerts()) == 4
