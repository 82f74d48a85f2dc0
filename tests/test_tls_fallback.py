"""The parts of the TLS fallback that need no proxy: how long a refusal is remembered, and
counts that survive a store that is down for a while."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from interceptor.tls_fallback import CountWriter, RefusalMemory, UnreadTally
from offgate.store import Store
from offgate.store.unread import UnreadConnectionStore, UnreadSource
from tests.support.ports import free_port

CURL = UnreadSource("api.openai.com", "curl", "/usr/bin/curl", "alice", "alice-laptop")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_refusal_lets_connections_pass_until_it_expires():
    memory = RefusalMemory()
    key = ("program", "alice", "/usr/bin/curl", "api.openai.com")
    assert not memory.passes(key, now=100.0)
    memory.refuse(key, until=100.0 + 1800)
    assert memory.passes(key, now=100.0 + 1799)
    assert not memory.passes(("program", "alice", "/usr/bin/curl", "claude.ai"), now=200.0)  # per host
    assert not memory.passes(("program", "bob", "/usr/bin/curl", "api.openai.com"), now=200.0)  # per user
    assert not memory.passes(key, now=100.0 + 1800)  # then the next connection is intercepted again


def test_the_memory_forgets_the_oldest_refusals_first():
    memory = RefusalMemory(max_entries=2)
    for number in range(3):
        memory.refuse(number, until=1000.0)
    assert [memory.passes(number, now=0.0) for number in range(3)] == [False, True, True]


def test_counts_wait_for_a_store_that_is_down_and_are_written_once(tmp_path):
    tally = UnreadTally()
    urls = [f"postgresql://offgate@127.0.0.1:{free_port()}/offgate?connect_timeout=1",
            f"sqlite:///{tmp_path / 'offgate.db'}"]
    opened = threading.Event()

    def open_store() -> Store:
        url = urls.pop(0) if len(urls) > 1 else urls[0]
        store = Store.open(url)  # the first raises StoreError: nothing listens there
        opened.set()
        return store

    writer = CountWriter(tally, open_store, interval=0.05)
    tally.note(CURL, AT, refused=True)
    writer.start()
    assert opened.wait(30)  # the first write failed, the second opened the store
    tally.note(CURL, AT, refused=False)
    writer.close()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        (found,) = UnreadConnectionStore(store).by_process_and_host()
    assert (found["process"], found["handshakes_failed"], found["passed_through"]) == ("curl", 1, 1)
