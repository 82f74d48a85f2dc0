"""The store against real SQLite and a real PostgreSQL server (`store_url` runs each test on both)."""

from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from peewee import Database, Table

from offgate.events import UsageEvent
from offgate.store import Store, StoreError
from offgate.store.events import TOTALS_DIMENSIONS
from offgate.store.schema import MIGRATIONS, AlertRow, NotificationRow, SpendLogRow, UsageEventRow, add_policy_outcome
from offgate.store.spend import SpendLog, SpendRecord
from tests.support import postgres
from tests.support.store_writer import write_at_once

T0 = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def event(**fields: object) -> UsageEvent:
    return UsageEvent(**{"host": "api.openai.com", "path": "/v1/chat/completions", **fields})


def full_event() -> UsageEvent:
    """Every field set, with values that catch lossy storage."""
    return UsageEvent(
        id="full-1",
        ts=datetime(2025, 3, 4, 7, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2))),
        source="extension",
        route="gateway",
        provider="openai",
        app="chatgpt",
        endpoint="chat.completions",
        host="litellm.example.com",
        method="PUT",
        path="/v1/chat/completions?x=1",
        model="gpt-4o-2024-08-06",
        streamed=True,
        status_code=200,
        prompt_tokens=2**40,
        completion_tokens=7,
        cached_tokens=3,
        cache_write_tokens=2,
        reasoning_tokens=1,
        audio_prompt_tokens=2**35,
        audio_completion_tokens=5,
        tokens_estimated=True,
        cost_usd=0.1 + 0.2,
        cost_note="estimated: API-equivalent",
        provider_cost_usd=0.000123,
        duration_ms=1234.5678901234567,
        ttft_ms=1e-7,
        request_bytes=2**33,
        response_bytes=123456789,
        response_id="chatcmpl-abc",
        litellm_call_id="9f1c-call",
        process_name="python3.12",
        pid=4_194_303,
        exe="/usr/bin/python3.12",
        user="CORP\\alice",
        device="alice-laptop",
        key_fingerprint="0123456789ab",
        parse_status="partial",
        parse_error="unexpected end of stream: Ünïcødé 🚀 'quotes' \"and\" ;--",
        policy_outcome="coached",
        policy_rule="coach: Ünïcødé 🚀",
    )


def test_the_table_has_a_column_per_usage_event_field() -> None:
    assert list(UsageEventRow._meta.sorted_field_names) == list(UsageEvent.model_fields)


def test_every_field_round_trips_exactly(store: Store) -> None:
    minimal = UsageEvent(host="api.anthropic.com", path="/v1/messages")
    full = full_event()
    assert store.add([minimal, full]) == 2

    stored = store.events()

    assert [e.model_dump() for e in stored] == [full.model_dump(), minimal.model_dump()]
    assert all(e.ts.utcoffset() == timedelta(0) for e in stored)
    assert stored[0].cost_usd == 0.30000000000000004


def test_adding_the_same_events_again_adds_nothing(store: Store) -> None:
    batch = [event(ts=T0 + timedelta(seconds=n)) for n in range(250)]
    assert store.add(batch) == 250
    assert store.add(batch) == 0
    assert store.add([*batch[:10], event(id="new")]) == 1
    assert store.count() == 251
    assert store.add([]) == 0


def test_events_in_a_window_oldest_first(store: Store) -> None:
    store.add([event(id=f"e{n}", ts=T0 + timedelta(minutes=n)) for n in (3, 0, 2, 1)])
    store.add([event(id="e1-twin", ts=T0 + timedelta(minutes=1))])

    def ids(**window: object) -> list[str]:
        return [e.id for e in store.events(**window)]

    assert ids() == ["e0", "e1", "e1-twin", "e2", "e3"]
    assert ids(since=T0 + timedelta(minutes=1)) == ["e1", "e1-twin", "e2", "e3"]
    assert ids(until=T0 + timedelta(minutes=2)) == ["e0", "e1", "e1-twin"]
    assert ids(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3), limit=2) == ["e1", "e1-twin"]
    # Naive times are UTC; other zones are converted.
    assert ids(since=(T0 + timedelta(minutes=3)).replace(tzinfo=None)) == ["e3"]
    assert ids(since=(T0 + timedelta(minutes=3)).astimezone(timezone(timedelta(hours=-5)))) == ["e3"]
    assert store.count(since=T0 + timedelta(minutes=2)) == 2


