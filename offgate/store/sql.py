"""Query pieces the store's modules share: times as the store keeps them, windows, flags,
epoch seconds computed by the database, fast many-row inserts and reads as columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from peewee import SQL, Case, ColumnBase, Database, Field, Model, Node, NodeList, PostgresqlDatabase, chunked, fn

# Rows per INSERT: the widest table written here has 22 columns, 11,000 parameters: under SQLite's 32,766.
INSERT_BATCH_ROWS = 500


def naive_utc(moment: datetime) -> datetime:
    """The time as the store keeps it: naive UTC (naive input is taken as UTC already)."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def between(query: Any, column: Field, start: datetime | None, end: datetime | None) -> Any:
    """The query limited to start <= column < end (either end open when None)."""
    if start is not None:
        query = query.where(column >= naive_utc(start))
    if end is not None:
        query = query.where(column < naive_utc(end))
    return query


def flag(condition: Node) -> Case:
    """1 where the condition holds, else 0: summable on SQLite and PostgreSQL alike."""
    return Case(None, [(condition, 1)], 0)


def epoch(database: Database, column: Field) -> ColumnBase:
    """UTC epoch seconds of a naive-UTC timestamp column, computed by the database."""
    if isinstance(database, PostgresqlDatabase):
        return NodeList((SQL("EXTRACT(EPOCH FROM"), column, SQL(")"))).cast("float8")
    # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]": whole seconds, plus the fraction as written.
    return fn.strftime("%s", column).cast("REAL") + fn.substr(column, 20).cast("REAL")


def hour(database: Database, column: Field) -> ColumnBase:
    """Whole UTC hours since the epoch of a naive-UTC timestamp column."""
    if isinstance(database, PostgresqlDatabase):
        return fn.FLOOR(epoch(database, column) / 3600).cast("bigint")
    return fn.strftime("%s", column).cast("INTEGER") / 3600  # integer division


def week_start(database: Database, day: ColumnBase) -> ColumnBase:
    """The Monday of the UTC week a date (or naive-UTC timestamp) falls in, as a date."""
    if isinstance(database, PostgresqlDatabase):
        return fn.date_trunc("week", day.cast("timestamp")).cast("date")
    return fn.DATE(day, "weekday 0", "-6 days")  # the Sunday ending its week, back to its Monday


def insert_rows(database: Database, model: type[Model], rows: Iterable[dict[str, Any]], existing: str = "fail") -> int:
    """Insert rows (dicts with the same keys, as the driver takes the values) many to a
    statement; a row whose primary key is stored already fails, is kept ("keep") or
    replaces it ("replace"). Returns how many were written. Plain SQL: building a
    million rows through peewee's query builder takes longer than storing them."""
    written = 0
    cursor = database.cursor()
    for batch in chunked(rows, INSERT_BATCH_ROWS):
        names = list(batch[0])
        cursor.execute(_insert_statement(database, model, names, len(batch), existing),
                       [row[name] for row in batch for name in names])
        written += cursor.rowcount
    return written


def _insert_statement(database: Database, model: type[Model], names: list[str], rows: int, existing: str) -> str:
    opening, closing = database.quote
    columns = [f"{opening}{model._meta.fields[name].column_name}{closing}" for name in names]
    primary_key = model._meta.primary_key
    if not primary_key:
        raise ValueError(f"{model.__name__} has no primary key to resolve conflicts on")
    key = f"{opening}{primary_key.column_name}{closing}"
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != key)
    conflict = {"fail": "", "keep": " ON CONFLICT DO NOTHING",
                "replace": f" ON CONFLICT ({key}) DO UPDATE SET {updates}"}[existing]
    row = "(" + ", ".join([database.param] * len(names)) + ")"
    return (f"INSERT INTO {opening}{model._meta.table_name}{closing} ({', '.join(columns)}) "
            f"VALUES {', '.join([row] * rows)}{conflict}")


def read_columns(database: Database, query: Any, columns: Mapping[str, Node]) -> dict[str, tuple[Any, ...]]:
    """Run a query selecting `columns` (in order); one tuple per column, the values as
    the driver gives them (numbers, text, SQLite's 0/1 for booleans): converting each of
    a million rows through peewee would cost more than reading them."""
    rows = database.execute(query).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return dict(zip(columns, values, strict=True))
