"""The central store's rollups answer the report and the alerts exactly as the records do:
after inserts, upserts, updates, deletions and reconciliation, for whole days and ragged
windows, on a real PostgreSQL (and a workstation's SQLite store keeps none)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from typer.testing import CliRunner

from analytics.reconcile import reconcile
from analytics.report.coaching import coaching_part
from analytics.report.model import SOURCE_FIELDS, build_report
from analytics.report.pricing_bases import pricing_part
from offgate.cli import app
from offgate.config import ReconcileSettings
from offgate.pricing_basis import SUBSCRIPTION_NOTE, retired_note
from offgate.store import Store
from offgate.store.alerts import UnmanagedSeries
from offgate.store.filters import ALL_CALLS
from offgate.store.people import People, Person
from offgate.store.queries import COST_NOTE, POLICY_OUTCOME, WEEK, CallGroup, CallQueries
from offgate.store.rollups import Window, key_daily_usage_by_outcome_and_note, no_calls, split_window
from offgate.store.schema import MIGRATIONS, UsageEventRow
from offgate.store.spend import SpendLog
from offgate.store.sql import insert_rows
from offgate.vocabulary import ALERT_DIMENSIONS, DAY, DIMENSIONS
from tests.support.reconcile_data import NOW, T0, direct_call, world

T = T0.replace(tzinfo=None)
WINDOWS = [
    (None, None),
    (T - timedelta(days=3), T + timedelta(days=3)),  # whole days only
    (T - timedelta(days=2, hours=5, minutes=7), T + timedelta(hours=30, seconds=1)),  # ragged ends
    (T + timedelta(minutes=3), T + timedelta(minutes=9)),  # inside one hour
    (T - timedelta(days=5, hours=3), T + timedelta(days=3, hours=2, minutes=5)),  # ragged, no call beyond either end
]
GROUPINGS = [[name] for name in (*DIMENSIONS, DAY, WEEK, COST_NOTE, POLICY_OUTCOME)] + [list(SOURCE_FIELDS)]
COACHING, PRICING = ["app", "user", WEEK, POLICY_OUTCOME], ["app", "model", COST_NOTE]  # the report's parts' groupings
COACHING_BY_DAY = ["app", "user", DAY, POLICY_OUTCOME]
GROUPINGS += [COACHING, COACHING_BY_DAY, PRICING]
NOTES = (None, SUBSCRIPTION_NOTE, retired_note("1.74.0", "2025-06-01"), "estimated from the response's size")


def more_calls() -> list:
    """Calls over several days and hours, of several devices (one none), some unpriced, of
    several apps, cost notes and policy outcomes (coached, blocked, none)."""
    return [direct_call(f"spread-{n}", -3 * 86400 + n * 3 * 3600 + n, user=("bob", "dave", None)[n % 3],
                        device=("bob-desktop", "dave-laptop", None)[n % 3], cost_usd=None if n % 5 == 0 else 0.001 * n,
                        prompt_tokens=None if n % 7 == 0 else 100 * n, process_name=("python3", "node")[n % 2],
                        app=("claude-code", "cursor", None)[n % 3 - 1], cost_note=NOTES[n % 4],
                        policy_outcome=("coached", "blocked", None, None, None)[n % 5 - 1])
            for n in range(40)]


@pytest.fixture
def central_store(fresh_postgres_url: str) -> Iterator[Store]:
    with Store.open(fresh_postgres_url) as store:
        events, rows = world()
        store.add([*events, *more_calls()])
        SpendLog(store).add(rows, "file")
        People(store).replace([Person("bob", None, "bob@example.com", "data"), Person("dave", "dave-laptop", None,
                                                                                      "web")], "test")
        yield store


def comparable(groups: list[CallGroup]) -> list[tuple[Any, ...]]:
    """Groups in one order, money rounded below a float sum's order of summation."""
    return sorted(((json.dumps(group.keys, default=str, sort_keys=True), group.classification, group.reconciled,
                    group.matched, group.estimated, group.web_app, group.calls, group.prompt_tokens,
                    group.completion_tokens, round(group.cost_usd, 12), group.unpriced_calls, round(group.spend, 12),
                    group.unpriced_spend) for group in groups), key=str)


