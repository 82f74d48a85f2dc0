"""Daily totals of the two witnesses a bill is reconciled against, kept as they are written,
in SQLite and PostgreSQL stores alike: a month of a large organisation is millions of calls
and spend rows, but far fewer (day, provider, model, key) cells.

- bill_calls_daily: captured calls per UTC day, provider, model, key fingerprint and hint and
  class (offgate.store.queries.classification's: as reconciled, else by route), their count
  and cost (an OpenRouter call at its generation's billed cost where imported);
- bill_spend_daily: LiteLLM's spend rows per UTC day, upstream provider and model, their
  count and spend (an OpenRouter row at its generation's billed cost where imported).

Costs are kept in integer picodollars, so adding a row and taking it away again is exact in
any order: the rollups equal their records' totals under inserts, updates and deletes.
A missing name is kept as '' (a unique key holds NULLs distinct) and read back as None.

Row triggers keep them, the same statements on both databases (but a PostgreSQL statement's
new records, added at once, grouped: the collector inserts a thousand at a time, and rows in
key order lock alike in concurrent statements): a change to a record, its
reconciliation or its generation's cost takes the records' share away before it (as the
joins show them then) and adds it back after. An insert has no before (an insert that a
conflict skips must not take anything away), so an insert into a table the records join
takes away the share as it was without the new row. SQLite's INSERT OR REPLACE deletes
without delete triggers: offgate upserts instead (offgate.store.sql.insert_rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from peewee import (
    BigIntegerField,
    CompositeKey,
    Database,
    DateField,
    Model,
    PostgresqlDatabase,
    SchemaManager,
    TextField,
)

from offgate.vocabulary import GATEWAY, UNMANAGED

PICO = 10**12  # picodollars a dollar: a call's cost is rarely a whole microdollar


class BillCallsDailyRow(Model):
    """Captured calls of one UTC day alike in provider, model, key and class."""

    day = DateField()
    provider = TextField()
    model = TextField()
    key_fingerprint = TextField()
    key_hint = TextField()
    classification = TextField()
    calls = BigIntegerField()
    cost_pusd = BigIntegerField()

    class Meta:
        table_name = "bill_calls_daily"
        primary_key = CompositeKey("day", "provider", "model", "key_fingerprint", "key_hint", "classification")


class BillSpendDailyRow(Model):
    """LiteLLM's spend rows of one UTC day alike in upstream provider and model."""

    day = DateField()
    provider = TextField()
    model = TextField()
    rows = BigIntegerField()
    spend_pusd = BigIntegerField()

    class Meta:
        table_name = "bill_spend_daily"
        primary_key = CompositeKey("day", "provider", "model")



@dataclass(frozen=True, slots=True)
class _Share:
    """The records' share of one rollup: a SELECT of their groups with {count} and {total} for
    the count and cost columns, {records} and {which} for the records, {class_} and {cost} for
    expressions."""

    rollup: str
    records: str  # their table
    columns: str
    select: str
    class_: str
    cost: str
    groups: int  # the leading columns that key a rollup row
    sums: tuple[str, str]

    def statement(self, sign: str, which: str, class_: str | None = None, cost: str | None = None) -> str:
        """Add (sign "") or take away (sign "-") the share of the records `which` names, one row each."""
        cost = cost or self.cost
        selected = self.select.format(count=f"{sign}1", total=f"{sign}{cost}", records=self.records, which=which,
                                      class_=class_ or self.class_)
        sums = ", ".join(f"{name} = {self.rollup}.{name} + excluded.{name}" for name in self.sums)
        return f"INSERT INTO {self.rollup} ({self.columns}) {selected} ON CONFLICT ({self._key()}) DO UPDATE SET {sums}"

    def backfill(self) -> str:
        """The rollup of every record stored, in one statement."""
        return f"INSERT INTO {self.rollup} ({self.columns}) {self._grouped(self.records)}"

    def added(self, records: str) -> str:
        """Add the share of the records in `records` (a statement's new rows) grouped, one
        statement: rows come in key order, so concurrent statements lock their rollup rows in
        the same order and never deadlock."""
        sums = ", ".join(f"{name} = {self.rollup}.{name} + excluded.{name}" for name in self.sums)
        return (f"INSERT INTO {self.rollup} ({self.columns}) {self._grouped(records)} ORDER BY {self._positions()} "
                f"ON CONFLICT ({self._key()}) DO UPDATE SET {sums}")

    def _grouped(self, records: str) -> str:
        selected = self.select.format(count="count(*)", total=f"sum({self.cost})", records=records, which="true",
                                      class_=self.class_)
        return f"{selected} GROUP BY {self._positions()}"

    def _positions(self) -> str:
        return ", ".join(str(position) for position in range(1, self.groups + 1))

    def _key(self) -> str:
        return ", ".join(self.columns.split(", ")[:self.groups])


