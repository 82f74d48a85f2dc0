"""The unexplained-bill alert: a lasting rise in the share of each day's provider bill that
neither LiteLLM nor the agents explain (analytics.bill.reconcile), found as the unmanaged
share's rise is (share_rise.share_rise_alerts over the complete days with a bill). `ts` is the
first day after the change, so one change raises one alert however many runs see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from analytics.alerts.messages import unexplained_bill_message
from analytics.alerts.share_rise import share_rise_alerts
from offgate.config import AlertSettings
from offgate.store.alerts import Alert


@dataclass(frozen=True, slots=True)
class BillDay:
    day: date
    billed_usd: float
    unexplained_usd: float


def unexplained_bill_alerts(days: list[BillDay], settings: AlertSettings, now: datetime) -> list[Alert]:
    billed = [day for day in days if day.day < now.date() and day.billed_usd > 0]
    shares = np.array([day.unexplained_usd / day.billed_usd for day in billed])
    return share_rise_alerts(
        [day.day for day in billed], shares, settings, now, kind="unexplained_bill", message=unexplained_bill_message,
        more_details=lambda first: {"unexplained_usd_after": sum(day.unexplained_usd for day in billed[first:])})
