"""Counts of connections offgate could not read, on SQLite and PostgreSQL: added up per day,
device, user, process and host, and told per process and host."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from offgate.store import Store
from offgate.store.schema import MIGRATIONS
from offgate.store.unread import UnreadConnectionStore, UnreadCount, UnreadSource

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CURSOR_ALICE = UnreadSource("api2.cursor.sh", "cursor", "/opt/cursor/cursor", "alice", "alice-laptop")
CURSOR_BOB = UnreadSource("api2.cursor.sh", "cursor", "/opt/cursor/cursor", "bob", "bob-desktop")
PYTHON = UnreadSource("api.openai.com", "python3", "/usr/bin/python3.12", "alice", "alice-laptop")


def count(source: UnreadSource, at: datetime, failed: int = 0, passed: int = 0) -> UnreadCount:
    return UnreadCount(source, at.date(), at, at, failed, passed)


def test_counts_add_up_per_process_and_host(store_url: str) -> None:
    with Store.open(store_url) as store:
        unread = UnreadConnectionStore(store)
        unread.add([count(CURSOR_ALICE, T0, failed=1), count(PYTHON, T0, failed=1, passed=2)])
        # A later flush of the same source and day adds to its row.
        unread.add([count(CURSOR_ALICE, T0 + timedelta(minutes=5), passed=4)])
        unread.add([count(CURSOR_BOB, T0 + timedelta(minutes=9), failed=2, passed=3)])
        found = unread.by_process_and_host()
    assert found == [
        {"process": "cursor", "host": "api2.cursor.sh", "connections": 10, "handshakes_failed": 3,
         "passed_through": 7, "first_seen": "2026-03-02T09:00:00+00:00", "last_seen": "2026-03-02T09:09:00+00:00",
         "message": "10 connections from cursor to api2.cursor.sh could not be read "
                    "(certificate not trusted or pinned)"},
        {"process": "python3", "host": "api.openai.com", "connections": 3, "handshakes_failed": 1,
         "passed_through": 2, "first_seen": "2026-03-02T09:00:00+00:00", "last_seen": "2026-03-02T09:00:00+00:00",
         "message": "3 connections from python3 to api.openai.com could not be read "
                    "(certificate not trusted or pinned)"},
    ]


def test_a_window_counts_the_days_seen_in_it(store_url: str) -> None:
    with Store.open(store_url) as store:
        unread = UnreadConnectionStore(store)
        unread.add([count(PYTHON, T0 - timedelta(days=3), failed=1, passed=5), count(PYTHON, T0, failed=1)])
        unread.add([count(UnreadSource("claude.ai"), T0, failed=1)])
        recent = unread.by_process_and_host(since=T0 - timedelta(days=1), until=T0 + timedelta(hours=1))
        earlier = unread.by_process_and_host(until=T0 - timedelta(days=2))
    assert [(e["process"], e["connections"]) for e in recent] == [("python3", 1), (None, 1)]
    assert recent[1]["message"] == ("1 connection from an unknown process to claude.ai could not be read "
                                    "(certificate not trusted or pinned)")
    assert [(e["process"], e["connections"]) for e in earlier] == [("python3", 6)]


def test_a_version_2_store_gains_the_table(store_url: str) -> None:
    with Store.open(store_url, migrations=MIGRATIONS[:2]) as v2:
        assert not v2.database.table_exists("unread_connection")
    with Store.open(store_url, migrations=MIGRATIONS[:3]) as v3:
        assert v3.schema_version() == 3
        UnreadConnectionStore(v3).add([count(PYTHON, T0, failed=1)])
        assert [e["connections"] for e in UnreadConnectionStore(v3).by_process_and_host()] == [1]