def totals_dataset() -> list[UsageEvent]:
    # Costs are sums of powers of two, so every summation order gives the exact result.
    return [
        event(provider="openai", model="gpt-4o", process_name="python", endpoint="chat",
              prompt_tokens=10, completion_tokens=1, cost_usd=0.5),
        event(provider="openai", model="gpt-4o", process_name="python", endpoint="chat",
              prompt_tokens=20, completion_tokens=None, cost_usd=0.25, tokens_estimated=True),
        event(provider="openai", model="gpt-4o-mini", process_name="node", endpoint="responses",
              prompt_tokens=5, completion_tokens=5, cost_usd=0.125),
        event(provider="anthropic", model="claude-sonnet-4", process_name="node", route="gateway",
              endpoint="messages", prompt_tokens=100, completion_tokens=50, cost_usd=2.0),
        event(provider="anthropic", model="claude-new", process_name="node", route="gateway",
              endpoint="messages", prompt_tokens=7, completion_tokens=3, cost_usd=None),
        event(provider=None, app="chatgpt", model=None, process_name=None, endpoint="web",
              tokens_estimated=True),
        event(provider=None, app="claude", model=None, process_name=None, endpoint="web"),
        event(provider=None, app="claude", model=None, process_name=None, endpoint="web"),
    ]


def expected_totals(events: list[UsageEvent], by: str) -> list[dict]:
    """What totals() must give, computed plainly in Python."""
    groups: dict = {}
    for e in events:
        groups.setdefault(getattr(e, by), []).append(e)

    def total(values: list) -> object:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    rows = [
        {
            "key": key,
            "calls": len(members),
            "prompt_tokens": total([e.prompt_tokens for e in members]),
            "completion_tokens": total([e.completion_tokens for e in members]),
            "cost_usd": total([e.cost_usd for e in members]),
            "estimated_calls": sum(e.tokens_estimated for e in members),
            "unpriced_calls": sum(e.cost_usd is None for e in members),
            "first_seen": min(e.ts for e in members),
            "last_seen": max(e.ts for e in members),
        }
        for key, members in groups.items()
    ]
    return sorted(rows, key=lambda r: (r["cost_usd"] is None, -(r["cost_usd"] or 0), -r["calls"],
                                       r["key"] is None, r["key"] or ""))


@pytest.mark.parametrize("by", TOTALS_DIMENSIONS)
def test_totals_by_each_dimension(store: Store, by: str) -> None:
    events = totals_dataset()
    store.add(events)
    assert store.totals(by) == expected_totals(events, by)


def test_totals_since_and_bad_dimension(store: Store) -> None:
    old = event(ts=T0, provider="openai", cost_usd=1.0)
    new = event(ts=T0 + timedelta(days=1), provider="openai", cost_usd=0.5)
    store.add([old, new])
    assert store.totals("provider", since=T0 + timedelta(hours=1)) == expected_totals([new], "provider")
    assert store.totals("provider", since=T0 + timedelta(days=2)) == []
    with pytest.raises(ValueError, match="cannot total by 'user'"):
        store.totals("user")


def add_note_column(database: Database) -> None:
    """A version-2 migration for the tests: a new column, and old rows touched."""
    database.execute_sql("ALTER TABLE usage_event ADD COLUMN note TEXT")
    database.execute_sql("UPDATE usage_event SET cost_note = 'seen by v2'")


def fail_after_adding_column(database: Database) -> None:
    database.execute_sql("ALTER TABLE usage_event ADD COLUMN note TEXT")
    raise RuntimeError("migration failed halfway")


