"""Records inserted into a PostgreSQL store are added to the rollups, not recomputed.

The first rollup triggers (offgate.store.rollups) recompute every (device, day) pair a
statement touched from the records, so a batch of 1,000 calls into a day that holds 10,000
re-read 11,000 records: ingest cost grew with what was stored. An insert now groups only the
statement's own new records (its transition table) and adds each group to the rollup row of
the same key, or inserts that row: cost in proportion to the batch. Updates, deletions and
reconciliation still recompute (a minimum cannot be taken back), and so do records of no
device, whose pairs the (device, day) index cannot find by equality.

One statement can both update and insert (INSERT ... ON CONFLICT DO UPDATE, the collector's
upsert): PostgreSQL fires its AFTER UPDATE statement trigger, which recomputes the pair with
the statement's new records already in it, before its AFTER INSERT one. So the update trigger
notes the pairs it recomputed in a transaction-local setting, the insert trigger adds nothing
to those, and a BEFORE INSERT statement trigger clears the note, so a note never outlives its
statement. Additions take the pair's advisory lock as a recompute does.
"""

from __future__ import annotations

from peewee import Database

from offgate.store.rollups import DAILY_COLUMNS, HOURLY_COLUMNS, ROLLUP_LOCK, daily_rows, has_rollups, hourly_rows

_RECOMPUTED = "offgate.rollup_recomputed"  # 'YYYY-MM-DD device' of each pair this statement recomputed
# The statement's new records of a device, outside the pairs already recomputed.
_TO_ADD = "e.device IS NOT NULL AND NOT (e.ts::date::text || ' ' || e.device = ANY(recomputed))"


def _add(table: str, columns: str, period: str, merged: dict[str, str], rows: str) -> str:
    """`rows` (one per key: every column of `table` but those in `merged`) added to the row of
    `table` with the same key, or inserted. Rows are found by (device, period) through the
    table's index, the rest of the key compared NULL-safe."""
    names = [name.strip() for name in columns.split(",")]
    rest = [name for name in names if name not in merged and name not in ("device", period)]

    def same(row: str) -> str:
        return (f"{row}.device = a.device AND {row}.{period} = a.{period} AND "
                f"({', '.join(f'{row}.{name}' for name in rest)}) IS NOT DISTINCT FROM "
                f"({', '.join(f'a.{name}' for name in rest)})")

    sums = ", ".join(f"{name} = {expression}" for name, expression in merged.items())
    return f"""WITH delta ({columns}) AS ({rows}),
    added AS (UPDATE {table} d SET {sums} FROM delta a WHERE {same('d')} RETURNING a.*)
    INSERT INTO {table} ({columns}) SELECT {', '.join(f'a.{name}' for name in names)} FROM delta a
    WHERE NOT EXISTS (SELECT 1 FROM added u WHERE {same('u')})"""


def _plus(name: str) -> str:
    return f"d.{name} + a.{name}"


def _plus_nullable(name: str) -> str:  # NULL only while every record's value is NULL, as SUM gives it
    return f"COALESCE(d.{name} + a.{name}, d.{name}, a.{name})"


_ADD_DAILY = _add("usage_daily", DAILY_COLUMNS, "day", {
    "calls": _plus("calls"), "prompt_tokens": _plus_nullable("prompt_tokens"),
    "completion_tokens": _plus_nullable("completion_tokens"), "cost_usd": _plus_nullable("cost_usd"),
    "unpriced_calls": _plus("unpriced_calls"), "spend": _plus_nullable("spend"),
    "unpriced_spend": _plus("unpriced_spend")}, daily_rows("changed", _TO_ADD))
_ADD_HOURLY = _add("usage_hourly_unmanaged", HOURLY_COLUMNS, "hour", {
    "calls": _plus("calls"), "tokens": _plus("tokens"), "cost_usd": _plus("cost_usd"),
    "first_ts": "LEAST(d.first_ts, a.first_ts)"}, hourly_rows("changed", _TO_ADD))

_FUNCTIONS = (
    f"""CREATE OR REPLACE FUNCTION usage_rollup_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        recomputed text[] := COALESCE(NULLIF(current_setting('{_RECOMPUTED}', true), ''), '{{}}')::text[];
        pair record;
        devices text[];
        days date[];
    BEGIN
        FOR pair IN SELECT DISTINCT device, ts::date AS day FROM changed WHERE device IS NOT NULL ORDER BY 1, 2 LOOP
            PERFORM pg_advisory_xact_lock({ROLLUP_LOCK}, hashtext(pair.device || '|' || pair.day));
        END LOOP;
        {_ADD_DAILY};
        {_ADD_HOURLY};
        SELECT array_agg(device), array_agg(day) INTO devices, days
        FROM (SELECT DISTINCT device, ts::date AS day FROM changed WHERE device IS NULL) AS p;
        IF devices IS NOT NULL THEN
            PERFORM usage_rollup_refresh(devices, days);
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION usage_rollup_events_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        devices text[];
        days date[];
    BEGIN
        -- a record moved to another device or day leaves both pairs to redo
        SELECT array_agg(device), array_agg(day) INTO devices, days
        FROM (SELECT device, ts::date AS day FROM changed UNION SELECT device, ts::date FROM before) AS p;
        IF devices IS NOT NULL THEN
            PERFORM usage_rollup_refresh(devices, days);
            PERFORM set_config('{_RECOMPUTED}', COALESCE((SELECT array_agg(p.day::text || ' ' || p.device)
                FROM unnest(devices, days) AS p(device, day) WHERE p.device IS NOT NULL), '{{}}')::text, true);
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION usage_rollup_forget_recomputed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM set_config('{_RECOMPUTED}', '', true);
        RETURN NULL;
    END $$""",
)
_TRIGGERS = (
    "DROP TRIGGER usage_event_rollup_insert ON usage_event",
    "DROP TRIGGER usage_event_rollup_update ON usage_event",
    "CREATE TRIGGER usage_event_rollup_insert AFTER INSERT ON usage_event REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_events_inserted()",
    "CREATE TRIGGER usage_event_rollup_update AFTER UPDATE ON usage_event REFERENCING OLD TABLE AS before "
    "NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_events_updated()",
    "CREATE TRIGGER usage_event_rollup_forget BEFORE INSERT ON usage_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_forget_recomputed()",
)


def add_inserts_to_rollups(database: Database) -> None:
    """Inserted records added to the rollups instead of their pairs recomputed (PostgreSQL only)."""
    if not has_rollups(database):
        return
    cursor = database.cursor()  # no parameters: the SQL's own % are PL/pgSQL's and PostgreSQL's
    for statement in (*_FUNCTIONS, *_TRIGGERS):
        cursor.execute(statement)