def _picodollars(cost: str) -> str:
    return f"CAST(ROUND(COALESCE({cost}, 0) * 1e12) AS BIGINT)"


_BY_ROUTE = f"CASE WHEN e.route = '{GATEWAY}' THEN '{GATEWAY}' ELSE '{UNMANAGED}' END"
_CALLS = _Share(
    "bill_calls_daily", "usage_event",
    "day, provider, model, key_fingerprint, key_hint, classification, calls, cost_pusd",
    "SELECT date(e.ts), COALESCE(e.provider, ''), COALESCE(e.model, ''), COALESCE(e.key_fingerprint, ''), "
    "COALESCE(e.key_hint, ''), {class_}, {count}, {total} "
    "FROM {records} e LEFT JOIN reconciled_call c ON c.event_id = e.id "
    "LEFT JOIN generation_cost g ON g.id = e.response_id WHERE {which}",
    f"COALESCE(c.classification, {_BY_ROUTE})", _picodollars("COALESCE(g.cost_usd, e.cost_usd)"), 6,
    ("calls", "cost_pusd"))
_SPEND = _Share(
    "bill_spend_daily", "litellm_spend_log", "day, provider, model, rows, spend_pusd",
    "SELECT date(s.start_time), COALESCE(s.custom_llm_provider, ''), COALESCE(s.model, ''), {count}, {total} "
    "FROM {records} s LEFT JOIN generation_cost g ON g.id = s.request_id WHERE {which}",
    "", _picodollars("COALESCE(g.cost_usd, s.spend)"), 3, ("rows", "spend_pusd"))


@dataclass(frozen=True, slots=True)
class _Trigger:
    name: str
    table: str
    timing: str  # BEFORE or AFTER
    event: str  # INSERT, UPDATE or DELETE
    statements: tuple[str, ...]
    # On PostgreSQL, the records' inserts are added once per statement, grouped (the collector
    # inserts a thousand at a time); SQLite's triggers are per row only.
    grouped: _Share | None = None


def _of_records(table: str, share: _Share, key: str, column: str) -> tuple[_Trigger, ...]:
    """The triggers of the records' own table (`key` its primary key, `column` the same in the share)."""
    def one(sign: str, row: str) -> tuple[str, ...]:
        return (share.statement(sign, f"{column} = {row}.{key}"),)

    return (_Trigger(f"{table}_insert", table, "AFTER", "INSERT", one("", "NEW"), grouped=share),
            _Trigger(f"{table}_update_before", table, "BEFORE", "UPDATE", one("-", "OLD")),
            _Trigger(f"{table}_update_after", table, "AFTER", "UPDATE", one("", "NEW")),
            _Trigger(f"{table}_delete", table, "BEFORE", "DELETE", one("-", "OLD")))


def _of_joined(table: str, key: str, *shares: tuple[_Share, str, dict[str, str]]) -> tuple[_Trigger, ...]:
    """The triggers of a table the records join on its `key`: each share with its records'
    column that names the row, and its expressions as they were without the row (for an insert)."""
    def each(sign: str, which: str, without: bool = False) -> tuple[str, ...]:
        return tuple(share.statement(sign, which.format(column=column), **(absent if without else {}))
                     for share, column, absent in shares)

    moved = f"{{column}} IN (OLD.{key}, NEW.{key})"  # a row whose key changes moves records both ways
    return (_Trigger(f"{table}_insert", table, "AFTER", "INSERT",
                     each("-", f"{{column}} = NEW.{key}", without=True) + each("", f"{{column}} = NEW.{key}")),
            _Trigger(f"{table}_update_before", table, "BEFORE", "UPDATE", each("-", moved)),
            _Trigger(f"{table}_update_after", table, "AFTER", "UPDATE", each("", moved)),
            _Trigger(f"{table}_delete_before", table, "BEFORE", "DELETE", each("-", f"{{column}} = OLD.{key}")),
            _Trigger(f"{table}_delete_after", table, "AFTER", "DELETE", each("", f"{{column}} = OLD.{key}")))


