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
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from peewee import (
    Database,
    DataError,
    IntegrityError,
    OperationalError,
    PeeweeException,
    SqliteDatabase,
)

from offgate.config import redact_url
from offgate.errors import OffgateError
from offgate.events import UsageEvent
from offgate.store.driver import PostgresqlDatabase, driver_errors
from offgate.store.events import acted_on_calls, add_events, count_events, read_events, total_events
from offgate.store.schema import MIGRATIONS, Migration, SchemaTooNewError, read_version, upgrade

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
SQLITE_BUSY_TIMEOUT_S = 10
SQLITE_PRAGMAS = (("journal_mode", "wal"), ("synchronous", "normal"))
POSTGRES_CONNECT_TIMEOUT_S = 10



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
        a proxy record replaces the extension's record of its call (offgate.store.same_call)."""
        with self.reporting("write events to"):
            return add_events(self._db, events)

    def events(
        self, since: datetime | None = None, until: datetime | None = None, limit: int | None = None
    ) -> list[UsageEvent]:
        """Events with since <= ts < until, oldest first (ties by id); the first `limit`.
        Naive times are taken as UTC."""
        with self.reporting("read events from"):
            return read_events(self._db, since, until, limit)

    def acted_on_calls(self, since: datetime, until: datetime) -> list[UsageEvent]:
        """The calls blocked or coached under the policy, since <= ts < until, oldest first."""
        with self.reporting("read events from"):
            return acted_on_calls(self._db, since, until)

    def count(self, since: datetime | None = None) -> int:
        with self.reporting("count events in"):
            return count_events(self._db, since)

    def totals(self, by: str, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per value of `by` (one of TOTALS_DIMENSIONS): calls, token and cost sums (None
        when no call in the group has a value), calls with estimated tokens, calls without
        a price, and the first and last call's time. Most expensive first, then most calls."""
        with self.reporting("total events in"):
            return total_events(self._db, by, since)

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
        """The peewee database, for the modules that keep tables of their own here (spend, alerts, ...)."""
        return self._db

    @contextmanager
    def reporting(self, action: str) -> Generator[None]:
        """Turn any database error inside the block into a StoreError saying what failed."""
        try:
            yield
        except (PeeweeException, sqlite3.Error, *driver_errors()) as exc:
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
        if "connect_timeout=" in dsn:
            return PostgresqlDatabase(dsn)
        return PostgresqlDatabase(dsn, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S)
    raise StoreError(
        f"unsupported database URL {redact_url(url)!r}: use sqlite:///PATH or postgresql://..."
    )


def _refused_values(exc: Exception) -> bool:
    """Whether the database refused the values rather than failed itself."""
    driver_error = getattr(exc, "orig", exc)  # peewee keeps the driver's error there
    sqlstate = getattr(driver_error, "pgcode", None)
    if sqlstate:
        return sqlstate[:2] in _REFUSED_VALUE_SQLSTATES
    return isinstance(driver_error, (sqlite3.DataError, sqlite3.IntegrityError, DataError, IntegrityError))


def _without_password(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        for secret in (password, unquote(password)):
            text = text.replace(secret, "***")
    return redact_url(text)
