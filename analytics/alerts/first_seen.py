"""First-seen alerts: a new AI app, provider or API key, or a device using AI, outside the
gateway for the first time.

Only unmanaged calls count: a new device or key that only ever goes through the gateway is
what the gateway is for, while the first call around it is news. An entity is new when its
first unmanaged call ever falls in [since, now), and the store had been watching for
`min_history_days` by then: on a fresh store (or fresh imported history) everything is new,
so nothing is until the store has learnt what is usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from analytics.alerts.messages import first_seen_message, found_app_message
from analytics.alerts.series import UsageSeries
from offgate.config import AlertSettings
from offgate.store.alerts import Alert, Severity

FIRST_SEEN_DIMENSIONS = ("app", "provider", "key", "device")
SEVERITY: dict[str, Severity] = {"app": "warning", "provider": "warning", "key": "warning", "device": "info"}


def first_seen_alerts(data: UsageSeries, settings: AlertSettings, since: datetime, now: datetime) -> list[Alert]:
    if not settings.first_seen or data.first_call is None:
        return []
    learnt = data.first_call + settings.min_history_days * 86400.0
    alerts = []
    for dimension in FIRST_SEEN_DIMENSIONS:
        series = data.dimensions.get(dimension)
        if series is None or dimension not in settings.dimensions:
            continue
        first_calls = series.first_call
        new = (first_calls >= max(since.timestamp(), learnt)) & (first_calls < now.timestamp())
        for row in np.nonzero(new)[0]:
            entity = series.entities[row]
            first = datetime.fromtimestamp(float(first_calls[row]), UTC)
            since_first = slice(max(series.column(first), 0), None)
            calls = float(series.calls[row, since_first].sum())
            cost = float(series.cost_usd[row, since_first].sum())
            alerts.append(Alert(
                kind="first_seen", severity=SEVERITY[dimension], dimension=dimension, entity=entity,
                metric="first_call", ts=first, message=first_seen_message(dimension, entity, first, calls, cost, now),
                statistic=calls, baseline=0.0,
                details={"calls": calls, "cost_usd": cost, "tokens": float(series.tokens[row, since_first].sum())},
            ))
    return alerts


def found_app_alerts(apps: Sequence[dict[str, Any]], settings: AlertSettings, since: datetime,
                     now: datetime) -> list[Alert]:
    """`apps`: the inventory as offgate.store.workstation.WorkstationStore.apps gives it."""
    if not settings.first_seen or "app" not in settings.dimensions:
        return []
    first_inventory: dict[str, datetime] = {}
    for entry in apps:
        first = datetime.fromisoformat(entry["first_seen"])
        first_inventory[entry["device"]] = min(first_inventory.get(entry["device"], first), first)
    alerts = []
    for entry in apps:
        first = datetime.fromisoformat(entry["first_seen"])
        learnt = first_inventory[entry["device"]] + timedelta(days=settings.min_history_days)
        if not max(since, learnt) <= first < now:
            continue
        places = sorted({f"{found['in']}: {found['item']}" for found in entry["found"]})
        alerts.append(Alert(
            kind="first_seen", severity=SEVERITY["app"], dimension="app", entity=entry["app"], metric="first_found",
            ts=first, message=found_app_message(entry["app"], entry["device"], places, first, now),
            details={"device": entry["device"], "kind": entry["kind"], "found": places},
        ))
    return alerts
