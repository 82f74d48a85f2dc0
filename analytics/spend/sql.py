"""LiteLLM's own PostgreSQL database: the `LiteLLM_SpendLogs` table, read by URL.

Takes the URL LiteLLM itself uses (its DATABASE_URL). Prisma options in it that libpq does
not know are dropped, and `schema=` becomes the search path. The columns are whatever the
table has (LiteLLM adds some with each release), except the bulky ones; the rows stream
through a server-side cursor in time order, so a month of spend never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg2
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from analytics.spend.rows import BULKY_COLUMNS, SpendRowError, record_from_row
from analytics.spend.source import Progress, SpendSourceError
from offgate.config import redact_url
from offgate.store import naive_utc
from offgate.store.spend import SpendRecord

TABLE = "LiteLLM_SpendLogs"
BATCH_ROWS = 5000
CONNECT_TIMEOUT_S = 10
# Query options of Prisma's connection strings that libpq would reject.
PRISMA_ONLY_OPTIONS = frozenset({"schema", "connection_limit", "pool_timeout", "pgbouncer",
                                 "statement_cache_size", "socket_timeout", "sslaccept"})


class SqlSpendSource:
    kind = "sql"

    def __init__(self, url: str, *, since: datetime | None = None, until: datetime | None = None) -> None:
        self.url = url
        self.since = naive_utc(since) if since else None
        self.until = naive_utc(until) if until else None
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def describe(self) -> str:
        return f"LiteLLM's database {redact_url(self.url)}"

    def batches(self, progress: Progress) -> Iterator[list[SpendRecord]]:
        dsn, schema = libpq_url(self.url)
        try:
            connection = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg2.Error as exc:
            raise SpendSourceError(f"cannot connect to {self.describe()}: {_one_line(exc)}") from None
        try:
            yield from self._read(connection, schema, progress)
        except psycopg2.Error as exc:
            raise SpendSourceError(f"cannot read {TABLE} from {self.describe()}: {_one_line(exc)}") from None
        finally:
            connection.close()

    def _read(self, connection: psycopg2.extensions.connection, schema: str | None,
              progress: Progress) -> Iterator[list[SpendRecord]]:
        with connection.cursor() as cursor:
            if schema:
                cursor.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            columns = _columns(cursor)
            if not columns:
                raise SpendSourceError(f"{self.describe()} has no {TABLE} table: is it LiteLLM's database?")
            where, parameters = self._where()
            cursor.execute(sql.SQL("SELECT count(*) FROM {} {}").format(sql.Identifier(TABLE), where), parameters)
            counted = cursor.fetchone()
            total = counted[0] if counted else 0
        query = sql.SQL("SELECT {} FROM {} {} ORDER BY {}, {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(TABLE), where,
            sql.Identifier("startTime"), sql.Identifier("request_id"),
        )
        # A named cursor lives on the server and hands out BATCH_ROWS at a time.
        with connection.cursor("offgate_spend_logs", cursor_factory=psycopg2.extras.RealDictCursor) as rows:
            rows.itersize = BATCH_ROWS
            rows.execute(query, parameters)
            done = 0
            while chunk := rows.fetchmany(BATCH_ROWS):
                done += len(chunk)
                yield self._records(chunk)
                progress(done, total)
        progress(total, total)

    def _where(self) -> tuple[sql.Composable, list[datetime]]:
        conditions, parameters = [], []
        if self.since is not None:
            conditions.append(sql.SQL("{} >= %s").format(sql.Identifier("startTime")))
            parameters.append(self.since)
        if self.until is not None:
            conditions.append(sql.SQL("{} < %s").format(sql.Identifier("startTime")))
            parameters.append(self.until)
        if not conditions:
            return sql.SQL(""), parameters
        return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions), parameters

    def _records(self, chunk: Sequence[Mapping[str, Any]]) -> list[SpendRecord]:
        records = []
        for row in chunk:
            try:
                records.append(record_from_row(row))
            except SpendRowError as exc:
                self.problems.append(f"row {row.get('request_id')!r}: {exc}")
        return records


def libpq_url(url: str) -> tuple[str, str | None]:
    """(a URL libpq accepts, the schema Prisma's `schema=` option named, if any)."""
    parts = urlsplit(url)
    options = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for name, value in options if name == "schema"), None)
    kept = [(name, value) for name, value in options if name not in PRISMA_ONLY_OPTIONS]
    return parts._replace(scheme="postgresql", query=urlencode(kept)).geturl(), schema


def _columns(cursor: psycopg2.extensions.cursor) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
        (TABLE,),
    )
    return [name for (name,) in cursor.fetchall() if name not in BULKY_COLUMNS]


def _one_line(exc: psycopg2.Error) -> str:
    # libpq's messages span lines; never repeat a password it might quote.
    return redact_url(" ".join(str(exc).split()) or type(exc).__name__)
