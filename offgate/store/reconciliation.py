"""What reconciliation reads and decides, in offgate's store: the captured calls as columns,
each call's class and matched spend row (ReconciledCallRow), and the findings (FindingRow)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from peewee import SQL, Expression, fn

from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.schema import FindingRow, ReconciledCallRow, SpendLogRow, UsageEventRow
from offgate.store.sql import between, epoch, insert_rows, naive_utc, read_columns


class Reconciliations:
    """Reconciliation's results and findings, in the tables of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def call_columns(self, since: datetime | None, until: datetime | None) -> dict[str, tuple[Any, ...]]:
        """Captured calls with since <= ts < until, oldest first, as columns."""
        event = UsageEventRow
        columns = {
            "id": event.id, "ts": epoch(self._db, event.ts), "route": event.route, "host": event.host,
            "model": event.model, "prompt_tokens": event.prompt_tokens,
            "completion_tokens": event.completion_tokens, "tokens_estimated": event.tokens_estimated,
            "cost_usd": event.cost_usd, "response_id": event.response_id,
            "litellm_call_id": event.litellm_call_id, "process_name": event.process_name,
            "status_code": event.status_code,
        }
        query = between(event.select(*columns.values()), event.ts, since, until)
        with self._store.reporting("read calls from"):
            return read_columns(self._db, query.order_by(event.ts, event.id), columns)

    def matches_outside(self, since: datetime | None, until: datetime | None,
                        spend_start: datetime | None, spend_end: datetime | None) -> list[tuple[str, str]]:
        """(request_id, classification) of spend rows starting in [spend_start, spend_end)
        that calls outside [since, until) were matched to: a rerun must leave them taken."""
        call, event, spend = ReconciledCallRow, UsageEventRow, SpendLogRow
        outside: list[Expression] = []
        if since is not None:
            outside.append(event.ts < naive_utc(since))
        if until is not None:
            outside.append(event.ts >= naive_utc(until))
        if not outside:
            return []
        query = between(
            call.select(call.spend_request_id, call.classification)
            .join(event, on=(event.id == call.event_id))
            .join(spend, on=(spend.request_id == call.spend_request_id), src=call)
            .where(reduce(lambda either, other: either | other, outside)),
            spend.start_time, spend_start, spend_end,
        )
        with self._store.reporting("read reconciliation results from"):
            return list(query.tuples().execute(self._db))

    def save(self, since: datetime | None, until: datetime | None,
             calls: Iterable[dict[str, Any]], findings: Iterable[dict[str, Any]]) -> None:
        """Replace, in one transaction, the results and findings about the calls timed in
        [since, until) and the spend rows starting then: a rerun over the same window
        leaves exactly one of each."""
        now = datetime.now(UTC).replace(tzinfo=None)
        call_rows = ({**row, "reconciled_at": now} for row in calls)  # a million rows: one batch at a time
        finding_rows = ({**row, "ts": naive_utc(row["ts"]), "found_at": now} for row in findings)
        calls_in_window = between(UsageEventRow.select(UsageEventRow.id), UsageEventRow.ts, since, until)
        rows_in_window = between(SpendLogRow.select(SpendLogRow.request_id), SpendLogRow.start_time, since, until)
        finding = FindingRow
        with self._store.reporting("write reconciliation results to"), self._db.atomic():
            ReconciledCallRow.delete().where(ReconciledCallRow.event_id.in_(calls_in_window)).execute(self._db)
            finding.delete().where(
                finding.event_id.in_(calls_in_window)
                | (finding.event_id.is_null() & finding.spend_request_id.in_(rows_in_window))
            ).execute(self._db)
            insert_rows(self._db, ReconciledCallRow, call_rows)
            # A spend row's time read back as epoch seconds can sit a rounding step across
            # the window's edge from its stored time: replace rather than fail on it.
            insert_rows(self._db, finding, finding_rows, existing="replace")

    def decided(self, since: datetime | None, until: datetime | None,
                about: CallFilter) -> list[tuple[str, str | None, int]]:
        """What reconciliation decided for the calls in [since, until) that `about` keeps:
        (class, how paired or None, calls) per class and way of pairing."""
        call, event = ReconciledCallRow, UsageEventRow
        query = about.apply(between(call.select(call.classification, call.matched_by, fn.COUNT(SQL("*")))
                                    .join(event, on=(event.id == call.event_id))
                                    .group_by(call.classification, call.matched_by), event.ts, since, until))
        with self._store.reporting("read reconciled calls from"):
            return [(klass, how, int(calls)) for klass, how, calls in query.tuples().execute(self._db)]

    def findings(self, since: datetime | None, until: datetime | None,
                 about: CallFilter = ALL_CALLS) -> list[dict[str, Any]]:
        """Findings timed in [since, until), oldest first; with `about`, only those about the
        calls it keeps (a spend row no agent saw is nobody's call)."""
        row = FindingRow
        query = between(row.select(), row.ts, since, until).order_by(row.ts, row.id)
        if about:
            query = query.where(row.event_id.in_(about.apply(UsageEventRow.select(UsageEventRow.id))))
        with self._store.reporting("read findings from"):
            found = list(query.dicts().execute(self._db))
        for finding in found:
            finding["ts"] = finding["ts"].replace(tzinfo=UTC)
            finding["found_at"] = finding["found_at"].replace(tzinfo=UTC)
        return found
