"""Coaching notices shown and clicked in the browser (issue 15), in offgate's store.

The native host writes one row per notice shown and per click on the alternative's link;
counts are read per app and rule. Times are naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from peewee import fn

from offgate.store.coaching_tables import CoachingEventRow
from offgate.store.core import Store
from offgate.store.sql import naive_utc

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
