"""The alert "unexplained bill spend rising": raised once, from the first day of the rise,
when the share of each day's bill that nobody explains steps up; silent while it stays flat."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from analytics.alerts.bill import BillDay, unexplained_bill_alerts
from offgate.config import AlertSettings

START = date(2026, 11, 1)
NOW = datetime(2026, 11, 21, 9, tzinfo=UTC)
WOBBLE = (0.01, 0.03, 0.02, 0.0, 0.02, 0.01, 0.03, 0.02, 0.01, 0.02)


def days(shares: list[float]) -> list[BillDay]:
    return [BillDay(START + timedelta(days=i), 100.0, 100.0 * share) for i, share in enumerate(shares)]


def test_a_step_in_the_unexplained_share_raises_one_alert_from_its_first_day():
    shares = [*WOBBLE, *(0.4 + w for w in WOBBLE)]
    (alert,) = unexplained_bill_alerts(days(shares), AlertSettings(), NOW)
    assert (alert.kind, alert.severity, alert.ts.date()) == ("unexplained_bill", "critical", START + timedelta(days=10))
    assert alert.message.startswith("Unexplained bill spend is rising: the share of each day's provider bill")
    assert "from 2% to 42%" in alert.message


def test_a_flat_unexplained_share_raises_nothing():
    assert unexplained_bill_alerts(days([*WOBBLE, *WOBBLE]), AlertSettings(), NOW) == []