_TRIGGERS = (
    *_of_records("usage_event", _CALLS, "id", "e.id"),
    *_of_records("litellm_spend_log", _SPEND, "request_id", "s.request_id"),
    *_of_joined("reconciled_call", "event_id", (_CALLS, "e.id", {"class_": _BY_ROUTE})),
    *_of_joined("generation_cost", "id", (_CALLS, "e.response_id", {"cost": _picodollars("e.cost_usd")}),
                (_SPEND, "s.request_id", {"cost": _picodollars("s.spend")})),
)
_TABLES = ("usage_event", "litellm_spend_log", "reconciled_call", "generation_cost")


def _sqlite(trigger: _Trigger) -> list[str]:
    body = "".join(f"{statement};\n" for statement in trigger.statements)
    return [f"CREATE TRIGGER bill_rollup_{trigger.name} {trigger.timing} {trigger.event} ON {trigger.table} "
            f"FOR EACH ROW BEGIN\n{body}END"]


def _postgres(trigger: _Trigger) -> list[str]:
    # A BEFORE trigger's row goes on (NEW, or OLD for a delete); an AFTER trigger's result is ignored.
    result = "NULL" if trigger.timing == "AFTER" else "OLD" if trigger.event == "DELETE" else "NEW"
    body = "".join(f"{statement};\n" for statement in trigger.statements)
    function = f"bill_rollup_{trigger.name}"
    if trigger.grouped is not None:
        return [f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
                f"{trigger.grouped.added('added')};\nRETURN NULL;\nEND $$",
                f"CREATE TRIGGER {function} AFTER INSERT ON {trigger.table} REFERENCING NEW TABLE AS added "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"]
    return [f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}"
            f"RETURN {result};\nEND $$",
            f"CREATE TRIGGER {function} {trigger.timing} {trigger.event} ON {trigger.table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"]


def _postgres_truncated() -> list[str]:
    """A TRUNCATE fires no row trigger: the rollups are rebuilt after one."""
    rebuild = "".join(f"{statement};\n" for statement in (
        "DELETE FROM bill_calls_daily", "DELETE FROM bill_spend_daily", _CALLS.backfill(), _SPEND.backfill()))
    return [f"CREATE OR REPLACE FUNCTION bill_rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"{rebuild}RETURN NULL;\nEND $$",
            *(f"CREATE TRIGGER bill_rollup_{table}_truncate AFTER TRUNCATE ON {table} "
              "FOR EACH STATEMENT EXECUTE FUNCTION bill_rollup_truncated()" for table in _TABLES)]


def add_bill_rollups(database: Database) -> None:
    """The rollup tables, their triggers, and the rollups of every record stored."""
    postgres = isinstance(database, PostgresqlDatabase)
    for model in (BillCallsDailyRow, BillSpendDailyRow):
        # Rows kept in their key's order: a window of days is one range of the table, read in order.
        # peewee's without_rowid would say so to PostgreSQL too: its CREATE TABLE, ended here.
        create: tuple[str, list[Any]] = cast(Any, SchemaManager(model, database))._create_table(safe=False).query()
        database.execute_sql(create[0] if postgres else f"{create[0]} WITHOUT ROWID", create[1])
    statements = ([statement for trigger in _TRIGGERS for statement in _postgres(trigger)] + _postgres_truncated()
                  if postgres else [statement for trigger in _TRIGGERS for statement in _sqlite(trigger)])
    cursor = database.cursor()  # no parameters: the statements hold no placeholders
    for statement in (*statements, _CALLS.backfill(), _SPEND.backfill()):
        cursor.execute(statement)
