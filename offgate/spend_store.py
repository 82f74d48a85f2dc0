"""LiteLLM's spend rows, and what reconciliation made of the calls, in offgate's store.

The tables live in store_schema (SpendLogRow, ReconciledCallRow, FindingRow) and share the
store's database and its error reporting. Reads for reconciliation come back as columns
(one list per field), which is what the matcher turns into arrays; times come back as
UTC epoch seconds, computed by the database so a million rows need no datetime parsing.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from peewee import JOIN, SQL, Case, Database, Field, Model, Node, NodeList, PostgresqlDatabase, Value, chunked, fn

from offgate.store import Store, naive_utc
from offgate.store_schema import FindingRow, ReconciledCallRow, SpendLogRow, UsageEventRow

SPEND_SOURCES = ("callback", "rest", "sql", "file")
# Rows per INSERT: the widest table here has 22 columns, 11,000 parameters: under SQLite's 32,766.
INSERT_BATCH_ROWS = 500
# What the report can group calls by (report name -> usage_event column); "day" is the UTC date.
GROUP_COLUMNS = {
    "user": "user", "device": "device", "app": "app", "provider": "provider", "model": "model",
    "key": "key_fingerprint", "process": "process_name",
}


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """One LiteLLM spend row: the columns reconciliation reads, and the row itself (`raw`)."""

    request_id: str
    start_time: datetime  # naive UTC
    spend: float | None  # None: LiteLLM logged no cost (unknown, not $0)
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    raw: dict[str, Any] = field(repr=False)
    litellm_call_id: str | None = None
    end_time: datetime | None = None
    call_type: str | None = None
    model: str | None = None
    model_group: str | None = None
    custom_llm_provider: str | None = None
    api_base: str | None = None
    api_key: str | None = None
    user: str | None = None
    end_user: str | None = None
    team_id: str | None = None
    status: str | None = None


class SpendStore:
    """Spend rows, reconciliation results and findings, in the tables of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db: Database = store.database

    @property
    def store(self) -> Store:
        """The Store these tables live in (the report reads its other tables through it)."""
        return self._store

    # -- spend rows ----------------------------------------------------------------------

    def add(self, records: Sequence[SpendRecord], source: str) -> int:
        """Insert in one transaction; rows whose request_id is stored already are kept as
        they are (LiteLLM writes a row once). Returns how many were new."""
        if source not in SPEND_SOURCES:
            raise ValueError(f"unknown spend source {source!r}: one of {', '.join(SPEND_SOURCES)}")
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [_spend_row(record, source, now) for record in records]
        with self._store.reporting("write spend rows to"), self._db.atomic():
            return self._insert(SpendLogRow, rows, existing="keep")

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        query = _between(SpendLogRow.select(), SpendLogRow.start_time, since, until)
        with self._store.reporting("count spend rows in"):
            return query.count(self._db)

    def spend_columns(self, start: datetime | None, end: datetime | None) -> dict[str, tuple]:
        """Spend rows with start <= startTime < end, oldest first, as columns."""
        row = SpendLogRow
        columns = {
            "request_id": row.request_id, "litellm_call_id": row.litellm_call_id,
            "start": self._epoch(row.start_time), "model": row.model, "model_group": row.model_group,
            "api_base": row.api_base, "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens, "spend": row.spend, "status": row.status,
        }
        query = _between(row.select(*columns.values()), row.start_time, start, end)
        return self._columns(query.order_by(row.start_time, row.request_id), columns, "read spend rows from")

    # -- calls, for reconciliation ------------------------------------------------------

    def call_columns(self, since: datetime | None, until: datetime | None) -> dict[str, tuple]:
        """Captured calls with since <= ts < until, oldest first, as columns."""
        event = UsageEventRow
        columns = {
            "id": event.id, "ts": self._epoch(event.ts), "route": event.route, "host": event.host,
            "model": event.model, "prompt_tokens": event.prompt_tokens,
            "completion_tokens": event.completion_tokens, "tokens_estimated": event.tokens_estimated,
            "cost_usd": event.cost_usd, "response_id": event.response_id,
            "litellm_call_id": event.litellm_call_id, "process_name": event.process_name,
            "status_code": event.status_code,
        }
        query = _between(event.select(*columns.values()), event.ts, since, until)
        return self._columns(query.order_by(event.ts, event.id), columns, "read calls from")

    def matches_outside(self, since: datetime | None, until: datetime | None,
                        spend_start: datetime | None, spend_end: datetime | None) -> list[tuple[str, str]]:
        """(request_id, classification) of spend rows starting in [spend_start, spend_end)
        that calls outside [since, until) were matched to: a rerun must leave them taken."""
        call, event, spend = ReconciledCallRow, UsageEventRow, SpendLogRow
        outside = []
        if since is not None:
            outside.append(event.ts < naive_utc(since))
        if until is not None:
            outside.append(event.ts >= naive_utc(until))
        if not outside:
            return []
        query = _between(
            call.select(call.spend_request_id, call.classification)
            .join(event, on=(event.id == call.event_id))
            .join(spend, on=(spend.request_id == call.spend_request_id), src=call)
            .where(reduce(operator.or_, outside)),
            spend.start_time, spend_start, spend_end,
        )
        with self._store.reporting("read reconciliation results from"):
            return list(query.tuples().execute(self._db))

    def save_reconciliation(self, since: datetime | None, until: datetime | None,
                            calls: Iterable[dict[str, Any]], findings: Iterable[dict[str, Any]]) -> None:
        """Replace, in one transaction, the results and findings about the calls timed in
        [since, until) and the spend rows starting then: a rerun over the same window
        leaves exactly one of each."""
        now = datetime.now(UTC).replace(tzinfo=None)
        call_rows = ({**row, "reconciled_at": now} for row in calls)  # a million rows: one batch at a time
        finding_rows = ({**row, "ts": naive_utc(row["ts"]), "found_at": now} for row in findings)
        calls_in_window = _between(UsageEventRow.select(UsageEventRow.id), UsageEventRow.ts, since, until)
        rows_in_window = _between(SpendLogRow.select(SpendLogRow.request_id), SpendLogRow.start_time, since, until)
        finding = FindingRow
        with self._store.reporting("write reconciliation results to"), self._db.atomic():
            ReconciledCallRow.delete().where(ReconciledCallRow.event_id.in_(calls_in_window)).execute(self._db)
            finding.delete().where(
                finding.event_id.in_(calls_in_window)
                | (finding.event_id.is_null() & finding.spend_request_id.in_(rows_in_window))
            ).execute(self._db)
            self._insert(ReconciledCallRow, call_rows)
            # A spend row's time read back as epoch seconds can sit a rounding step across
            # the window's edge from its stored time: replace rather than fail on it.
            self._insert(finding, finding_rows, existing="replace")

    # -- report ---------------------------------------------------------------------------

    def call_groups(self, since: datetime | None, until: datetime | None, by: Sequence[str],
                    web_app_providers: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Captured calls in [since, until) counted and summed per value of `by` (names of
        GROUP_COLUMNS or "day") and per: classification (as reconciled, else from the route),
        whether reconciled, whether matched to a spend row, estimated tokens, web app.
        `spend` sums the matched rows' logged cost; `unpriced_spend` counts the matched rows
        that logged none (unknown, in no sum)."""
        event, call, spend = UsageEventRow, ReconciledCallRow, SpendLogRow
        keys = [self._group_key(name).alias(name) for name in by]
        flags = [
            _classification().alias("classification"),
            _flag(call.event_id.is_null(False)).alias("reconciled"),
            _flag(call.spend_request_id.is_null(False)).alias("matched"),
            _flag(event.tokens_estimated == True).alias("estimated"),  # noqa: E712 - SQL, not Python
            (_flag(event.provider.in_(list(web_app_providers))) if web_app_providers else Value(0)).alias("web_app"),
        ]
        sums = [
            fn.COUNT(SQL("*")).alias("calls"),
            fn.SUM(event.prompt_tokens).alias("prompt_tokens"),
            fn.SUM(event.completion_tokens).alias("completion_tokens"),
            fn.SUM(event.cost_usd).alias("cost_usd"),
            fn.SUM(_flag(event.cost_usd.is_null())).alias("unpriced_calls"),
            fn.SUM(spend.spend).alias("spend"),
            fn.SUM(_flag(call.spend_request_id.is_null(False) & spend.spend.is_null())).alias("unpriced_spend"),
        ]
        selected = [*keys, *flags]
        query = _between(
            event.select(*selected, *sums)
            .join(call, JOIN.LEFT_OUTER, on=(call.event_id == event.id))
            .join(spend, JOIN.LEFT_OUTER, on=(spend.request_id == call.spend_request_id))
            .group_by(*[SQL(str(position)) for position in range(1, len(selected) + 1)]),
            event.ts, since, until,
        )
        with self._store.reporting("total calls in"):
            groups = list(query.dicts().execute(self._db))
        for group in groups:
            for name in ("reconciled", "matched", "estimated", "web_app"):
                group[name] = bool(group[name])
            for name in ("calls", "prompt_tokens", "completion_tokens", "unpriced_calls", "unpriced_spend"):
                group[name] = int(group[name] or 0)
            for name in ("cost_usd", "spend"):
                group[name] = float(group[name] or 0.0)
            if "day" in group:
                group["day"] = str(group["day"])[:10]
        return groups

    def latest_calls(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` captured calls, newest first: each call's columns (`ts` aware
        UTC), its classification as call_groups counts it, and whether it is reconciled."""
        event, call = UsageEventRow, ReconciledCallRow
        query = (event.select(event, _classification().alias("classification"),
                              _flag(call.event_id.is_null(False)).alias("reconciled"))
                 .join(call, JOIN.LEFT_OUTER, on=(call.event_id == event.id))
                 .order_by(event.ts.desc(), event.id.desc()).limit(limit))
        with self._store.reporting("read calls from"):
            calls = list(query.dicts().execute(self._db))
        for found in calls:
            found["ts"] = found["ts"].replace(tzinfo=UTC)
            found["reconciled"] = bool(found["reconciled"])
        return calls

    def unmanaged_hours(self, since: datetime | None, until: datetime | None, by: Sequence[str]) -> dict[str, tuple]:
        """Unmanaged calls (classified as call_groups counts them) in [since, until) per
        value of each name in `by` (GROUP_COLUMNS) and UTC hour, as columns: those names,
        `hour` (whole hours since the epoch), `calls`, `tokens` (prompt + completion) and
        `cost_usd` (unpriced calls count 0)."""
        event = UsageEventRow
        columns = {name: self._group_key(name) for name in by}
        columns.update(hour=self._hour(event.ts), calls=fn.COUNT(SQL("*")),
                       tokens=fn.SUM(fn.COALESCE(event.prompt_tokens, 0) + fn.COALESCE(event.completion_tokens, 0)),
                       cost_usd=fn.SUM(fn.COALESCE(event.cost_usd, 0.0)))
        query = self._unmanaged(event.select(*columns.values()), since, until)
        return self._columns(query.group_by(*[SQL(str(at)) for at in range(1, len(by) + 2)]), columns,
                             "total unmanaged calls in")

    def first_unmanaged_calls(self, by: Sequence[str]) -> dict[str, tuple]:
        """When each combination of values of `by` (GROUP_COLUMNS) made its first unmanaged
        call, ever: those names and `first` (UTC epoch seconds), as columns."""
        event = UsageEventRow
        columns = {name: self._group_key(name) for name in by}
        columns["first"] = fn.MIN(self._epoch(event.ts))
        query = self._unmanaged(event.select(*columns.values()), None, None)
        return self._columns(query.group_by(*[SQL(str(at)) for at in range(1, len(by) + 1)]), columns,
                             "find first unmanaged calls in")

    def spend_by_day(self, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
        """Spend rows starting in [since, until) per UTC day: rows, logged cost, and the
        rows that logged no cost (`unpriced_rows`: unknown, in no sum)."""
        row = SpendLogRow
        query = _between(
            row.select(fn.DATE(row.start_time).alias("day"), fn.COUNT(SQL("*")).alias("rows"),
                       fn.SUM(row.spend).alias("spend"), fn.SUM(_flag(row.spend.is_null())).alias("unpriced_rows"))
            .group_by(SQL("1")).order_by(SQL("1")),
            row.start_time, since, until,
        )
        with self._store.reporting("total spend rows in"):
            days = list(query.dicts().execute(self._db))
        return [{"day": str(day["day"])[:10], "rows": int(day["rows"]), "spend": float(day["spend"] or 0.0),
                 "unpriced_rows": int(day["unpriced_rows"])} for day in days]

    def findings(self, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
        """Findings timed in [since, until), oldest first."""
        row = FindingRow
        query = _between(row.select(), row.ts, since, until).order_by(row.ts, row.id)
        with self._store.reporting("read findings from"):
            found = list(query.dicts().execute(self._db))
        for finding in found:
            finding["ts"] = finding["ts"].replace(tzinfo=UTC)
            finding["found_at"] = finding["found_at"].replace(tzinfo=UTC)
        return found

    # -- helpers ---------------------------------------------------------------------------

    def _epoch(self, column: Field) -> Node:
        """UTC epoch seconds of a naive-UTC timestamp column, computed by the database."""
        if isinstance(self._db, PostgresqlDatabase):
            return NodeList((SQL("EXTRACT(EPOCH FROM"), column, SQL(")"))).cast("float8")
        # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]": whole seconds, plus the fraction as written.
        return fn.strftime("%s", column).cast("REAL") + fn.substr(column, 20).cast("REAL")

    def _hour(self, column: Field) -> Node:
        """Whole UTC hours since the epoch of a naive-UTC timestamp column."""
        if isinstance(self._db, PostgresqlDatabase):
            return fn.FLOOR(self._epoch(column) / 3600).cast("bigint")
        return fn.strftime("%s", column).cast("INTEGER") / 3600  # integer division

    def _unmanaged(self, query: Any, since: datetime | None, until: datetime | None) -> Any:
        call = ReconciledCallRow
        query = query.join(call, JOIN.LEFT_OUTER, on=(call.event_id == UsageEventRow.id))
        return _between(query.where(_classification() == "unmanaged"), UsageEventRow.ts, since, until)

    def _group_key(self, name: str) -> Node:
        if name == "day":
            return fn.DATE(UsageEventRow.ts)
        if name not in GROUP_COLUMNS:
            raise ValueError(f"cannot group calls by {name!r}: one of day, {', '.join(GROUP_COLUMNS)}")
        return getattr(UsageEventRow, GROUP_COLUMNS[name])

    def _insert(self, model: type[Model], rows: Iterable[dict[str, Any]], existing: str = "fail") -> int:
        """Insert rows (dicts with the same keys, as the driver takes the values) many to a
        statement; a row whose primary key is stored already fails, is kept ("keep") or
        replaces it ("replace"). Returns how many were written. Plain SQL: building a
        million rows through peewee's query builder takes longer than storing them."""
        written = 0
        cursor = self._db.cursor()
        for batch in chunked(rows, INSERT_BATCH_ROWS):
            names = list(batch[0])
            statement = self._insert_statement(model, names, len(batch), existing)
            cursor.execute(statement, [row[name] for row in batch for name in names])
            written += cursor.rowcount
        return written

    def _insert_statement(self, model: type[Model], names: list[str], rows: int, existing: str) -> str:
        opening, closing = self._db.quote
        columns = [f"{opening}{model._meta.fields[name].column_name}{closing}" for name in names]
        key = f"{opening}{model._meta.primary_key.column_name}{closing}"
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != key)
        conflict = {"fail": "", "keep": " ON CONFLICT DO NOTHING",
                    "replace": f" ON CONFLICT ({key}) DO UPDATE SET {updates}"}[existing]
        row = "(" + ", ".join([self._db.param] * len(names)) + ")"
        return (f"INSERT INTO {opening}{model._meta.table_name}{closing} ({', '.join(columns)}) "
                f"VALUES {', '.join([row] * rows)}{conflict}")

    def _columns(self, query: Any, columns: dict[str, Node], action: str) -> dict[str, tuple]:
        """Run a query selecting `columns` (in order); one tuple per column, the values as
        the driver gives them (numbers, text, SQLite's 0/1 for booleans): converting each of
        a million rows through peewee would cost more than reading them."""
        with self._store.reporting(action):
            rows = self._db.execute(query).fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
        return dict(zip(columns, values, strict=True))


def _spend_row(record: SpendRecord, source: str, now: datetime) -> dict[str, Any]:
    row = asdict(record)
    row["raw"] = json.dumps(record.raw, default=str, separators=(",", ":"))
    return {**row, "source": source, "imported_at": now}


def _classification() -> Node:
    """A captured call's class: as reconciled, else by its route (gateway or unmanaged)."""
    by_route = Case(None, [(UsageEventRow.route == "gateway", "gateway")], "unmanaged")
    return fn.COALESCE(ReconciledCallRow.classification, by_route)


def _flag(condition: Node) -> Case:
    return Case(None, [(condition, 1)], 0)


def _between(query: Any, column: Field, start: datetime | None, end: datetime | None) -> Any:
    if start is not None:
        query = query.where(column >= naive_utc(start))
    if end is not None:
        query = query.where(column < naive_utc(end))
    return query
