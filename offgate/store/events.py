"""The usage_event table: writing UsageEvents (by the duplicate rule of `same_call`), reading
them back, counting and totalling them. Functions of one database; Store calls them inside
its error reporting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from peewee import SQL, Case, Database, ModelSelect, PostgresqlDatabase, chunked, fn

from offgate.events import UsageEvent
from offgate.pricing_basis import on_a_plan
from offgate.store.same_call import AGENT_LOG_WINDOW, Record, RecordedCalls, call_key
from offgate.store.schema import UsageEventRow
from offgate.store.sql import between, naive_utc

# SQLite binds at most 32766 parameters per statement: 100 rows of 36 columns stay well under.
# (Deletes and the duplicate check's reads; inserts take up to INSERT_ROWS rows at once.)
INSERT_BATCH_ROWS = 100
INSERT_ROWS = 800
POSTGRES_DEDUP_LOCK = 0x0FF6A7F  # any fixed number, distinct from the migration lock
TOTALS_DIMENSIONS = ("provider", "model", "app", "process_name", "route", "endpoint")


def add_events(database: Database, events: Sequence[UsageEvent]) -> int:
    """Insert in one transaction; returns how many were inserted. Skipped: events whose
    id is already stored, and another capture path's record of a call already recorded;
    a proxy record replaces the extension's record of its call (see `_not_yet_recorded`).
    The record kept of a call seen twice names both sources in `witnesses`."""
    added = 0
    with database.atomic():
        fresh, displaced, recorded = _not_yet_recorded(database, events)
        witnessed, plans = recorded.witnessed, recorded.on_a_plan
        fresh = [_with_witnesses(event, witnessed.pop(event.id, set())) for event in fresh]
        fresh = [_as_a_plan(event) if event.id in plans else event for event in fresh]
        _add_witnesses(database, witnessed)
        _note_plans(database, plans - {event.id for event in fresh})
        for batch in chunked(displaced, INSERT_BATCH_ROWS):
            UsageEventRow.delete().where(UsageEventRow.id.in_(batch)).execute(database)
        for batch in chunked(fresh, INSERT_ROWS):
            added += _insert_new(database, batch)
    return added


def _insert_new(database: Database, events: Sequence[UsageEvent]) -> int:
    """One multi-row INSERT of the events whose id is not stored yet; how many it inserted.

    The statement is written here, not by peewee's insert_many: building it value by value
    took three quarters of the writer's CPU (issue 17). The values go through each field's
    db_value as peewee's would, and a known id is skipped the way peewee's on_conflict_ignore
    does it (INSERT OR IGNORE on SQLite, ON CONFLICT DO NOTHING on PostgreSQL)."""
    fields = UsageEventRow._meta.sorted_fields
    postgres = isinstance(database, PostgresqlDatabase)
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    row = "(" + ", ".join([database.param] * len(fields)) + ")"
    sql = (f'INSERT {"" if postgres else "OR IGNORE "}INTO "{UsageEventRow._meta.table_name}" '
           f"({columns}) VALUES {', '.join([row] * len(events))}{' ON CONFLICT DO NOTHING' if postgres else ''}")
    values: list[Any] = []
    for event in events:
        data = _row_from(event)
        values += [field.db_value(data[field.name]) for field in fields]
    return database.execute_sql(sql, values).rowcount


def _with_witnesses(event: UsageEvent, others: set[str]) -> UsageEvent:
    if not others:
        return event
    return event.model_copy(update={"witnesses": _witnesses_text(event.witnesses or event.source, others)})


def _witnesses_text(current: str, others: set[str]) -> str:
    return ",".join(sorted(set(current.split(",")) | others))


def _add_witnesses(database: Database, witnessed: dict[str, set[str]]) -> None:
    """Note the other sources that saw stored records' calls."""
    row = UsageEventRow
    for batch in chunked(list(witnessed), INSERT_BATCH_ROWS):
        for event_id, source, current in (row.select(row.id, row.source, row.witnesses)
                                          .where(row.id.in_(batch)).tuples().execute(database)):
            text = _witnesses_text(current or source, witnessed[event_id])
            if text != current:
                row.update(witnesses=text).where(row.id == event_id).execute(database)


