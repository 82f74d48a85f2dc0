"""The unmanaged-share alert: a lasting rise in the share of each day's AI spend that went
around the gateway (detectors.rise_change_point over the complete days read; days without
any spend are left out, and so are days with spend rows LiteLLM logged without a cost: their
managed spend, and so their share, is unknown). Raised when the rise is significant at the false discovery rate
(one test per run) and at least share_rise.MIN_SHARE_RISE; `ts` is the first day after the change, so
one change raises one alert however many runs see it. Critical from share_rise.CRITICAL_SHARE_RISE.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from analytics.alerts.messages import share_message
from analytics.alerts.series import UsageSeries
from analytics.alerts.share_rise import share_rise_alerts
from offgate.config import AlertSettings
from offgate.store.alerts import Alert


def share_alerts(data: UsageSeries, settings: AlertSettings, now: datetime) -> list[Alert]:
    days = [day for day in data.daily if day.day < now.date() and not day.unpriced_spend_rows
            and day.managed_cost_usd + day.unmanaged_cost_usd > 0]
    shares = np.array([day.unmanaged_cost_usd / (day.managed_cost_usd + day.unmanaged_cost_usd) for day in days])
    return share_rise_alerts([day.day for day in days], shares, settings, now, kind="unmanaged_share",
                             message=share_message)

