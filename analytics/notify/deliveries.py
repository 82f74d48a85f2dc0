"""The notification table: how each alert fared on each channel (row id "<alert id>:<channel>").

It is the outbox every watcher process shares. An alert is due on a channel while it is open
(not acknowledged), severe enough, raised recently, and has no row there yet (never tried)
or a "failed" one (to retry). A row becomes "sent", or "gave_up" once its attempts are spent.
Sent rows are what the hourly rate limit counts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from offgate.store import Store, naive_utc
from offgate.store.alerts import SEVERITIES
from offgate.store.schema import AlertRow, NotificationRow


@dataclass(frozen=True)
class Due:
    alert_id: str
    attempts: int  # made so far, on earlier ticks


class Deliveries:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def due(self, channel: str, severities: Collection[str], raised_since: datetime) -> list[Due]:
        """What to send on `channel`: most severe first, then oldest first."""
        alert, sent = AlertRow, NotificationRow
        query = (
            alert.select(alert.id, alert.severity, alert.ts, sent.attempts)
            .join(sent, JOIN.LEFT_OUTER, on=((sent.alert_id == alert.id) & (sent.channel == channel)))
            .where(alert.acked_at.is_null(), alert.severity.in_(list(severities)),
                   alert.raised_at >= naive_utc(raised_since), sent.id.is_null() | (sent.status == "failed"))
        )
        with self._store.reporting("read notifications from"):
            rows = list(query.tuples().execute(self._db))
        rows.sort(key=lambda row: (-SEVERITIES.index(row[1]), row[2], row[0]))
        return [Due(alert_id, attempts or 0) for alert_id, _, _, attempts in rows]

    def sent_since(self, channel: str, since: datetime) -> int:
        row = NotificationRow
        query = row.select().where(row.channel == channel, row.sent_at >= naive_utc(since))
        with self._store.reporting("count notifications in"):
            return query.count(self._db)

    def record(self, alert_id: str, channel: str, status: str, attempts: int, now: datetime,
               error: str | None = None) -> None:
        """Note the outcome of this tick's attempts: `status` sent, failed or gave_up;
        `attempts` the total so far."""
        row = NotificationRow
        now = naive_utc(now)
        fields = {"id": f"{alert_id}:{channel}", "alert_id": alert_id, "channel": channel, "status": status,
                  "attempts": attempts, "last_attempt_at": now, "sent_at": now if status == "sent" else None,
                  "error": error}
        query = row.insert(fields).on_conflict(
            conflict_target=[row.id], preserve=[row.status, row.attempts, row.last_attempt_at, row.sent_at, row.error])
        with self._store.reporting("write notifications to"), self._db.atomic():
            query.execute(self._db)
