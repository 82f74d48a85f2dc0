"""Rollups of usage_event in a PostgreSQL store: what the report and the alert round read at
fleet scale instead of every record.

- usage_daily: calls per UTC day and every value the report groups or filters on (device,
  user, provider, app, process, model, key, route, estimated tokens, reconciled class,
  whether matched to a spend row, policy outcome and cost note), with their tokens, cost
  and matched spend summed;
- usage_hourly_unmanaged: unmanaged calls (as the report classes them) per UTC hour, device,
  user, app, provider and key, with tokens, cost and the first call's time: the alerts' series.

They are kept exact by statement triggers, whoever writes (the collector, a writer pointed at
PostgreSQL, reconcile): each statement that updates or deletes records or their
reconciliation recomputes the rollup rows of the (device, day) pairs it touched from the
records themselves (the (device, ts) index reads ~200 rows a device-day), so the rollups are
correct under upserts and idempotent; a statement that inserts records adds them to the
rollup rows instead (offgate.store.rollup_deltas). Concurrent writers of one pair take turns on an
advisory lock, in a fixed order. Spend rows are only ever added (analytics.spend keeps the
first copy), so a matched call's spend never changes under its rollup. SQLite stores have
none: there the report and alerts read the records, which a workstation has few of.

A read takes whole periods from a rollup and the window's ragged ends from the records; a
ragged period is the rollup's whole when the store holds no call in its part outside the
window (today after now). A call timed past the window's end that lands between that check
and the read would be counted: the same class of race as a call pushed during a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import (
    BigIntegerField,
    BooleanField,
    Database,
    DateField,
    DateTimeField,
    DoubleField,
    Model,
    PostgresqlDatabase,
    SchemaManager,
    TextField,
)
from playhouse.migrate import SchemaMigrator, migrate

from offgate.store.sql import naive_utc

# Any fixed number: the first key of the two-key advisory locks that serialise one pair's refresh.
ROLLUP_LOCK = 0x0FF6A7F
ONE_DAY, ONE_HOUR, ZERO = timedelta(days=1), timedelta(hours=1), timedelta(0)


class _DailyUsageRowV1(Model):
    """usage_daily as add_usage_rollups created it, frozen: a fresh store is built as old
    stores were, then migrated like them (DailyUsageRow is the table as it is now)."""

    day = DateField()
    device = TextField(null=True)
    user = TextField(null=True)
    provider = TextField(null=True)
    app = TextField(null=True)
    process_name = TextField(null=True)
    model = TextField(null=True)
    key_fingerprint = TextField(null=True)
    route = TextField()
    tokens_estimated = BooleanField()
    classification = TextField(null=True)  # as reconciled; NULL: not reconciled yet
    matched = BooleanField()
    calls = BigIntegerField()
    prompt_tokens = BigIntegerField(null=True)  # NULL sums, as SUM over the records gives them
    completion_tokens = BigIntegerField(null=True)
    cost_usd = DoubleField(null=True)
    unpriced_calls = BigIntegerField()
    spend = DoubleField(null=True)
    unpriced_spend = BigIntegerField()

    class Meta:
        table_name = "usage_daily"
        primary_key = False
        indexes = ((("device", "day"), False), (("day",), False))


# Keys usage_daily gained after its first version, so the report's coaching and pricing parts read it too.
OUTCOME_AND_NOTE = ("policy_outcome", "cost_note")


class DailyUsageRow(_DailyUsageRowV1):
    """Calls of one UTC day alike in every column but the sums."""

    policy_outcome = TextField(null=True)  # coached, blocked or NULL (nothing): offgate.store.queries.POLICY_OUTCOME
    cost_note = TextField(null=True)  # what the cost stands for: offgate.pricing_basis

    class Meta:  # pyright: ignore[reportIncompatibleVariableOverride] - peewee reads each Model's own Meta
        table_name = "usage_daily"


_EDGES = "usage_window_edges"


class WindowEdgeRow(DailyUsageRow):
    """A window's ragged edges rolled up as usage_daily rolls up whole days, in a temporary
    table dropped at the end of its transaction (roll_up_edges): read once for every group-by
    of a report instead of once each (offgate.store.queries.CallQueries.window)."""

    class Meta:  # pyright: ignore[reportIncompatibleVariableOverride] - peewee reads each Model's own Meta
        table_name = _EDGES


class HourlyUnmanagedRow(Model):
    """Unmanaged calls of one UTC hour alike in the dimensions the alerts watch."""

    hour = DateTimeField()
    device = TextField(null=True)
    user = TextField(null=True)
    app = TextField(null=True)
    provider = TextField(null=True)
    key_fingerprint = TextField(null=True)
    calls = BigIntegerField()
    tokens = BigIntegerField()  # prompt + completion, a missing count as 0
    cost_usd = DoubleField()  # an unpriced call counts 0
    first_ts = DateTimeField()

    class Meta:
        table_name = "usage_hourly_unmanaged"
        primary_key = False
        indexes = ((("device", "hour"), False), (("hour",), False))


def has_rollups(database: Database) -> bool:
    """Whether the store keeps the rollups (a PostgreSQL store, migrated when opened)."""
    return isinstance(database, PostgresqlDatabase)


def no_calls(database: Database) -> Callable[[datetime, datetime], bool]:
    """Whether the store holds no call in [start, end): one read of usage_event's ts index."""
    def empty(start: datetime, end: datetime) -> bool:
        cursor = database.execute_sql("SELECT NOT EXISTS (SELECT 1 FROM usage_event WHERE ts >= %s AND ts < %s)",
                                      (start, end))
        return bool(cursor.fetchone()[0])
    return empty


