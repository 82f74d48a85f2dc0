"""Budget alerts: where this month's unmanaged spend is heading, in total and per entity with
a budget, and an alert once passing the budget is likely enough (`budget_probability`).

The forecast is the month to date plus the rest of the month from a linear trend over the
last FORECAST_DAYS complete days (detectors.month_end_forecast), counted from the first call
when the history is shorter. With fewer than MIN_FORECAST_DAYS days there is no forecast,
and only a budget already passed is raised. A budget alert is about its month (`ts` is the
month's first hour), so each budget raises at most one alert a month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from analytics.alerts.detectors import MIN_FORECAST_DAYS, month_end_forecast
from analytics.alerts.messages import budget_message
from analytics.alerts.series import UsageSeries
from offgate.config import AlertSettings
from offgate.store.alerts import Alert, AlertScope

FORECAST_DAYS = 28
DAY = timedelta(days=1)


def budget_alerts(data: UsageSeries, settings: AlertSettings, now: datetime) -> list[Alert]:
    budgets: list[tuple[AlertScope, str, float]] = (
        [("total", "all", settings.monthly_budget_usd)] if settings.monthly_budget_usd else [])
    budgets.extend(settings.entity_budgets())
    alerts = []
    for dimension, entity, budget in budgets:
        spend = _daily_spend(data, dimension, entity, now)
        if spend is not None:
            alert = _budget_alert(dimension, entity, budget, *spend, settings, now)
            if alert is not None:
                alerts.append(alert)
    return alerts


def _daily_spend(data: UsageSeries, dimension: str, entity: str,
                 now: datetime) -> tuple[dict[date, float], float] | None:
    """Unmanaged spend per UTC day from the data's start up to now, and the first call's
    time; None when the entity never made an unmanaged call."""
    if dimension == "total":
        if data.first_call is None:
            return None
        days = {day.day: day.unmanaged_cost_usd for day in data.daily}
        return days, data.first_call
    series = data.dimensions.get(dimension)
    if series is None or entity not in series.entities:
        return None
    row = series.entities.index(entity)
    hourly = series.cost_usd[row]
    days = {}
    day = series.start.date()
    while datetime.combine(day, datetime.min.time(), UTC) < now:
        begin = datetime.combine(day, datetime.min.time(), UTC)
        days[day] = float(hourly[max(series.column(begin), 0):max(series.column(begin + DAY), 0)].sum())
        day += DAY
    return days, float(series.first_call[row])


def _budget_alert(dimension: AlertScope, entity: str, budget: float, days: dict[date, float], first_call: float,
                  settings: AlertSettings, now: datetime) -> Alert | None:
    today = now.date()
    month = today.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    month_to_date = sum(spent for day, spent in days.items() if month <= day <= today)
    first_day = max(datetime.fromtimestamp(first_call, UTC).date(), today - FORECAST_DAYS * DAY)
    recent = np.array([[days.get(first_day + offset * DAY, 0.0) for offset in range((today - first_day).days)]])
    details = {"month": f"{month:%Y-%m}", "month_to_date_usd": month_to_date, "days_fitted": recent.shape[1]}
    if recent.shape[1] >= MIN_FORECAST_DAYS:
        midnight = datetime.combine(today + DAY, datetime.min.time(), UTC)
        forecast = month_end_forecast(np.array([month_to_date]), recent, (midnight - now) / DAY,
                                      (next_month - today).days - 1)
        expected, low, high = float(forecast.expected[0]), float(forecast.low[0]), float(forecast.high[0])
        probability = float(forecast.probability_above(budget)[0])
    else:
        expected = low = high = month_to_date
        probability = 1.0 if month_to_date > budget else 0.0
    if probability < settings.budget_probability:
        return None
    details.update(probability=probability, forecast_low_usd=low, forecast_high_usd=high)
    month_start = datetime.combine(month, datetime.min.time(), UTC)
    return Alert(
        kind="budget", severity="critical" if month_to_date > budget else "warning", dimension=dimension,
        entity=entity, metric="cost_usd", ts=month_start,
        message=budget_message(dimension, entity, month_start, month_to_date, expected, low, high, budget, probability),
        statistic=expected, baseline=budget, details=details,
    )