def assert_rollups_agree(store: Store) -> None:
    rolled, raw = CallQueries(store), CallQueries(store, rollups=False)
    for since, until in WINDOWS:
        for by in GROUPINGS:
            expected = comparable(raw.call_groups(since, until, by, ["chatgpt"]))
            assert comparable(rolled.call_groups(since, until, by, ["chatgpt"])) == expected, (since, until, by)
        for by in (COACHING, COACHING_BY_DAY, PRICING):
            expected_counts = class_counts(raw, since, until, by)
            assert class_counts(rolled, since, until, by) == expected_counts, (since, until, by)
        with CallQueries(store).window(since, until) as edged:  # the ragged edges read once, as a report does
            for by in GROUPINGS:
                assert comparable(edged.call_groups(since, until, by, ["chatgpt"])) == comparable(
                    raw.call_groups(since, until, by, ["chatgpt"])), (since, until, by)
            assert class_counts(edged, since, until, COACHING) == class_counts(raw, since, until, COACHING)
    dimensions = list(ALERT_DIMENSIONS)
    for since, until in WINDOWS:
        assert hourly(UnmanagedSeries(store), since, until) == hourly(UnmanagedSeries(store, rollups=False), since,
                                                                     until), (since, until)
    # Every combination's first call ever, whatever the window read (a part of it lies outside most windows).
    ever = UnmanagedSeries(store, rollups=False).hours(None, None, dimensions).first_calls
    for since, until in WINDOWS:
        for rollups in (True, False):
            assert UnmanagedSeries(store, rollups).hours(since, until, dimensions).first_calls == ever, (since, until)


def hourly(series: UnmanagedSeries, since: datetime | None, until: datetime | None) -> list[tuple[Any, ...]]:
    """One (values..., hour, calls, tokens, cost) per combination and hour."""
    found = series.hours(since, until, list(ALERT_DIMENSIONS))
    return sorted(((*found.values[combination], hour, calls, tokens, round(cost, 12)) for combination, hour, calls,
                   tokens, cost in zip(found.combination.tolist(), found.hour.tolist(), found.calls.tolist(),
                                       found.tokens.tolist(), found.cost_usd.tolist(), strict=True)), key=str)


def class_counts(queries: CallQueries, since: datetime | None, until: datetime | None,
                 by: list[str]) -> list[tuple[Any, ...]]:
    return sorted(((json.dumps(count.keys, sort_keys=True), count.classification, count.calls)
                   for count in queries.class_counts(since, until, by)), key=str)