_DAILY_KEYS = ('day, device, "user", provider, app, process_name, model, key_fingerprint, route, tokens_estimated, '
               "classification, matched")
_DAILY_SUMS = "calls, prompt_tokens, completion_tokens, cost_usd, unpriced_calls, spend, unpriced_spend"
# usage_daily's columns as it is now (rollup_deltas adds to it with them).
DAILY_COLUMNS = f"{_DAILY_KEYS}, {', '.join(OUTCOME_AND_NOTE)}, {_DAILY_SUMS}"


def daily_rows(events: str, where: str, more_keys: tuple[str, ...] = OUTCOME_AND_NOTE) -> str:
    """The usage_daily rows of the records of `events` (a table, as e) that `where` keeps, by
    day, _DAILY_KEYS and `more_keys` (usage_event's columns of those names: usage_daily's key
    as it is now by default)."""
    selected = "".join(f", e.{key}" for key in more_keys)
    return f"""SELECT e.ts::date, e.device, e."user", e.provider, e.app, e.process_name, e.model, e.key_fingerprint,
       e.route, e.tokens_estimated, c.classification, c.spend_request_id IS NOT NULL{selected},
       count(*), sum(e.prompt_tokens), sum(e.completion_tokens), sum(e.cost_usd),
       count(*) FILTER (WHERE e.cost_usd IS NULL), sum(s.spend),
       count(*) FILTER (WHERE c.spend_request_id IS NOT NULL AND s.spend IS NULL)
FROM {events} e LEFT JOIN reconciled_call c ON c.event_id = e.id
     LEFT JOIN litellm_spend_log s ON s.request_id = c.spend_request_id
WHERE {where}
GROUP BY {", ".join(str(position) for position in range(1, 13 + len(more_keys)))}"""


def roll_up_edges(database: Database, edges: tuple[tuple[datetime | None, datetime | None], ...]) -> None:
    """WindowEdgeRow's table made of the records in `edges` (naive UTC, each closed), inside a
    transaction (the table is dropped at its end)."""
    where = " OR ".join("(e.ts >= %s AND e.ts < %s)" for _ in edges)
    cursor = database.cursor()
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{_EDGES}")  # an earlier report's, in a transaction around both
    # A day's records fall into few groups (40,000 at 10,000 devices), but the planner multiplies the
    # key columns' distinct values, guesses millions and sorts them on disk: hashing takes half the time.
    cursor.execute("SET LOCAL enable_sort = off")
    # CREATE TABLE AS, not INSERT: its SELECT may run in parallel workers.
    cursor.execute(f"CREATE TEMPORARY TABLE {_EDGES} ({DAILY_COLUMNS}) ON COMMIT DROP AS\n"
                   f"{daily_rows('usage_event', where)}", [moment for edge in edges for moment in edge])
    cursor.execute("RESET enable_sort")


def _daily(more_keys: tuple[str, ...]) -> str:
    """The INSERT rolling up the records its %s keeps into usage_daily keyed by _DAILY_KEYS and
    `more_keys`: one per version of usage_daily's key."""
    columns, rows = "".join(f", {key}" for key in more_keys), daily_rows("usage_event", "%s", more_keys)
    return f"INSERT INTO usage_daily ({_DAILY_KEYS}{columns}, {_DAILY_SUMS})\n{rows}"