def test_migrations_upgrade_an_old_store_and_keep_its_rows(store_url: str) -> None:
    current = len(MIGRATIONS)
    with Store.open(store_url) as old:
        assert old.schema_version() == current
        old.add([event(id="old")])

    with pytest.raises(RuntimeError, match="halfway"):
        Store.open(store_url, migrations=[*MIGRATIONS, fail_after_adding_column])
    with Store.open(store_url) as still_old:
        assert still_old.schema_version() == current  # the failed migration was rolled back whole

    with Store.open(store_url, migrations=[*MIGRATIONS, add_note_column]) as upgraded:
        assert upgraded.schema_version() == current + 1
        assert [(e.id, e.cost_note) for e in upgraded.events()] == [("old", "seen by v2")]
        upgraded.add([event(id="new", ts=datetime.now(UTC) + timedelta(seconds=1))])

    with Store.open(store_url, migrations=[*MIGRATIONS, add_note_column]) as again:
        assert again.schema_version() == current + 1
        assert [(e.id, e.cost_note) for e in again.events()] == [("old", "seen by v2"), ("new", None)]


AUDIO_COLUMNS = {"audio_prompt_tokens", "audio_completion_tokens"}
LATER_COLUMNS = {"witnesses", "key_hint", "policy_outcome", "policy_rule"}  # added by later versions


def insert_as_written_then(database: Database, written: UsageEvent, columns_missing: set[str]) -> None:
    """Insert the event as a writer of an older version did: without the columns it lacked."""
    row = {**written.model_dump(exclude=columns_missing), "ts": written.ts.replace(tzinfo=None)}
    Table("usage_event", list(row)).bind(database).insert(row).execute()


def columns_of(database: Database, columns: tuple[str, ...]) -> list[tuple[object, ...]]:
    """The columns of every record as stored, read without the model (a store of an older version lacks some)."""
    table = Table("usage_event", [*columns, "ts"]).bind(database)
    return list(table.select(*(getattr(table, column) for column in columns)).order_by(table.ts).tuples())


def test_a_version_1_store_gains_the_alert_tables_and_audio_columns_and_keeps_its_calls(store_url: str) -> None:
    with Store.open(store_url, migrations=MIGRATIONS[:1]) as v1:
        columns = {column.name for column in v1.database.get_columns("usage_event")}
        assert not columns & AUDIO_COLUMNS and "reasoning_tokens" in columns
        # Written as version 1's writer wrote it: no audio columns to fill.
        insert_as_written_then(v1.database, event(id="before-alerts", ts=T0, prompt_tokens=12, completion_tokens=3),
                               AUDIO_COLUMNS | LATER_COLUMNS)
        assert not v1.database.table_exists(AlertRow._meta.table_name)
    with Store.open(store_url, migrations=MIGRATIONS[:2]) as v2:
        assert v2.schema_version() == 2
        audio = ("id", "prompt_tokens", "audio_prompt_tokens", "audio_completion_tokens")
        assert columns_of(v2.database, audio) == [("before-alerts", 12, None, None)]
        assert ({column.name for column in v2.database.get_columns("usage_event")}
                == set(UsageEvent.model_fields) - LATER_COLUMNS)
        insert_as_written_then(v2.database, event(id="with-audio", ts=T0 + timedelta(seconds=1),
                                                  audio_prompt_tokens=900, audio_completion_tokens=40), LATER_COLUMNS)
        assert [row[2:] for row in columns_of(v2.database, audio)] == [(None, None), (900, 40)]
        assert v2.database.table_exists(AlertRow._meta.table_name)
        assert v2.database.table_exists(NotificationRow._meta.table_name)
    with Store.open(store_url) as current:  # today's reader reads what older writers wrote
        assert [(e.id, e.prompt_tokens, e.audio_prompt_tokens, e.audio_completion_tokens)
                for e in current.events()] == [("before-alerts", 12, None, None), ("with-audio", None, 900, 40)]


POLICY_COLUMNS = {"policy_outcome", "policy_rule"}


