"""A lasting rise in a daily share (the unmanaged share of spend, the unexplained share of the
bill): detectors.rise_change_point, raised when significant at the false discovery rate (one
test per run) and at least MIN_SHARE_RISE, critical from CRITICAL_SHARE_RISE."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from analytics.alerts.detectors import rise_change_point
from offgate.config import AlertSettings
from offgate.store.alerts import Alert, AlertKind

MIN_SHARE_RISE = 0.05
CRITICAL_SHARE_RISE = 0.25


def share_rise_alerts(days: list[date], shares: np.ndarray, settings: AlertSettings, now: datetime, *, kind: AlertKind,
                      message: Callable[[float, float, datetime, datetime], str],
                      more_details: Callable[[int], dict[str, Any]] = lambda first: {}) -> list[Alert]:
    """The alert on a lasting rise of `shares` (one per day of `days`), if any; `more_details`
    gets the index of the first day after the change."""
    change = rise_change_point(shares)
    if change is None or change.p_value > settings.false_discovery_rate:
        return []
    if change.after - change.before < MIN_SHARE_RISE:
        return []
    first_day = datetime.combine(days[change.index], datetime.min.time(), UTC)
    rise = change.after - change.before
    return [Alert(
        kind=kind, severity="critical" if rise >= CRITICAL_SHARE_RISE else "warning",
        dimension="total", entity="all", metric="share", ts=first_day,
        message=message(change.before, change.after, first_day, now),
        statistic=change.after, baseline=change.before, p_value=change.p_value,
        details={"days_before": change.index, "days_after": len(days) - change.index, "rise": rise,
                 **more_details(change.index)},
    )]
