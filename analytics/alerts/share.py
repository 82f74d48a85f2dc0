"""The unmanaged-share alert: a lasting rise in the share of each day's AI spend that went
around the gateway (detectors.rise_change_point over the complete days read; days without
any spend are left out, and so are days with spend rows LiteLLM logged without a cost: their
managed spend, and so their share, is unknown). Raised when the rise is significant at the false discovery rate
(one test per run) and at least MIN_SHARE_RISE; `ts` is the first day after the change, so
one change raises one alert however many runs see it. Critical from CRITICAL_SHARE_RISE.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from analytics.alerts.detectors import rise_change_point
from analytics.alerts.messages import share_message
from analytics.alerts.series import UsageSeries
from offgate.config import AlertSettings
from offgate.store.alerts import Alert

MIN_SHARE_RISE = 0.05
CRITICAL_SHARE_RISE = 0.25


def share_alerts(data: UsageSeries, settings: AlertSettings, now: datetime) -> list[Alert]:
    days = [day for day in data.daily if day.day < now.date() and not day.unpriced_spend_rows
            and day.managed_cost_usd + day.unmanaged_cost_usd > 0]
    shares = np.array([day.unmanaged_cost_usd / (day.managed_cost_usd + day.unmanaged_cost_usd) for day in days])
    change = rise_change_point(shares)
    if change is None or change.p_value > settings.false_discovery_rate:
        return []
    if change.after - change.before < MIN_SHARE_RISE:
        return []
    first_day = datetime.combine(days[change.index].day, datetime.min.time(), UTC)
    rise = change.after - change.before
    return [Alert(
        kind="unmanaged_share", severity="critical" if rise >= CRITICAL_SHARE_RISE else "warning",
        dimension="total", entity="all", metric="share", ts=first_day,
        message=share_message(change.before, change.after, first_day, now),
        statistic=change.after, baseline=change.before, p_value=change.p_value,
        details={"days_before": change.index, "days_after": len(days) - change.index, "rise": rise},
    )]
