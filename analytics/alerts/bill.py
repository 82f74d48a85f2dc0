"""The unexplained-bill alert: a lasting rise in the share of each day's provider bill that
neither LiteLLM nor the agents explain (analytics.bill.reconcile), found like the unmanaged
share's rise (detectors.rise_change_point over the complete days with a bill). `ts` is the
first day after the change, so one change raises one alert however many runs see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from analytics.alerts.detectors import rise_change_point
from analytics.alerts.messages import unexplained_bill_message
from offgate.config import AlertSettings
from offgate.store.alerts import Alert

MIN_SHARE_RISE = 0.05
CRITICAL_SHARE_RISE = 0.25


@dataclass(frozen=True, slots=True)
class BillDay:
    day: date
    billed_usd: float
    unexplained_usd: float


def unexplained_bill_alerts(days: list[BillDay], settings: AlertSettings, now: datetime) -> list[Alert]:
    billed = [day for day in days if day.day < now.date() and day.billed_usd > 0]
    shares = np.array([day.unexplained_usd / day.billed_usd for day in billed])
    change = rise_change_point(shares)
    if change is None or change.p_value > settings.false_discovery_rate:
        return []
    if change.after - change.before < MIN_SHARE_RISE:
        return []
    first_day = datetime.combine(billed[change.index].day, datetime.min.time(), UTC)
    rise = change.after - change.before
    return [Alert(
        kind="unexplained_bill", severity="critical" if rise >= CRITICAL_SHARE_RISE else "warning",
        dimension="total", entity="all", metric="share", ts=first_day,
        message=unexplained_bill_message(change.before, change.after, first_day, now),
        statistic=change.after, baseline=change.before, p_value=change.p_value,
        details={"days_before": change.index, "days_after": len(billed) - change.index, "rise": rise,
                 "unexplained_usd_after": sum(day.unexplained_usd for day in billed[change.index:])},
    )]
