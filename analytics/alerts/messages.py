"""The one plain sentence each alert carries, for a manager rather than a statistician."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from offgate.money import usd

# How a sentence names an entity of each dimension ("Unmanaged AI spend by alice ...").
_BY = {"user": "by {}", "device": "on device {}", "app": "in {}", "provider": "with {}",
       "key": "with the API key {}", "total": "across all users"}
_NEW = {
    "app": "A new AI app, {entity}, was used for the first time",
    "provider": "A new AI provider, {entity}, was called directly for the first time",
    "key": "A new API key ({entity}) made its first direct AI call",
    "device": "Device {entity} used AI outside the gateway for the first time",
}


def who(dimension: str, entity: str) -> str:
    return _BY[dimension].format(entity)


def count(number: float) -> str:
    """12, 4,800, 2.1M: a count as people read it."""
    if number >= 10_000_000:
        return f"{number / 1_000_000:,.0f}M"
    if number >= 1_000_000:
        return f"{number / 1_000_000:.1f}M"
    if number >= 100_000:
        return f"{number / 1000:,.0f}k"
    return f"{number:,.0f}"


def hour_phrase(moment: datetime, now: datetime) -> str:
    """"the hour from 14:00 UTC on Tue 24 Nov" (the year only when it is not this year's)."""
    return f"the hour from {moment:%H}:00 UTC on {day_phrase(moment, now)}"


def day_phrase(moment: datetime, now: datetime) -> str:
    year = "" if moment.year == now.year else f" {moment.year}"
    return f"{moment:%a} {moment.day} {moment:%b}{year}"


def time_phrase(moment: datetime, now: datetime) -> str:
    return f"{moment:%H:%M} UTC on {day_phrase(moment, now)}"


def compared(observed: float, usual: float, usual_text: str, moment: datetime, idle: str) -> str:
    """", about 7 times the usual $2.00 for a Tuesday at that hour" (or how it is usually idle)."""
    weekday = f"{moment:%A}"
    if usual <= 0:
        return f", when a {weekday} at that hour usually {idle}"
    ratio = observed / usual
    if usual_text.startswith("under"):  # a near-idle baseline: a multiple like 40000 tells a reader nothing
        return f", when it is usually {usual_text} for a {weekday} at that hour"
    times = f"{ratio:.0f}" if ratio >= 2 else f"{math.floor(ratio * 10) / 10:.1f}"
    return f", about {times} times the usual {usual_text} for a {weekday} at that hour"


def spike_message(dimension: str, entity: str, metric: str, moment: datetime, observed: float, usual: float,
                  now: datetime) -> str:
    hour = hour_phrase(moment, now)
    if metric == "cost_usd":
        opening = f"Unmanaged AI spend {who(dimension, entity)} was {usd(observed, cents=True)} in {hour}"
        return opening + compared(observed, usual, usd(usual, cents=True), moment, "costs nothing") + "."
    if metric == "calls":
        opening = f"There were {count(observed)} unmanaged AI calls {who(dimension, entity)} in {hour}"
        return opening + compared(observed, usual, count(usual), moment, "has no calls") + "."
    opening = f"Unpriced unmanaged AI calls {who(dimension, entity)} used {count(observed)} tokens in {hour}"
    return opening + compared(observed, usual, count(usual), moment, "has no calls") + "."


def first_seen_message(dimension: str, entity: str, first: datetime, calls: float, cost: float,
                       now: datetime) -> str:
    spent = f"{count(calls)} call{'s' if calls != 1 else ''} and {usd(cost, cents=True)} of unmanaged spend so far"
    return f"{_NEW[dimension].format(entity=entity)} at {time_phrase(first, now)}: {spent}."


def found_app_message(app: str, device: str, places: list[str], first: datetime, now: datetime) -> str:
    return f"A new AI app, {app}, was found on {device} at {time_phrase(first, now)} ({', '.join(places)})."


def budget_message(dimension: str, entity: str, month: datetime, month_to_date: float, expected: float,
                   low: float, high: float, budget: float, probability: float) -> str:
    spend = f"Unmanaged AI spend {who(dimension, entity)}"
    month_name = f"{month:%B %Y}"
    reached, forecast, limit = (usd(amount, cents=True) for amount in (month_to_date, expected, budget))
    if month_to_date > budget:
        return (f"{spend} has reached {reached} in {month_name}, over its {limit} budget; "
                f"about {forecast} is expected by the end of the month.")
    return (f"At the current pace, {spend[0].lower()}{spend[1:]} in {month_name} will reach about {forecast} "
            f"(90% range {usd(low, cents=True)} to {usd(high, cents=True)}), against a budget of {limit}: "
            f"{probability:.0%} likely to pass it.")


def unexplained_bill_message(before: float, after: float, change: datetime, now: datetime) -> str:
    return (f"Unexplained bill spend is rising: the share of each day's provider bill that neither LiteLLM nor "
            f"the agents explain rose from {before:.0%} to {after:.0%}, from {day_phrase(change, now)} on.")


def share_message(before: float, after: float, change: datetime, now: datetime) -> str:
    return (f"The unmanaged share of AI spend rose from {before:.0%} to {after:.0%} of each day's spend, "
            f"from {day_phrase(change, now)} on.")


def silent_device_message(device: str, owner: str | None, last_seen: datetime, now: datetime) -> str:
    return (f"Device {_device(device, owner)} has not reported since {time_phrase(last_seen, now)} "
            f"({_span(now - last_seen)}): offgate may have been removed or switched off there.")


def proxy_silent_message(device: str, owner: str | None, proxy_last: datetime, extension_last: datetime,
                         now: datetime) -> str:
    return (f"The proxy on device {_device(device, owner)} has recorded no call since {time_phrase(proxy_last, now)}, "
            f"while its browser extension still reports (last at {time_phrase(extension_last, now)}): "
            "the proxy may be switched off or bypassed.")


def _device(name: str, owner: str | None) -> str:
    return f"{name} ({owner}'s)" if owner else name


def _span(length: timedelta) -> str:
    """"30 hours", "3 days": how long, rounded down, as a person says it."""
    hours = int(length.total_seconds() // 3600)
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"