def _as_a_plan(event: UsageEvent) -> UsageEvent:
    return event if event.cost_usd is None else event.model_copy(update={"cost_note": on_a_plan(event.cost_note)})


def _note_plans(database: Database, event_ids: set[str]) -> None:
    """Note on stored records that their call's cost is a plan's API-equivalent."""
    row = UsageEventRow
    for batch in chunked(sorted(event_ids), INSERT_BATCH_ROWS):
        for event_id, note in (row.select(row.id, row.cost_note).where(row.id.in_(batch) & row.cost_usd.is_null(False))
                               .tuples().execute(database)):
            if on_a_plan(note) != note:
                row.update(cost_note=on_a_plan(note)).where(row.id == event_id).execute(database)


def _not_yet_recorded(database: Database, events: Sequence[UsageEvent]
                      ) -> tuple[list[UsageEvent], list[str], RecordedCalls]:
    """The events to insert, the ids of stored records they displace, and what was learnt of
    the kept records (RecordedCalls: the other sources that saw their call, and whether one
    priced it as a plan's), by the rule in `offgate.store.same_call`: the stored records it needs are found through the
    (response_id, ts) index (and, before a record displaces another, its own id by the
    primary key)."""
    keyed = [event for event in events if event.response_id]
    if not keyed:
        return list(events), [], RecordedCalls(lambda _event_id: False)  # nothing to learn: no call has an id
    if isinstance(database, PostgresqlDatabase):
        # Writers in other processes check and insert in their own transactions: take turns.
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_DEDUP_LOCK,))
    row = UsageEventRow
    recorded = RecordedCalls(lambda event_id: row.select().where(row.id == event_id).exists(database))
    sources = {event.source for event in keyed}
    for batch in chunked(keyed, INSERT_BATCH_ROWS):
        times = [naive_utc(event.ts) for event in batch]
        query = row.select(row.id, row.host, row.response_id, row.device, row.source, row.ts, row.user).where(
            row.response_id.in_({event.response_id for event in batch}),
            row.ts.between(min(times) - AGENT_LOG_WINDOW, max(times) + AGENT_LOG_WINDOW),  # the widest window
        )
        if len(sources) == 1:
            # A path's own records are never the same call (an app may reuse ids): not read.
            query = query.where(row.source != next(iter(sources)))
        for event_id, host, response_id, device, source, ts, user in query.tuples().execute(database):
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
    return list(fresh.values()), displaced, recorded


def acted_on_calls(database: Database, since: datetime, until: datetime) -> list[UsageEvent]:
    """The calls a capture path blocked or coached under the policy, since <= ts < until, oldest first."""
    query = _in_window(UsageEventRow.select(), since, until).where(UsageEventRow.policy_outcome.is_null(False))
    rows = query.order_by(UsageEventRow.ts, UsageEventRow.id).dicts().execute(database)
    return [UsageEvent.model_validate(row) for row in rows]


def read_events(database: Database, since: datetime | None, until: datetime | None,
                limit: int | None) -> list[UsageEvent]:
    """Events with since <= ts < until, oldest first (ties by id); the first `limit`."""
    query = _in_window(UsageEventRow.select(), since, until).order_by(UsageEventRow.ts, UsageEventRow.id)
    if limit is not None:
        query = query.limit(limit)
    return [UsageEvent.model_validate(row) for row in query.dicts().execute(database)]


def count_events(database: Database, since: datetime | None) -> int:
    return _in_window(UsageEventRow.select(), since, None).count(database)


def total_events(database: Database, by: str, since: datetime | None) -> list[dict[str, Any]]:
    """Per value of `by` (one of TOTALS_DIMENSIONS): see Store.totals."""
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
    groups = list(_in_window(query, since, None).dicts().execute(database))
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


def _row_from(event: UsageEvent) -> dict[str, Any]:
    row = event.model_dump()
    row["ts"] = naive_utc(event.ts)
    return row


def _in_window(query: ModelSelect[UsageEventRow], since: datetime | None,
               until: datetime | None) -> ModelSelect[UsageEventRow]:
    return between(query, UsageEventRow.ts, since, until)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