def hourly_rows(events: str, where: str) -> str:
    """The usage_hourly_unmanaged rows of the records of `events` (as e) that `where` keeps.
    "unmanaged" as offgate.store.queries.classification decides it: as reconciled, else by route."""
    return f"""SELECT date_trunc('hour', e.ts), e.device, e."user", e.app, e.provider, e.key_fingerprint, count(*),
       sum(COALESCE(e.prompt_tokens, 0) + COALESCE(e.completion_tokens, 0)), sum(COALESCE(e.cost_usd, 0)), min(e.ts)
FROM {events} e LEFT JOIN reconciled_call c ON c.event_id = e.id
WHERE COALESCE(c.classification, CASE WHEN e.route = 'gateway' THEN 'gateway' ELSE 'unmanaged' END) = 'unmanaged'
  AND {where}
GROUP BY 1, 2, 3, 4, 5, 6"""


HOURLY_COLUMNS = 'hour, device, "user", app, provider, key_fingerprint, calls, tokens, cost_usd, first_ts'
_HOURLY = f"INSERT INTO usage_hourly_unmanaged ({HOURLY_COLUMNS})\n{hourly_rows('usage_event', '%s')}"


def _sql_literal(statement: str) -> str:
    return "'" + statement.replace("'", "''") + "'"


def _rebuilders(daily: str) -> tuple[str, ...]:
    """The functions that rebuild the rollups, usage_daily by the INSERT `daily` (_daily's)."""
    return (
        # One (device, day) pair at a time, in order (so two writers never wait on each other crosswise);
        # the device is written into each statement, so its plan reads the (device, ts) index.
        f"""CREATE OR REPLACE FUNCTION usage_rollup_refresh(devices text[], days date[]) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
            pair record;
            of_device text;
            events text;
        BEGIN
            FOR pair IN SELECT DISTINCT p.device, p.day FROM unnest(devices, days) AS p(device, day) ORDER BY 1, 2 LOOP
                PERFORM pg_advisory_xact_lock({ROLLUP_LOCK}, hashtext(COALESCE(pair.device, '') || '|' || pair.day));
                of_device := CASE WHEN pair.device IS NULL THEN 'device IS NULL'
                                  ELSE format('device = %L', pair.device) END;
                EXECUTE format('DELETE FROM usage_daily WHERE %s AND day = %L', of_device, pair.day);
                EXECUTE format('DELETE FROM usage_hourly_unmanaged WHERE %s AND hour >= %L AND hour < %L',
                               of_device, pair.day, pair.day + 1);
                events := format('e.%s AND e.ts >= %L AND e.ts < %L', of_device, pair.day, pair.day + 1);
                EXECUTE format({_sql_literal(daily)}, events);
                EXECUTE format({_sql_literal(_HOURLY)}, events);
            END LOOP;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION usage_rollup_rebuild() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            TRUNCATE usage_daily, usage_hourly_unmanaged;
            {daily % "true"};
            {_HOURLY % "true"};
        END $$""",
    )


