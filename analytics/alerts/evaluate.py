"""One evaluation: read what the alerts need from the store, run every detector (the usage
detectors and the enrolled devices' silences), and (for the watcher) keep the alerts in the
store, deduplicated and cooled down by AlertStore."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.alerts.bill import unexplained_bill_alerts
from analytics.alerts.budget import budget_alerts
from analytics.alerts.detectors import BASELINE_WEEKS
from analytics.alerts.first_seen import first_seen_alerts, found_app_alerts
from analytics.alerts.hourly import hourly_alerts
from analytics.alerts.series import UsageSeries, as_utc, read_series
from analytics.alerts.share import share_alerts
from analytics.alerts.silence import silence_alerts
from analytics.bill.gateway_keys import GatewayKey
from offgate.config import AlertSettings
from offgate.store import Store
from offgate.store.alerts import KINDS, Alert, AlertStore
from offgate.store.devices import devices
from offgate.store.workstation import WorkstationStore
from offgate.vocabulary import AlertDimension


def evaluate(store: Store, settings: AlertSettings, now: datetime | None = None,
             since: datetime | None = None, gateway_keys: Sequence[GatewayKey] = ()) -> list[Alert]:
    """Every alert the data supports for anomalies timed in [since, now) (default since =
    now - settings.lookback_hours), not stored. Baselines use the history before (as far
    back as needed). Naive times are taken as UTC."""
    now, since = _window(settings, now, since)
    budgeted: list[AlertDimension] = [dimension for dimension, _, _ in settings.entity_budgets()]
    data = read_series(store, settings.dimensions + budgeted, since - timedelta(weeks=BASELINE_WEEKS), now,
                       gateway_keys)
    silences = silence_alerts(devices(store), settings.device_silence, now)
    found_apps = WorkstationStore(store).apps()
    return in_order([*find_alerts(data, settings, now, since, found_apps), *silences], settings)


def raise_new_alerts(store: Store, settings: AlertSettings, now: datetime | None = None,
                     since: datetime | None = None, gateway_keys: Sequence[GatewayKey] = ()) -> list[Alert]:
    """evaluate, then store the alerts: returns the new ones (to notify), oldest first."""
    now, since = _window(settings, now, since)
    alerts = evaluate(store, settings, now, since, gateway_keys)
    return AlertStore(store).raise_alerts(alerts, timedelta(hours=settings.cooldown_hours), now)


def find_alerts(data: UsageSeries, settings: AlertSettings, now: datetime, since: datetime,
                found_apps: Sequence[dict[str, Any]] = ()) -> list[Alert]:
    """The alerts in data already read (what `evaluate` does after reading; `found_apps`: the
    workstations' inventory): oldest first, then by kind, by the order of the dimensions in the
    settings, and by entity."""
    hourly = [series for dimension, series in data.dimensions.items() if dimension in settings.dimensions]
    alerts = [
        *hourly_alerts(hourly, settings, since, now),
        *first_seen_alerts(data, settings, since, now),
        *found_app_alerts(found_apps, settings, since, now),
        *budget_alerts(data, settings, now),
        *share_alerts(data, settings, now),
        *unexplained_bill_alerts(data.bill_days, settings, now),
    ]
    return in_order(alerts, settings)


def in_order(alerts: list[Alert], settings: AlertSettings) -> list[Alert]:
    """Oldest first, then by kind, by the order of the dimensions in the settings, and by entity."""
    dimensions = {dimension: position for position, dimension in enumerate(settings.dimensions)}
    return sorted(alerts, key=lambda alert: (alert.ts, KINDS.index(alert.kind),
                                             dimensions.get(alert.dimension, len(dimensions)), alert.entity))


def _window(settings: AlertSettings, now: datetime | None, since: datetime | None) -> tuple[datetime, datetime]:
    now = as_utc(now) if now else datetime.now(UTC)
    since = as_utc(since) if since else now - timedelta(hours=settings.lookback_hours)
    if since >= now:
        raise ValueError(f"nothing to evaluate: since ({since.isoformat()}) is not before now ({now.isoformat()})")
    return now, since
