"""The coaching table on both backends: a notice kept once per id, counted per app and rule."""

from __future__ import annotations

from datetime import UTC, datetime

from offgate.store import Store
from offgate.store.coaching import CoachingCount, CoachingEvent, CoachingKind, CoachingStore

MORNING = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
EVENING = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def event(event_id: str, kind: CoachingKind = "shown", at: datetime = MORNING, app: str = "chatgpt",
          rule: str = "coach chat") -> CoachingEvent:
    return CoachingEvent(event_id, at, app, rule, kind, "alice", "laptop-1")


def test_shows_and_clicks_are_counted_per_app_and_rule_once_per_id(store_url: str) -> None:
    with Store.open(store_url) as store:
        coaching = CoachingStore(store)
        for kept in (event("a"), event("a"), event("b", "clicked"), event("c", at=EVENING),
                     event("d", app="claude-web", rule="coach claude", at=EVENING)):
            coaching.record(kept)
        assert coaching.counts() == [CoachingCount("chatgpt", "coach chat", shown=2, clicked=1),
                                     CoachingCount("claude-web", "coach claude", shown=1, clicked=0)]
        assert coaching.counts(since=datetime(2026, 12, 7, 12, 0, tzinfo=UTC)) == [
            CoachingCount("chatgpt", "coach chat", shown=1, clicked=0),
            CoachingCount("claude-web", "coach claude", shown=1, clicked=0)]