_TRIGGER_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION usage_rollup_events_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        devices text[];
        days date[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(device), array_agg(day) INTO devices, days
            FROM (SELECT DISTINCT device, ts::date AS day FROM changed) AS p;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(device), array_agg(day) INTO devices, days
            FROM (SELECT DISTINCT device, ts::date AS day FROM before) AS p;
        ELSE  -- a record moved to another device or day leaves both pairs to redo
            SELECT array_agg(device), array_agg(day) INTO devices, days
            FROM (SELECT device, ts::date AS day FROM changed UNION SELECT device, ts::date FROM before) AS p;
        END IF;
        IF devices IS NOT NULL THEN
            PERFORM usage_rollup_refresh(devices, days);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION usage_rollup_calls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        devices text[];
        days date[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(device), array_agg(day) INTO devices, days FROM (
                SELECT DISTINCT e.device, e.ts::date AS day FROM changed JOIN usage_event e ON e.id = changed.event_id
            ) AS p;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(device), array_agg(day) INTO devices, days FROM (
                SELECT DISTINCT e.device, e.ts::date AS day FROM before JOIN usage_event e ON e.id = before.event_id
            ) AS p;
        ELSE
            SELECT array_agg(device), array_agg(day) INTO devices, days FROM (
                SELECT e.device, e.ts::date AS day FROM changed JOIN usage_event e ON e.id = changed.event_id
                UNION SELECT e.device, e.ts::date FROM before JOIN usage_event e ON e.id = before.event_id
            ) AS p;
        END IF;
        IF devices IS NOT NULL THEN
            PERFORM usage_rollup_refresh(devices, days);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION usage_rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM usage_rollup_rebuild();
        RETURN NULL;
    END $$""",
)


def _triggers(table: str, function: str) -> tuple[str, ...]:
    # A trigger with transition tables may name one event only: one each.
    return (
        f"CREATE TRIGGER {table}_rollup_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS changed "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_rollup_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS before "
        f"NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_rollup_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS before "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_rollup_truncate AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_truncated()",
    )


def add_usage_rollups(database: Database) -> None:
    """The rollup tables, their triggers, and the rollups of every record stored (PostgreSQL only)."""
    if not has_rollups(database):
        return
    for model in (_DailyUsageRowV1, HourlyUnmanagedRow):
        SchemaManager(model, database).create_all()
    _rebuild(database, (*_rebuilders(_daily(())), *_TRIGGER_FUNCTIONS,
                        *_triggers("usage_event", "usage_rollup_events_changed"),
                        *_triggers("reconciled_call", "usage_rollup_calls_changed")))


def key_daily_usage_by_outcome_and_note(database: Database) -> None:
    """usage_daily keyed by each call's policy outcome and cost note too, rebuilt (PostgreSQL only)."""
    if not has_rollups(database):
        return
    migrator = SchemaMigrator.from_database(database)
    migrate(*(migrator.add_column("usage_daily", column, TextField(null=True)) for column in OUTCOME_AND_NOTE))
    _rebuild(database, _rebuilders(_daily(OUTCOME_AND_NOTE)))


def index_hourly_rollup_by_combination(database: Database) -> None:
    """usage_hourly_unmanaged indexed in the order the alert round groups it by (the default
    dimensions: user, device, app, provider, key), covering what it sums: the round reads each
    combination's hours in order from the index instead of sorting millions of rows by five texts
    (PostgreSQL only)."""
    if not has_rollups(database):
        return
    database.execute_sql('CREATE INDEX usage_hourly_unmanaged_by_combination ON usage_hourly_unmanaged '
                         '("user", device, app, provider, key_fingerprint, hour) '
                         "INCLUDE (calls, tokens, cost_usd, first_ts)")


def _rebuild(database: Database, statements: tuple[str, ...]) -> None:
    """The statements run (functions and triggers), then the rollups rebuilt from every record."""
    cursor = database.cursor()  # no parameters: the functions' own % placeholders are PL/pgSQL's format()
    for statement in statements:
        cursor.execute(statement)
    cursor.execute("SELECT usage_rollup_rebuild()")


_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Window:
    """A window [since, until) (naive UTC, None: open) cut into the whole periods a rollup
    answers (`rolled`, None when there is none) and the edges only the records can (`raw`)."""

    rolled: tuple[datetime | None, datetime | None] | None
    raw: tuple[tuple[datetime | None, datetime | None], ...]


def cut_window(database: Database, since: datetime | None, until: datetime | None, period: timedelta,
               rollups: bool) -> Window:
    """The window (naive UTC) for a read from the rollup of `period` (when `rollups`) and the records."""
    since, until = (None if moment is None else naive_utc(moment) for moment in (since, until))
    return split_window(since, until, period, no_calls(database)) if rollups else Window(None, ((since, until),))


def split_window(since: datetime | None, until: datetime | None, period: timedelta,
                 empty: Callable[[datetime, datetime], bool] = lambda start, end: False) -> Window:
    """The window cut at whole periods. A period the window covers only in part is still the
    rollup's whole when `empty(start, end)` says the store holds no call in its part outside
    the window (the usual case for the current day or hour, whose rest is the future)."""
    start = end = None
    if since is not None:
        start = _floor(since, period)
        if start < since and not empty(start, since):
            start += period
    if until is not None:
        end = _floor(until, period)
        if end < until and empty(until, end + period):
            end += period
    if start is not None and end is not None and start >= end:
        return Window(None, ((since, until),))
    edges: list[tuple[datetime | None, datetime | None]] = []
    if since is not None and start is not None and since < start:
        edges.append((since, start))
    if until is not None and end is not None and until > end:
        edges.append((end, until))
    return Window((start, end), tuple(edges))


def _floor(moment: datetime, period: timedelta) -> datetime:
    return moment - (moment - _EPOCH) % period
