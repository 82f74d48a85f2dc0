"""LiteLLM's spend rows in offgate's store (table SpendLogRow), as imported from a source.

Reads for reconciliation come back as columns (one list per field), which is what the
matcher turns into arrays; times come back as UTC epoch seconds, computed by the database
so a million rows need no datetime parsing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from peewee import SQL, fn

from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.schema import ReconciledCallRow, SpendLogRow, UsageEventRow
from offgate.store.sql import between, epoch, flag, insert_rows, read_columns
from offgate.vocabulary import GATEWAY, SPEND_SOURCES


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


@dataclass(frozen=True, slots=True)
class SpendDay:
    """One UTC day of spend rows: how many, their logged cost, and how many logged none
    (`unpriced_rows`: unknown, in no sum)."""

    day: str  # YYYY-MM-DD
    rows: int
    spend: float
    unpriced_rows: int


class SpendLog:
    """The spend rows of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def add(self, records: Sequence[SpendRecord], source: str) -> int:
        """Insert in one transaction; rows whose request_id is stored already are kept as
        they are (LiteLLM writes a row once). Returns how many were new."""
        if source not in SPEND_SOURCES:
            raise ValueError(f"unknown spend source {source!r}: one of {', '.join(SPEND_SOURCES)}")
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [_spend_row(record, source, now) for record in records]
        with self._store.reporting("write spend rows to"), self._db.atomic():
            return insert_rows(self._db, SpendLogRow, rows, existing="keep")

    def count(self, since: datetime | None = None, until: datetime | None = None) -> int:
        query = between(SpendLogRow.select(), SpendLogRow.start_time, since, until)
        with self._store.reporting("count spend rows in"):
            return query.count(self._db)

    def columns(self, start: datetime | None, end: datetime | None) -> dict[str, tuple[Any, ...]]:
        """Spend rows with start <= startTime < end, oldest first, as columns."""
        row = SpendLogRow
        columns = {
            "request_id": row.request_id, "litellm_call_id": row.litellm_call_id,
            "start": epoch(self._db, row.start_time), "model": row.model, "model_group": row.model_group,
            "api_base": row.api_base, "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens, "spend": row.spend, "status": row.status,
        }
        query = between(row.select(*columns.values()), row.start_time, start, end)
        with self._store.reporting("read spend rows from"):
            return read_columns(self._db, query.order_by(row.start_time, row.request_id), columns)

    def by_day(self, since: datetime | None, until: datetime | None, only: CallFilter = ALL_CALLS) -> list[SpendDay]:
        """Spend rows starting in [since, until) per UTC day, oldest first. With a filter: the
        rows paired with the gateway calls it keeps (a spend row names no device nor login)."""
        row = SpendLogRow
        query = between(
            row.select(fn.DATE(row.start_time).alias("day"), fn.COUNT(SQL("*")).alias("rows"),
                       fn.SUM(row.spend).alias("spend"), fn.SUM(flag(row.spend.is_null())).alias("unpriced_rows"))
            .group_by(SQL("1")).order_by(SQL("1")),
            row.start_time, since, until,
        )
        if only:
            call, event = ReconciledCallRow, UsageEventRow
            paired = only.apply(call.select(call.spend_request_id).join(event, on=(event.id == call.event_id))
                                .where((call.classification == GATEWAY) & call.spend_request_id.is_null(False)))
            query = query.where(row.request_id.in_(paired))
        with self._store.reporting("total spend rows in"):
            days = list(query.tuples().execute(self._db))
        return [SpendDay(str(day)[:10], int(rows), float(spend or 0.0), int(unpriced))
                for day, rows, spend, unpriced in days]


def _spend_row(record: SpendRecord, source: str, now: datetime) -> dict[str, Any]:
    row = asdict(record)
    row["raw_json"] = json.dumps(row.pop("raw"), default=str, separators=(",", ":"))
    return {**row, "source": source, "imported_at": now}
