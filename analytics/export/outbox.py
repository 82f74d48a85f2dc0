"""The records still to export, in order: a table of the store filled by a trigger.

A cursor on `ts` would miss a record that reaches the store late (an agent offline for days
pushes its backlog to the collector), so every record written gets an outbox entry in the
transaction that writes it, whoever writes it. The trigger is installed when an export first
runs (and every record stored so far is queued once), and dropped by `offgate export --stop`:
a store that exports nothing pays nothing. A record deleted before it is sent (the proxy's
record replacing the extension's copy of the same call) is skipped, so a call goes out once.

Only one drain runs at a time per store, so no entry is sent twice by two processes: on
PostgreSQL (several collectors on one database) a transaction-level advisory lock, on
SQLite (`offgate up` and `offgate export --once` on one home) a lock file beside the store.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peewee import JOIN, PostgresqlDatabase, SqliteDatabase

from offgate.store import Store
from offgate.store.export import ExportOutboxRow, ExportStateRow
from offgate.store.schema import UsageEventRow

_SQLITE_TRIGGER = ("CREATE TRIGGER IF NOT EXISTS export_outbox_put AFTER INSERT ON usage_event "
                   "BEGIN INSERT INTO export_outbox (event_id) VALUES (NEW.id); END")
_POSTGRES_TRIGGER = (
    """CREATE OR REPLACE FUNCTION export_outbox_put() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO export_outbox (event_id) VALUES (NEW.id);
        RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER export_outbox_put AFTER INSERT ON usage_event "
    "FOR EACH ROW EXECUTE FUNCTION export_outbox_put()",
)
_SQLITE_STOP = ("DROP TRIGGER IF EXISTS export_outbox_put",)
_POSTGRES_STOP = ("DROP TRIGGER IF EXISTS export_outbox_put ON usage_event",
                  "DROP FUNCTION IF EXISTS export_outbox_put()")
_DRAIN_LOCK = 0x6F_66_67_65_78_70  # "ofgexp": one advisory lock id for every offgate drain
_EVENT_FIELDS = UsageEventRow._meta.sorted_fields  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class OutboxEntries:
    """The oldest entries: the records still stored, as dicts, and the last position read."""

    records: list[dict[str, Any]]
    last_seq: int
    entries: int


class ExportOutbox:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def ensure(self) -> None:
        """The trigger in place; the first time, every record stored so far queued with it."""
        postgres = isinstance(self._db, PostgresqlDatabase)
        with self._store.reporting("start the export outbox in"), self._db.atomic():
            if postgres:  # two collectors starting at once: one installs, the other waits and finds it done
                self._db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_DRAIN_LOCK,))
            started = ExportStateRow.select().exists(self._db)
            for statement in _POSTGRES_TRIGGER if postgres else (_SQLITE_TRIGGER,):
                self._db.execute_sql(statement)
            if not started:
                row = UsageEventRow
                ExportOutboxRow.insert_from(row.select(row.id).order_by(row.ts, row.id),
                                            [ExportOutboxRow.event_id]).execute(self._db)
                ExportStateRow.insert(started_at=datetime.now(UTC).replace(tzinfo=None)).execute(self._db)

    def stop(self) -> int:
        """No more queuing: the trigger dropped, the entries waiting dropped (their count
        returned). Starting again later sends every record then stored, anew."""
        postgres = isinstance(self._db, PostgresqlDatabase)
        with self._store.reporting("stop the export outbox in"), self._db.atomic():
            if postgres:
                self._db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_DRAIN_LOCK,))
            for statement in _POSTGRES_STOP if postgres else _SQLITE_STOP:
                self._db.execute_sql(statement)
            dropped = ExportOutboxRow.delete().execute(self._db)
            ExportStateRow.delete().execute(self._db)
        return dropped

    @contextmanager
    def draining(self) -> Iterator[bool]:
        """Held while one batch is read, sent and acknowledged: True if this process may
        drain now, False if another one is draining this store."""
        if isinstance(self._db, PostgresqlDatabase):
            with self._store.reporting("lock the export outbox in"), self._db.atomic():
                yield bool(self._db.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (_DRAIN_LOCK,)).fetchone()[0])
            return
        assert isinstance(self._db, SqliteDatabase)
        with open(Path(self._db.database).with_name(Path(self._db.database).name + ".export-lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def read(self, limit: int) -> OutboxEntries:
        entry, row = ExportOutboxRow, UsageEventRow
        query = (entry.select(entry.seq, *_EVENT_FIELDS)
                 .join(row, JOIN.LEFT_OUTER, on=(row.id == entry.event_id))
                 .order_by(entry.seq).limit(limit))
        with self._store.reporting("read the export outbox in"):
            rows = list(query.tuples().execute(self._db))
        seen: set[str] = set()
        records: list[dict[str, Any]] = []
        for _, *values in rows:
            record = {field.name: value for field, value in zip(_EVENT_FIELDS, values, strict=True)}
            if record["id"] is not None and record["id"] not in seen:  # None: deleted since it was queued
                seen.add(record["id"])
                records.append(record)
        return OutboxEntries(records, rows[-1][0] if rows else 0, len(rows))

    def acknowledge(self, through_seq: int) -> None:
        with self._store.reporting("update the export outbox in"):
            ExportOutboxRow.delete().where(ExportOutboxRow.seq <= through_seq).execute(self._db)

    def pending(self) -> int:
        with self._store.reporting("count the export outbox in"):
            return ExportOutboxRow.select().count(self._db)
