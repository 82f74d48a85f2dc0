"""The central store's rollups answer the report and the alerts exactly as the records do:
after inserts, upserts, updates, deletions and reconciliation, for whole days and ragged
windows, on a real PostgreSQL (and a workstation's SQLite store keeps none)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from typer.testing import CliRunner

from analytics.reconcile import reconcile
from analytics.report.model import SOURCE_FIELDS
from offgate.cli import app
from offgate.config import ReconcileSettings
from offgate.store import Store
from offgate.store.alerts import UnmanagedSeries
from offgate.store.people import People, Person
from offgate.store.queries import CallGroup, CallQueries
from offgate.store.rollups import Window, split_window
from offgate.store.schema import UsageEventRow
from offgate.store.spend import SpendLog
from offgate.store.sql import insert_rows
from offgate.vocabulary import ALERT_DIMENSIONS, DAY, DIMENSIONS
from tests.support import postgres
from tests.support.reconcile_data import NOW, T0, direct_call, world

T = T0.replace(tzinfo=None)
WINDOWS = [
    (None, None),
    (T - timedelta(days=3), T + timedelta(days=3)),  # whole days only
    (T - timedelta(days=2, hours=5, minutes=7), T + timedelta(hours=30, seconds=1)),  # ragged ends
    (T + timedelta(minutes=3), T + timedelta(minutes=9)),  # inside one hour
    (T - timedelta(days=5, hours=3), T + timedelta(days=3, hours=2, minutes=5)),  # ragged, no call beyond either end
]
GROUPINGS = [[name] for name in (*DIMENSIONS, DAY)] + [list(SOURCE_FIELDS)]


def more_calls() -> list:
    """Calls over several days and hours, of several devices (one none), some unpriced."""
    return [direct_call(f"spread-{n}", -3 * 86400 + n * 3 * 3600 + n, user=("bob", "dave", None)[n % 3],
                        device=("bob-desktop", "dave-laptop", None)[n % 3], cost_usd=None if n % 5 == 0 else 0.001 * n,
                        prompt_tokens=None if n % 7 == 0 else 100 * n, process_name=("python3", "node")[n % 2])
            for n in range(40)]


@pytest.fixture
def central_url(postgres_url: str) -> Iterator[str]:
    with postgres.fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def central_store(central_url: str) -> Iterator[Store]:
    with Store.open(central_url) as store:
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
    dimensions = list(ALERT_DIMENSIONS)
    for since, until in WINDOWS:
        assert hourly(UnmanagedSeries(store), since, until) == hourly(UnmanagedSeries(store, rollups=False), since,
                                                                     until), (since, until)
    assert (sorted(zip(*UnmanagedSeries(store).first_calls(dimensions).values(), strict=True), key=str)
            == sorted(zip(*UnmanagedSeries(store, rollups=False).first_calls(dimensions).values(), strict=True),
                      key=str))


def hourly(series: UnmanagedSeries, since: datetime | None, until: datetime | None) -> list[tuple[Any, ...]]:
    """One (values..., hour, calls, tokens, cost) per combination and hour."""
    found = series.hours(since, until, list(ALERT_DIMENSIONS))
    return sorted(((*found.values[combination], hour, calls, tokens, round(cost, 12)) for combination, hour, calls,
                   tokens, cost in zip(found.combination.tolist(), found.hour.tolist(), found.calls.tolist(),
                                       found.tokens.tolist(), found.cost_usd.tolist(), strict=True)), key=str)


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
    assert_rollups_agree(store)

    reconcile(store, ReconcileSettings(), since=None, now=NOW)  # classes and matched spend change
    assert_rollups_agree(store)

    row, db = UsageEventRow, store.database
    # An update: a record's tokens and cost grow (a session growing), one moves to another day and device.
    row.update(prompt_tokens=row.prompt_tokens + 5000, cost_usd=0.5).where(row.id == "u-script").execute(db)
    row.update(ts=T + timedelta(days=2, minutes=1), device="erin-pc").where(row.id == "spread-3").execute(db)
    assert_rollups_agree(store)
    # An upsert of a stored id (INSERT ... ON CONFLICT DO UPDATE, as the collector's), and a deletion.
    grown = cast(dict[str, Any], row.select().where(row.id == "u-estimated").dicts().get(db))
    insert_rows(store.database, row, [{**grown, "completion_tokens": 4000, "cost_usd": 0.02}], existing="replace")
    row.delete().where(row.id.in_(["spread-4", "u-unpriced"])).execute(store.database)
    assert_rollups_agree(store)
    assert rollup_rows(store)[0] == records - 2

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


def test_the_central_report_by_team_equals_a_workstations(central_store: Store, central_url: str, tmp_path) -> None:
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
                          (tmp_path / "central", central_url)):
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
