"""Connections offgate could not read, in offgate's store.

When a client refuses the proxy's certificate for a host (it does not trust offgate's CA,
or it pins certificates), the proxy passes that client's later connections to the host
through untouched for a while, so the client keeps working. Its usage there is unread,
and must not be silent: the proxy counts those connections here, per UTC day, device,
user, process and host, and `offgate status` and the report say, per process and host,
"N connections from cursor to api2.cursor.sh could not be read (certificate not trusted
or pinned)".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from peewee import EXCLUDED, Case, fn

from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.schema import UnreadConnectionRow
from offgate.store.sql import naive_utc

REASON = "certificate not trusted or pinned"


@dataclass(frozen=True, slots=True)
class UnreadSource:
    """Whose connections to which host could not be read."""

    host: str
    process_name: str | None = None
    exe: str | None = None
    user: str | None = None
    device: str | None = None


@dataclass(slots=True)
class UnreadCount:
    """What one source did on one UTC day: connections refused, then passed through."""

    source: UnreadSource
    day: date
    first_seen: datetime  # UTC
    last_seen: datetime
    handshakes_failed: int = 0
    passed_through: int = 0

    def merge(self, other: UnreadCount) -> None:
        self.handshakes_failed += other.handshakes_failed
        self.passed_through += other.passed_through
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)


class UnreadConnectionStore:
    """The counts of unread connections, in the tables of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def add(self, counts: Sequence[UnreadCount]) -> None:
        """Add the counts to those stored (one transaction)."""
        if not counts:
            return
        row = UnreadConnectionRow
        later = Case(None, [(EXCLUDED.last_seen > row.last_seen, EXCLUDED.last_seen)], row.last_seen)
        earlier = Case(None, [(EXCLUDED.first_seen < row.first_seen, EXCLUDED.first_seen)], row.first_seen)
        query = row.insert_many([_row_from(count) for count in counts]).on_conflict(
            conflict_target=[row.id],
            update={
                row.handshakes_failed: row.handshakes_failed + EXCLUDED.handshakes_failed,
                row.passed_through: row.passed_through + EXCLUDED.passed_through,
                row.first_seen: earlier,
                row.last_seen: later,
            },
        )
        with self._store.reporting("write unread connections to"), self._db.atomic():
            query.execute(self._db)

    def by_process_and_host(self, since: datetime | None = None, until: datetime | None = None,
                            about: CallFilter = ALL_CALLS) -> list[dict[str, Any]]:
        """Per process and host, the connections that could not be read on the days seen
        within [since, until) (a day counts whole once any of it is), most first; with
        `about`, those of its devices and users. Each has its sentence in `message`."""
        row = UnreadConnectionRow
        failed, passed = fn.SUM(row.handshakes_failed), fn.SUM(row.passed_through)
        query = (row.select(row.process_name, row.host, failed.alias("handshakes_failed"),
                            passed.alias("passed_through"), fn.MIN(row.first_seen).alias("first_seen"),
                            fn.MAX(row.last_seen).alias("last_seen"))
                 .group_by(row.process_name, row.host))
        query = about.apply(query, row.device, row.user)
        if since is not None:
            query = query.where(row.last_seen >= naive_utc(since))
        if until is not None:
            query = query.where(row.first_seen < naive_utc(until))
        with self._store.reporting("read unread connections from"):
            groups = list(query.dicts().execute(self._db))
        found: list[dict[str, Any]] = []
        for group in groups:
            # PostgreSQL sums integers as NUMERIC (Decimal): hand out plain ints.
            failed_count, passed_count = int(group["handshakes_failed"]), int(group["passed_through"])
            entry = {
                "process": group["process_name"],
                "host": group["host"],
                "connections": failed_count + passed_count,
                "handshakes_failed": failed_count,
                "passed_through": passed_count,
                "first_seen": group["first_seen"].replace(tzinfo=UTC).isoformat(),
                "last_seen": group["last_seen"].replace(tzinfo=UTC).isoformat(),
            }
            entry["message"] = unread_sentence(entry)
            found.append(entry)
        return sorted(found, key=lambda e: (-e["connections"], e["process"] is None, str(e["process"]), e["host"]))


def unread_sentence(entry: dict[str, Any]) -> str:
    """"N connections from cursor to api2.cursor.sh could not be read (...)"."""
    count = entry["connections"]
    who = entry["process"] or "an unknown process"
    return (f"{count:,} connection{'' if count == 1 else 's'} from {who} to {entry['host']} could not be read "
            f"({REASON})")


def _row_from(count: UnreadCount) -> dict[str, Any]:
    source = count.source
    key = [count.day.isoformat(), source.device, source.user, source.process_name, source.exe, source.host]
    return {
        "id": json.dumps(key), "day": count.day, "device": source.device, "user": source.user,
        "process_name": source.process_name, "exe": source.exe, "host": source.host,
        "handshakes_failed": count.handshakes_failed, "passed_through": count.passed_through,
        "first_seen": naive_utc(count.first_seen), "last_seen": naive_utc(count.last_seen),
    }
