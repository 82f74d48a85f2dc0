"""The store: every UsageEvent, in SQLite (the default) or PostgreSQL, with the same code.

It is the only state the processes share, and several write at once (proxy, native host,
imports). SQLite runs in WAL mode so readers never wait for the writer, with a busy
timeout so writers wait their turn instead of failing, and its transactions begin
IMMEDIATE so a writer takes the lock before reading rather than failing to upgrade it.
Each thread gets its own connection, opened on first use. Every database failure is
raised as StoreError, whose message never contains the URL's password.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg2
from peewee import (
    SQL,
    Case,
    Database,
    DataError,
    IntegrityError,
    ModelSelect,
    OperationalError,
    PeeweeException,
    PostgresqlDatabase,
    SqliteDatabase,
    chunked,
    fn,
)

from offgate.config import redact_url
from offgate.errors import OffgateError
from offgate.events import UsageEvent
from offgate.same_call import DUPLICATE_WINDOW, Record, RecordedCalls, call_key
from offgate.store_schema import MIGRATIONS, Migration, SchemaTooNewError, UsageEventRow, read_version, upgrade

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
SQLITE_BUSY_TIMEOUT_S = 10
SQLITE_PRAGMAS = (("journal_mode", "wal"), ("synchronous", "normal"))
POSTGRES_CONNECT_TIMEOUT_S = 10
# SQLite binds at most 32766 parameters per statement: 100 rows of 36 columns stay well under.
INSERT_BATCH_ROWS = 100
POSTGRES_DEDUP_LOCK = 0x0FF6A7F  # any fixed number, distinct from the migration lock
TOTALS_DIMENSIONS = ("provider", "model", "app", "process_name", "route", "endpoint")

_DATABASE_ERRORS = (PeeweeException, sqlite3.Error, psycopg2.Error)


# SQLSTATE classes that blame the values written, not the server: data exception,
# integrity constraint violation, program limit exceeded (an index entry too large).
_REFUSED_VALUE_SQLSTATES = ("22", "23", "54")


class StoreError(OffgateError):
    """The store cannot be opened, read or written; the message says which store and why.

    `retryable` is False when the store refused what was written (a value out of range, a
    constraint): trying the same rows again cannot help. Otherwise the store itself failed
    (down, unreachable, locked, full) and a later try may succeed."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Store:
    def __init__(self, database: Database, url: str) -> None:
        self._db = database
        self._url = url

    @classmethod
    def open(cls, url: str, *, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
        """Open the store at `url`, creating or upgrading its tables."""
        store = cls(_database_for(url), url)
        with store.reporting("open"):
            try:
                store._upgrade(migrations)
            except SchemaTooNewError as exc:
                raise StoreError(
                    f"{cls.describe(url)} has schema version {exc.found}, but this offgate "
                    f"knows only up to version {exc.known}: upgrade offgate"
                ) from None
        return store

    def _upgrade(self, migrations: Sequence[Migration]) -> None:
        # Switching a new SQLite file to WAL takes a lock that SQLite's busy timeout does not
        # wait for: a second process opening the same new file at that moment is told
        # "database is locked" at once. It simply tries again until the timeout is spent.
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
        while True:
            try:
                upgrade(self._db, migrations)
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                self._db.close()
                time.sleep(0.02)

    @staticmethod
    def describe(url: str) -> str:
        """Which store a URL names, with any password masked."""
        if url.startswith(SQLITE_PREFIX):
            return f"SQLite database {url.removeprefix(SQLITE_PREFIX)}"
        if url.startswith(POSTGRES_PREFIXES):
            return f"PostgreSQL database {redact_url(url)}"
        return f"database {redact_url(url)}"

    def add(self, events: Sequence[UsageEvent]) -> int:
        """Insert in one transaction; returns how many were inserted. Skipped: events whose
        id is already stored, and another capture path's record of a call already recorded;
        a proxy record replaces the extension's record of its call (see `_not_yet_recorded`)."""
        added = 0
        with self.reporting("write events to"), self._db.atomic():
            fresh, displaced = self._not_yet_recorded(events)
            for batch in chunked(displaced, INSERT_BATCH_ROWS):
                UsageEventRow.delete().where(UsageEventRow.id.in_(batch)).execute(self._db)
            for batch in chunked([_row_from(event) for event in fresh], INSERT_BATCH_ROWS):
                query = UsageEventRow.insert_many(batch).on_conflict_ignore().as_rowcount()
                added += query.execute(self._db)
        return added

    def _not_yet_recorded(self, events: Sequence[UsageEvent]) -> tuple[list[UsageEvent], list[str]]:
        """The events to insert, and the ids of stored records they displace, by the rule in
        `offgate.same_call`: the stored records it needs are found through the
        (response_id, ts) index (and, before a record displaces another, its own id by the
        primary key)."""
        keyed = [event for event in events if event.response_id]
        if not keyed:
            return list(events), []
        if isinstance(self._db, PostgresqlDatabase):
            # Writers in other processes check and insert in their own transactions: take turns.
            self._db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_DEDUP_LOCK,))
        row = UsageEventRow
        recorded = RecordedCalls(lambda event_id: row.select().where(row.id == event_id).exists(self._db))
        sources = {event.source for event in keyed}
        for batch in chunked(keyed, INSERT_BATCH_ROWS):
            times = [naive_utc(event.ts) for event in batch]
            query = row.select(row.id, row.host, row.response_id, row.device, row.source, row.ts, row.user).where(
                row.response_id.in_({event.response_id for event in batch}),
                row.ts.between(min(times) - DUPLICATE_WINDOW, max(times) + DUPLICATE_WINDOW),
            )
            if len(sources) == 1:
                # A path's own records are never the same call (an app may reuse ids): not read.
                query = query.where(row.source != next(iter(sources)))
            for event_id, host, response_id, device, source, ts, user in query.tuples().execute(self._db):
                recorded.note_stored(call_key(host, response_id, device), Record(event_id, source, ts, user))
        fresh: dict[str, UsageEvent] = {}
        displaced: list[str] = []
        for event in events:
            if event.response_id:
                admitted, replaced = recorded.admit(event, naive_utc(event.ts))
                if not admitted:
                    continue
                if replaced is not None and fresh.pop(replaced.id, None) is None:
                    displaced.append(replaced.id)  # stored before this batch
            fresh.setdefault(event.id, event)
        return list(fresh.values()), displaced

    def events(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[UsageEvent]:
        """Events with since <= ts < until, oldest first (ties by id); the first `limit`.
        Naive times are taken as UTC."""
        query = _in_window(UsageEventRow.select(), since, until).order_by(UsageEventRow.ts, UsageEventRow.id)
        if limit is not None:
            query = query.limit(limit)
        with self.reporting("read events from"):
            rows = list(query.dicts().execute(self._db))
        return [UsageEvent.model_validate(row) for row in rows]

    def count(self, since: datetime | None = None) -> int:
        with self.reporting("count events in"):
            return _in_window(UsageEventRow.select(), since).count(self._db)

    def totals(self, by: str, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per value of `by` (one of TOTALS_DIMENSIONS): calls, token and cost sums (None
        when no call in the group has a value), calls with estimated tokens, calls without
        a price, and the first and last call's time. Most expensive first, then most calls."""
        if by not in TOTALS_DIMENSIONS:
            raise ValueError(f"cannot total by {by!r}: choose one of {', '.join(TOTALS_DIMENSIONS)}")
        row = UsageEventRow
        key = getattr(row, by)
        calls = fn.COUNT(SQL("*"))
        cost = fn.SUM(row.cost_usd)
        query = (
            row.select(
                key.alias("key"),
                calls.alias("calls"),
                fn.SUM(row.prompt_tokens).alias("prompt_tokens"),
                fn.SUM(row.completion_tokens).alias("completion_tokens"),
                cost.alias("cost_usd"),
                fn.SUM(Case(None, [(row.tokens_estimated, 1)], 0)).alias("estimated_calls"),
                fn.SUM(Case(None, [(row.cost_usd.is_null(), 1)], 0)).alias("unpriced_calls"),
                fn.MIN(row.ts).alias("first_seen"),
                fn.MAX(row.ts).alias("last_seen"),
            )
            .group_by(key)
            .order_by(cost.desc(nulls="LAST"), calls.desc(), key.asc(nulls="LAST"))
        )
        with self.reporting("total events in"):
            groups = list(_in_window(query, since).dicts().execute(self._db))
        # PostgreSQL sums integers as NUMERIC (Decimal): hand out plain ints and floats.
        return [
            {
                "key": group["key"],
                "calls": int(group["calls"]),
                "prompt_tokens": _int_or_none(group["prompt_tokens"]),
                "completion_tokens": _int_or_none(group["completion_tokens"]),
                "cost_usd": None if group["cost_usd"] is None else float(group["cost_usd"]),
                "estimated_calls": int(group["estimated_calls"]),
                "unpriced_calls": int(group["unpriced_calls"]),
                "first_seen": group["first_seen"].replace(tzinfo=UTC),
                "last_seen": group["last_seen"].replace(tzinfo=UTC),
            }
            for group in groups
        ]

    def schema_version(self) -> int:
        with self.reporting("read the schema version of"):
            return read_version(self._db)

    def close(self) -> None:
        """Close this thread's connection (other threads' close when those threads end)."""
        with self.reporting("close"):
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def database(self) -> Database:
        """The peewee database, for the modules that keep tables of their own here (spend_store)."""
        return self._db

    @contextmanager
    def reporting(self, action: str) -> Iterator[None]:
        """Turn any database error inside the block into a StoreError saying what failed."""
        try:
            yield
        except _DATABASE_ERRORS as exc:
            # One line (libpq's messages span several), and never the password.
            reason = _without_password(" ".join(str(exc).split()) or type(exc).__name__, self._url)
            raise StoreError(f"cannot {action} {self.describe(self._url)}: {reason}",
                             retryable=not _refused_values(exc)) from None


def _database_for(url: str) -> Database:
    """A database handle for the URL; nothing connects until first use."""
    if url.startswith(SQLITE_PREFIX):
        return SqliteDatabase(
            url.removeprefix(SQLITE_PREFIX),
            pragmas=SQLITE_PRAGMAS,
            timeout=SQLITE_BUSY_TIMEOUT_S,
            lock_type="IMMEDIATE",
        )
    if url.startswith(POSTGRES_PREFIXES):
        # libpq reads the whole URL (query options such as sslmode included).
        dsn = "postgresql://" + url.split("://", 1)[1]
        timeout = {} if "connect_timeout=" in dsn else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
        return PostgresqlDatabase(dsn, **timeout)
    raise StoreError(
        f"unsupported database URL {redact_url(url)!r}: use sqlite:///PATH or postgresql://..."
    )


def _row_from(event: UsageEvent) -> dict[str, Any]:
    row = event.model_dump()
    row["ts"] = naive_utc(event.ts)
    return row


def naive_utc(moment: datetime) -> datetime:
    """The time as the store keeps it: naive UTC (naive input is taken as UTC already)."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _in_window(query: ModelSelect, since: datetime | None, until: datetime | None = None) -> ModelSelect:
    if since is not None:
        query = query.where(UsageEventRow.ts >= naive_utc(since))
    if until is not None:
        query = query.where(UsageEventRow.ts < naive_utc(until))
    return query


def _refused_values(exc: Exception) -> bool:
    """Whether the database refused the values rather than failed itself."""
    driver_error = getattr(exc, "orig", exc)  # peewee keeps the driver's error there
    sqlstate = getattr(driver_error, "pgcode", None)
    if sqlstate:
        return sqlstate[:2] in _REFUSED_VALUE_SQLSTATES
    return isinstance(driver_error, (sqlite3.DataError, sqlite3.IntegrityError, DataError, IntegrityError))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _without_password(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        for secret in (password, unquote(password)):
            text = text.replace(secret, "***")
    return redact_url(text)
