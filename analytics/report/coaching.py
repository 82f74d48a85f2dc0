"""The report's coaching part: does coaching work? Per tool (app) and person, per week (per
UTC day for windows of up to 14 days), unmanaged calls against gateway calls, so a reader sees
unmanaged calls turning into gateway calls; with the notices the browser showed and had
clicked (coaching_event) and the calls the proxy coached and blocked (usage_event's
policy_outcome). The gateway's own calls upstream are not the people's and count nowhere.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from analytics.report.document import Coaching, CoachingCounts, CoachingPeriod, CoachingTrend
from analytics.report.values import count, label
from offgate.store.coaching import CoachingStore
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.queries import POLICY_OUTCOME, WEEK, CallQueries
from offgate.vocabulary import DAY, GATEWAY, GATEWAY_UPSTREAM

DAYS_SHOWN_BY_DAY = timedelta(days=14)
COUNT_FIELDS = tuple(CoachingCounts.model_fields)
Period = Literal["week", "day"]
Counts = dict[str, int]


def coaching_part(calls: CallQueries, since: datetime | None, until: datetime,
                  only: CallFilter = ALL_CALLS) -> Coaching:
    period: Period = "day" if since is not None and until - since <= DAYS_SHOWN_BY_DAY else "week"
    found: dict[tuple[str | None, str | None], dict[date, Counts]] = {}

    def counts_of(app: str | None, person: str | None, start: date) -> Counts:
        return found.setdefault((app, person), {}).setdefault(start, dict.fromkeys(COUNT_FIELDS, 0))

    # Counted per period by the database: at fleet scale a row per person and day is most of the part's time.
    key = WEEK if period == "week" else DAY
    for group in calls.class_counts(since, until, ["app", "user", key, POLICY_OUTCOME], only):
        if group.classification == GATEWAY_UPSTREAM:
            continue
        counts = counts_of(group.keys["app"], group.keys["user"], date.fromisoformat(group.keys[key]))
        outcome = group.keys[POLICY_OUTCOME]
        if group.classification == GATEWAY:
            counts["gateway_calls"] += group.calls
        elif outcome == "blocked":
            counts["blocked_calls"] += group.calls
        else:
            counts["unmanaged_calls"] += group.calls
            counts["coached_calls"] += group.calls if outcome == "coached" else 0
    for notices in CoachingStore(calls.store).by_person_and_day(since, until, only):
        counts = counts_of(notices.app, notices.person, period_start(date.fromisoformat(notices.day), period))
        counts["notices_shown"] += notices.shown
        counts["notices_clicked"] += notices.clicked

    last = max((start for periods in found.values() for start in periods), default=None)
    trends = [_trend(app, person, periods, last, period) for (app, person), periods in found.items()
              if _around_or_coached(periods)]
    trends.sort(key=lambda trend: (-trend.unmanaged_calls, -trend.blocked_calls, label(trend.app), label(trend.user)))
    return Coaching(period=period, trends=trends)


def period_start(day: date, period: Period) -> date:
    """The period a UTC day falls in, by its first day (a week's Monday)."""
    return day - timedelta(days=day.weekday()) if period == "week" else day


def _around_or_coached(periods: dict[date, Counts]) -> bool:
    """Whether any call went around the gateway or the person was coached: a tool only ever
    used through the gateway has nothing to show here."""
    return any(counts[name] for counts in periods.values() for name in COUNT_FIELDS if name != "gateway_calls")


def _trend(app: str | None, person: str | None, periods: dict[date, Counts], last: date | None,
           period: Period) -> CoachingTrend:
    if last is not None:
        periods.setdefault(last, dict.fromkeys(COUNT_FIELDS, 0))
    shown = [CoachingPeriod(start=start, **periods[start]) for start in sorted(periods)]
    totals = {name: sum(counts[name] for counts in periods.values()) for name in COUNT_FIELDS}
    return CoachingTrend(app=app, user=person, periods=shown, summary=_summary(app, person, shown, totals, period),
                         **totals)


def _summary(app: str | None, person: str | None, periods: list[CoachingPeriod], totals: Counts,
             period: Period) -> str:
    """E.g. "claude-code for alice: 12 unmanaged and 0 gateway calls in the week of 2026-11-02,
    0 and 9 in the week of 2026-11-16; 2 notices shown, 1 clicked; 3 calls coached, 0 blocked"."""
    first, latest = periods[0], periods[-1]

    def when(part: CoachingPeriod) -> str:
        return f"in the week of {part.start.isoformat()}" if period == "week" else f"on {part.start.isoformat()}"

    calls = (f"{count(first.unmanaged_calls)} unmanaged and {count(first.gateway_calls)} gateway calls "
             f"{when(first)}")
    if latest is not first:
        calls += f", {count(latest.unmanaged_calls)} and {count(latest.gateway_calls)} {when(latest)}"
    return (f"{label(app)} for {label(person)}: {calls}; {_counted(totals['notices_shown'], 'notice')} shown, "
            f"{count(totals['notices_clicked'])} clicked; {_counted(totals['coached_calls'], 'call')} coached, "
            f"{count(totals['blocked_calls'])} blocked")


def _counted(number: int, thing: str) -> str:
    return f"{count(number)} {thing}{'' if number == 1 else 's'}"