def test_a_store_before_the_policy_gains_its_columns_and_keeps_its_calls(store_url: str) -> None:
    with Store.open(store_url, migrations=MIGRATIONS[:MIGRATIONS.index(add_policy_outcome)]) as before:
        assert not {column.name for column in before.database.get_columns("usage_event")} & POLICY_COLUMNS
        old = event(id="before-policy", ts=T0, prompt_tokens=12)
        row = {**old.model_dump(exclude=POLICY_COLUMNS), "ts": old.ts.replace(tzinfo=None)}
        Table("usage_event", list(row)).bind(before.database).insert(row).execute()
    with Store.open(store_url) as after:
        after.add([event(id="blocked", ts=T0 + timedelta(seconds=1), status_code=403, policy_outcome="blocked",
                         policy_rule="direct-calls")])
        assert [(e.id, e.prompt_tokens, e.policy_outcome, e.policy_rule) for e in after.events()] == [
            ("before-policy", 12, None, None), ("blocked", None, "blocked", "direct-calls")]


def test_a_version_2_store_lets_spend_be_unknown_and_keeps_its_rows_and_indexes(store_url: str) -> None:
    logged = SpendRecord(request_id="logged", start_time=datetime(2026, 11, 2, 9), spend=0.25, prompt_tokens=10,
                         completion_tokens=5, total_tokens=15, raw={}, litellm_call_id="call-1")
    with Store.open(store_url, migrations=MIGRATIONS[:2]) as v2:
        SpendLog(v2).add([logged], "file")
        indexes = {index.name for index in v2.database.get_indexes(SpendLogRow._meta.table_name)}
    with Store.open(store_url) as latest:
        assert latest.schema_version() == len(MIGRATIONS)
        unpriced = replace(logged, request_id="unpriced", spend=None, litellm_call_id="call-2")
        assert SpendLog(latest).add([unpriced], "callback") == 1
        spend = SpendLog(latest).columns(None, None)
        assert dict(zip(spend["request_id"], spend["spend"], strict=True)) == {"logged": 0.25, "unpriced": None}
        assert {index.name for index in latest.database.get_indexes(SpendLogRow._meta.table_name)} == indexes


def test_a_store_newer_than_the_code_is_refused(store_url: str) -> None:
    Store.open(store_url, migrations=[*MIGRATIONS, add_note_column]).close()
    with pytest.raises(StoreError, match=f"has schema version {len(MIGRATIONS) + 1}, but this offgate knows only "
                                         f"up to version {len(MIGRATIONS)}"):
        Store.open(store_url)


def test_threads_write_at_once(store: Store) -> None:
    threads, per_thread, per_add = 4, 250, 10

    def write(thread: int) -> None:
        events = [event(id=f"t{thread}-{n}") for n in range(per_thread)]
        for start in range(0, per_thread, per_add):
            store.add(events[start:start + per_add])
        assert store.count() >= per_thread  # a reader in the same thread sees its own writes

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(threads)))
    assert store.count() == threads * per_thread
    assert len({e.id for e in store.events()}) == threads * per_thread


@pytest.mark.e2e
def test_processes_write_at_once(store_url: str, tmp_path: Path) -> None:
    """Two processes open the (not yet created) store together and write in small transactions."""
    count = 250
    write_at_once(store_url, ["a", "b"], count, tmp_path)
    with Store.open(store_url) as store:
        assert store.count() == 2 * count


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "offgate.db"
    Store.open(f"sqlite:///{path}").close()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_postgres_url_may_say_postgres(postgres_url: str) -> None:
    with (
        postgres.fresh_database(postgres_url) as url,
        Store.open(url.replace("postgresql://", "postgres://", 1)) as store,
    ):
        assert store.schema_version() == len(MIGRATIONS)


def test_an_unopenable_sqlite_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "offgate.db"
    expected = f"cannot open SQLite database {path}: unable to open database file"
    with pytest.raises(StoreError, match=re.escape(expected)):
        Store.open(f"sqlite:///{path}")


def test_a_server_that_is_down_is_a_store_error_without_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(StoreError) as raised:
        Store.open(f"postgresql://alice:s3cr%40t@127.0.0.1:{closed_port}/offgate")
    message = str(raised.value)
    assert message.startswith(f"cannot open PostgreSQL database postgresql://alice:***@127.0.0.1:{closed_port}/offgate")
    assert "s3cr" not in message


def test_an_unsupported_url_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match=r"unsupported database URL 'mysql://root:\*\*\*@db/offgate'"):
        Store.open("mysql://root:hunter2@db/offgate")