def outcomes_and_notes(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Calls per (policy outcome, cost note) in usage_daily, and in the records."""
    found = []
    for table, calls in (("usage_daily", "sum(calls)"), ("usage_event", "count(*)")):
        cursor = store.database.execute_sql(f"SELECT policy_outcome, cost_note, {calls} FROM {table} GROUP BY 1, 2")
        found.append(sorted(((outcome, note, int(n)) for outcome, note, n in cursor.fetchall()), key=str))
    return found[0], found[1]


def rollup_rows(store: Store) -> tuple[int, int]:
    cursor = store.database.execute_sql("SELECT (SELECT sum(calls) FROM usage_daily), "
                                        "(SELECT sum(calls) FROM usage_hourly_unmanaged)")
    daily, hourly_calls = cursor.fetchone()
    return int(daily or 0), int(hourly_calls or 0)


def test_rollups_answer_as_the_records_do_through_every_kind_of_write(central_store: Store) -> None:
    store = central_store
    unmanaged = store.database.execute_sql("SELECT count(*) FROM usage_event WHERE route <> 'gateway'").fetchone()[0]
    records = len(world()[0]) + len(more_calls())
    assert rollup_rows(store) == (records, unmanaged)  # every record counted once
    rolled_up, stored = outcomes_and_notes(store)
    assert rolled_up == stored and len(stored) >= 8  # kept apart by outcome and note
    assert_rollups_agree(store)

    reconcile(store, ReconcileSettings(), since=None, now=NOW)  # classes and matched spend change
    assert_rollups_agree(store)

    row, db = UsageEventRow, store.database
    # An update: a record's tokens and cost grow (a session growing), one moves to another day and device.
    row.update(prompt_tokens=row.prompt_tokens + 5000, cost_usd=0.5).where(row.id == "u-script").execute(db)
    row.update(ts=T + timedelta(days=2, minutes=1), device="erin-pc").where(row.id == "spread-3").execute(db)
    row.update(policy_outcome="blocked", cost_note=SUBSCRIPTION_NOTE).where(row.id == "spread-8").execute(db)
    assert_rollups_agree(store)
    # An upsert of a stored id (INSERT ... ON CONFLICT DO UPDATE, as the collector's), and a deletion.
    grown = cast(dict[str, Any], row.select().where(row.id == "u-estimated").dicts().get(db))
    insert_rows(store.database, row, [{**grown, "completion_tokens": 4000, "cost_usd": 0.02}], existing="replace")
    row.delete().where(row.id.in_(["spread-4", "u-unpriced"])).execute(store.database)
    assert_rollups_agree(store)
    assert rollup_rows(store)[0] == records - 2
    rolled_up, stored = outcomes_and_notes(store)
    assert rolled_up == stored

    store.database.execute_sql("TRUNCATE usage_event")
    assert rollup_rows(store) == (0, 0)


def test_records_added_to_a_stored_day_count_once_whatever_the_statement(central_store: Store) -> None:
    """Inserted records are added to their day's rollup rows (not recomputed): in one upsert
    that also updates a record of the same day (its update recomputes the day first), after a
    plain update in the same transaction, with and without a device, and in bulk by COPY."""
    store, row = central_store, UsageEventRow
    db = store.database
    records = len(world()[0]) + len(more_calls())
    stored = cast(dict[str, Any], row.select().where(row.id == "spread-1").dicts().get(db))
    later = stored["ts"] + timedelta(minutes=1)
    # One statement: spread-1 updated, a new call of its device and day, a new call of no device.
    insert_rows(db, row, [{**stored, "cost_usd": 0.25}, {**stored, "id": "upserted-new", "ts": later},
                          {**stored, "id": "upserted-no-device", "device": None, "ts": later}], existing="replace")
    assert rollup_rows(store)[0] == records + 2
    assert_rollups_agree(store)
    # An update, then an insert into the same day in the same transaction: the insert still counts.
    with db.atomic():
        row.update(prompt_tokens=1).where(row.id == "spread-1").execute(db)
        insert_rows(db, row, [{**stored, "id": "after-an-update", "ts": later, "prompt_tokens": None}])
    assert rollup_rows(store)[0] == records + 3
    assert_rollups_agree(store)
    # A bulk load: COPY of new calls into stored and new days, unpriced and untokened ones among them.
    copied = [{**stored, "id": f"copied-{n}", "ts": stored["ts"] + timedelta(hours=5 * n), "cost_usd": None
               if n % 4 == 0 else 0.01 * n, "completion_tokens": None if n % 3 == 0 else n} for n in range(12)]
    columns = list(copied[0])
    text = "".join("\t".join("\\N" if value is None else str(value) for value in (record[c] for c in columns)) + "\n"
                   for record in copied)
    cursor = db.cursor()
    quoted = ", ".join(f'"{column}"' for column in columns)
    cursor.copy_expert(f"COPY usage_event ({quoted}) FROM STDIN", io.StringIO(text))
    assert rollup_rows(store)[0] == records + 3 + 12
    assert_rollups_agree(store)


def test_the_central_report_by_team_equals_a_workstations(central_store: Store, fresh_postgres_url: str,
                                                         tmp_path) -> None:
    """The same records in a workstation's SQLite store (no rollups) and the central
    PostgreSQL (rollups): `offgate report --by team|user|device` says the same."""
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as local:
        events, rows = world()
        local.add([*events, *more_calls()])
        SpendLog(local).add(rows, "file")
        People(local).replace(People(central_store).all(), "test")
        assert not local.database.table_exists("usage_daily")
    runner = CliRunner(env={"COLUMNS": "200"})
    since = (T - timedelta(days=2, hours=3)).isoformat()  # a ragged start: its day from the records
    for by in ("team", "user", "device"):
        reports = []
        for home, url in ((tmp_path / "local", f"sqlite:///{tmp_path / 'offgate.db'}"),
                          (tmp_path / "central", fresh_postgres_url)):
            result = runner.invoke(app, ["--home", str(home), "report", "--by", by, "--since", since, "--format",
                                         "json"], env={"OFFGATE_DATABASE_URL": url}, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            reports.append(json.loads(result.stdout, parse_float=lambda text: round(float(text), 12)))
        local_report, central_report = reports
        assert central_report["rows"] == local_report["rows"]
        assert central_report["totals"] == local_report["totals"]
        assert central_report["daily"] == local_report["daily"]
        assert central_report["top_sources"] == local_report["top_sources"]
        assert len(central_report["rows"]) >= 3 and central_report["totals"]["captured_calls"] > 40


def test_a_ragged_day_is_the_rollups_whole_only_when_nothing_of_it_lies_outside_the_window() -> None:
    day = timedelta(days=1)
    since, until = T + timedelta(hours=3), T + timedelta(days=4, hours=5)
    first, last = T.replace(hour=0), T.replace(hour=0) + 4 * day
    assert split_window(since, until, day) == Window((first + day, last), ((since, first + day), (last, until)))
    assert split_window(since, until, day, lambda start, end: True) == Window((first, last + day), ())
    # Calls before `since` on its day, none after `until`: the first day from the records, the last from the rollup.
    assert split_window(since, until, day, lambda start, end: start >= until) == Window(
        (first + day, last + day), ((since, first + day),))
    assert split_window(since, since + timedelta(hours=1), day) == Window(None, ((since, since + timedelta(hours=1)),))
    assert split_window(None, None, day) == Window((None, None), ())


def test_a_report_reads_the_records_of_its_ragged_edges_once(central_store: Store,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A window ragged at both ends: its whole days from usage_daily and its edges' records rolled
    up once (at fleet scale an edge is up to a day of records), not read again by each group-by."""
    since, until = WINDOWS[2]
    first_midnight, last_midnight = since.replace(hour=0, minute=0) + timedelta(days=1), until.replace(hour=0, second=0)
    assert split_window(since, until, timedelta(days=1), no_calls(central_store.database)).raw == (
        (since, first_midnight), (last_midnight, until))
    caplog.set_level(logging.DEBUG, logger="peewee")
    report = build_report(central_store, since.replace(tzinfo=UTC), until.replace(tzinfo=UTC), "team")
    grouped_reads = [str(record.msg) for record in caplog.records if "GROUP BY" in str(record.msg)]
    # The rows, top sources, daily trend, pricing and coaching parts: each reads the rollup and the edges.
    assert sum('FROM "usage_daily"' in read for read in grouped_reads) == 5
    assert sum('FROM "usage_window_edges"' in read for read in grouped_reads) == 5
    assert not any('FROM "usage_event"' in read for read in grouped_reads)
    records = CallQueries(central_store, rollups=False).call_groups(since, until, ["app"])
    assert report.totals.captured_calls == sum(group.calls for group in records) > 0


def test_two_reports_in_one_transaction_each_roll_up_their_edges(central_store: Store) -> None:
    """The dashboard's fleet page builds a report by team and one by user; inside one transaction
    the second's edges replace the first's (a temporary table lives to the transaction's end)."""
    since, until = (moment.replace(tzinfo=UTC) for moment in WINDOWS[2])
    with central_store.database.atomic():
        by_team = build_report(central_store, since, until, "team", coaching=False)
        by_user = build_report(central_store, since, until, "user", coaching=False)
    assert sum(row.unmanaged_calls for row in by_team.rows) == sum(row.unmanaged_calls for row in by_user.rows) > 0


def test_the_reports_coaching_and_pricing_parts_read_the_rollup_and_say_what_the_records_do(
        central_store: Store, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """coaching_part and pricing_part on the central store (whole days from usage_daily) give
    what they give on a workstation's SQLite store of the same records, to the cent."""
    now, windows = NOW, (None, T0 - timedelta(days=2, hours=5, minutes=7))  # calls later today: a ragged end
    caplog.set_level(logging.DEBUG, logger="peewee")
    central = [(coaching_part(CallQueries(central_store), since, now),
                pricing_part(CallQueries(central_store), since, now, ALL_CALLS))
               for since in windows]
    grouped_reads = [str(record.msg) for record in caplog.records if "GROUP BY" in str(record.msg)]
    # Each part's whole days from the rollup, in both windows; the records only for the ragged ends (1 + 2).
    assert sum('FROM "usage_daily"' in read for read in grouped_reads) == 2 * 2
    assert sum('FROM "usage_event"' in read for read in grouped_reads) == 2 * 3
    caplog.set_level(logging.WARNING, logger="peewee")
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as local:
        events, rows = world()
        local.add([*events, *more_calls()])
        SpendLog(local).add(rows, "file")
        People(local).replace(People(central_store).all(), "test")
        workstation = [(coaching_part(CallQueries(local), since, now), pricing_part(CallQueries(local), since, now,
                                                                                   ALL_CALLS))
                       for since in windows]
    for (coaching, pricing), (local_coaching, local_pricing) in zip(central, workstation, strict=True):
        assert coaching.model_dump() == local_coaching.model_dump()
        assert rounded(pricing.model_dump()) == rounded(local_pricing.model_dump())
    coaching, pricing = central[0]
    # Before NOW: spread-1, -6, ... -31 coached (n % 5 == 1), spread-2, -7, ... -27 blocked.
    assert sum(trend.coached_calls for trend in coaching.trends) == 7
    assert sum(trend.blocked_calls for trend in coaching.trends) == 6
    bases = {total.basis: (total.calls, total.cost_usd) for total in pricing.bases}
    assert bases["plan_equivalent"][0] > 0 and bases["retired_price"][0] > 0 and len(pricing.retired_models) == 1


def rounded(value: Any) -> Any:
    """Money rounded below a float sum's order of summation, through dicts and lists."""
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def test_a_store_whose_rollup_had_no_outcome_or_note_gains_them_for_its_calls(fresh_postgres_url: str) -> None:
    """The migration backfills: the calls stored before it are kept apart by outcome and note."""
    before = MIGRATIONS[:MIGRATIONS.index(key_daily_usage_by_outcome_and_note)]
    with Store.open(fresh_postgres_url, migrations=before) as old:
        assert not {"policy_outcome", "cost_note"} & {column.name for column in old.database.get_columns("usage_daily")}
        old.add(more_calls())  # the columns are usage_event's since earlier versions
    with Store.open(fresh_postgres_url) as upgraded:
        rolled_up, stored = outcomes_and_notes(upgraded)
        assert rolled_up == stored and len(stored) >= 8
        assert rollup_rows(upgraded)[0] == len(more_calls())
        upgraded.add([direct_call("after", 60, policy_outcome="coached", cost_note=SUBSCRIPTION_NOTE)])
        assert outcomes_and_notes(upgraded)[0] == outcomes_and_notes(upgraded)[1]  # the new triggers keep them
        assert_rollups_agree(upgraded)
