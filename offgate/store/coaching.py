"""Coaching notices shown and clicked in the browser (issue 15), in offgate's store.

The native host writes one row per notice shown and per click on the alternative's link;
counts are read per app and rule, and per app, person and day for the report's coaching part
(the person through the people mapping, as the report's calls are). Times are naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from peewee import JOIN, SQL, fn

from offgate.store.coaching_tables import CoachingEventRow
from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.people import ON_ANY_DEVICE, ON_DEVICE, call_person, person_of_call
from offgate.store.sql import between, flag, naive_utc

CoachingKind = Literal["shown", "clicked"]


@dataclass(frozen=True, slots=True)
class CoachingEvent:
    id: str
    at: datetime
    app: str
    rule: str
    kind: CoachingKind
    user: str | None
    device: str | None


@dataclass(frozen=True, slots=True)
class CoachingCount:
    app: str
    rule: str
    shown: int
    clicked: int


@dataclass(frozen=True, slots=True)
class CoachingDay:
    """Notices shown and clicked for one app and person on one UTC day (YYYY-MM-DD)."""

    app: str
    person: str | None
    day: str
    shown: int
    clicked: int


class CoachingStore:
    """The coaching table of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def record(self, event: CoachingEvent) -> None:
        """Keep one event; one whose id is already kept is skipped (the extension resends)."""
        with self._store.reporting("record coaching in"):
            CoachingEventRow.insert(
                id=event.id, at=naive_utc(event.at), app=event.app, rule=event.rule, kind=event.kind,
                user=event.user, device=event.device).on_conflict_ignore().execute(self._db)

    def counts(self, since: datetime | None = None) -> list[CoachingCount]:
        """Shows and clicks per app and rule since `since`, by app then rule."""
        query = CoachingEventRow.select(CoachingEventRow.app, CoachingEventRow.rule, CoachingEventRow.kind,
                                        fn.COUNT(CoachingEventRow.id).alias("n"))
        if since is not None:
            query = query.where(CoachingEventRow.at >= naive_utc(since))
        query = query.group_by(CoachingEventRow.app, CoachingEventRow.rule, CoachingEventRow.kind)
        found: dict[tuple[str, str], dict[str, int]] = {}
        with self._store.reporting("read coaching from"):
            for row in query.dicts().execute(self._db):
                found.setdefault((row["app"], row["rule"]), {})[row["kind"]] = row["n"]
        return [CoachingCount(app, rule, kinds.get("shown", 0), kinds.get("clicked", 0))
                for (app, rule), kinds in sorted(found.items())]

    def by_person_and_day(self, since: datetime | None, until: datetime | None,
                          only: CallFilter = ALL_CALLS) -> list[CoachingDay]:
        """Shows and clicks in [since, until) of the devices and logins `only` keeps, per app,
        person and UTC day, in that order."""
        row = CoachingEventRow
        on_device, on_any_device = person_of_call(row.user, row.device)
        query = (row.select(row.app, call_person(row.user).alias("person"), fn.DATE(row.at).alias("day"),
                            fn.SUM(flag(row.kind == "shown")).alias("shown"),
                            fn.SUM(flag(row.kind == "clicked")).alias("clicked"))
                 .join_from(row, ON_DEVICE, JOIN.LEFT_OUTER, on=on_device)
                 .join_from(row, ON_ANY_DEVICE, JOIN.LEFT_OUTER, on=on_any_device)
                 .group_by(SQL("1"), SQL("2"), SQL("3")))
        query = only.apply(between(query, row.at, since, until), row.device, row.user)
        with self._store.reporting("read coaching from"):
            found = list(query.tuples().execute(self._db))
        days = [CoachingDay(app, person, str(day)[:10], int(shown or 0), int(clicked or 0))
                for app, person, day, shown, clicked in found]
        return sorted(days, key=lambda day: (day.app, day.person or "", day.day))
