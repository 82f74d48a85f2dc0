"""The writer: every call goes through the journal, then to the store in batches; whatever
the store does not take (down, slow, refusing a value) stays on disk until it is stored,
by this process or the next. Nothing is lost, nothing is stored twice."""

from __future__ import annotations

import logging
import re
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offgate.captured import CapturedCall
from offgate.catalog.base import Reading, Usage
from offgate.cli import app
from offgate.events import UsageEvent
from offgate.journal import JOURNAL_DIR, LEGACY_SPOOL_FILE, REJECTED_FILE, Journal
from offgate.store import Store
from offgate.writer import QUARANTINE_FILE, EventWriter, NotDurable
from tests.support.ports import free_port
from tests.support.sqlite_lock import sqlite_write_locked

# A value no store takes: SQLite and PostgreSQL keep integers in 64 bits.
TOO_BIG = 2**70


def dead_postgres_url() -> str:
    return f"postgresql://offgate:secret@127.0.0.1:{free_port()}/offgate?connect_timeout=1"


def events(n: int, prefix: str, **fields: object) -> list[UsageEvent]:
    return [UsageEvent(id=f"{prefix}{i}", host="api.openai.com", path="/v1/chat/completions",
                       prompt_tokens=i, **fields) for i in range(n)]


def stored_ids(url: str) -> list[str]:
    with Store.open(url) as store:
        return [event.id for event in store.events()]


def journal_lines(home: Path) -> list[str]:
    return [line for path in sorted((home / JOURNAL_DIR).glob("*.jsonl")) for line in path.read_text().splitlines()]


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'offgate.db'}"


def writer_on(url: str, home: Path, **options: object) -> EventWriter:
    writer = EventWriter(lambda: Store.open(url), home, **options)
    writer.start()
    return writer


@contextmanager
def locked(url: str) -> Iterator[None]:
    """Another connection holds SQLite's write lock: writers wait (10 s), then fail."""
    Store.open(url).close()  # the tables exist: opening the store needs no lock
    with sqlite_write_locked(Path(url.removeprefix("sqlite:///"))):
        yield


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_batches_reach_the_store_and_the_journal_is_emptied(tmp_path):
    url = sqlite_url(tmp_path)
    writer = writer_on(url, tmp_path, batch_size=7)
    for event in events(50, "ok"):
        writer.put(event)
    writer.close()
    assert sorted(stored_ids(url)) == sorted(f"ok{i}" for i in range(50))
    assert (writer.written, writer.spooled, writer.quarantined, writer.not_kept) == (50, 0, 0, 0)
    assert journal_lines(tmp_path) == []


def test_store_down_keeps_the_calls_in_the_journal_for_the_next_start(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    down = writer_on(dead_postgres_url(), tmp_path)
    for event in events(20, "journaled"):
        down.put(event)
    down.close()
    assert (down.written, down.spooled) == (0, 20)
    lines = journal_lines(tmp_path)
    assert len(lines) == 20
    # Only the owner may read the journal: a call without reported usage keeps its texts there.
    assert stat.S_IMODE((tmp_path / JOURNAL_DIR).stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / JOURNAL_DIR).iterdir()} == {0o600}
    assert not any("secret" in line for line in lines)
    assert "20 calls are left in the journal" in caplog.text
    assert "secret" not in caplog.text

    url = sqlite_url(tmp_path)
    up = writer_on(url, tmp_path)
    for event in events(5, "fresh"):
        up.put(event)
    up.close()
    ids = stored_ids(url)
    assert sorted(ids) == sorted([f"journaled{i}" for i in range(20)] + [f"fresh{i}" for i in range(5)])
    assert journal_lines(tmp_path) == []
    assert "stored 20 calls from 1 journal segments" in caplog.text


def test_an_event_the_store_refuses_is_quarantined_and_the_rest_stored(tmp_path, store_url, caplog):
    batch = events(30, "fine")
    batch[17] = UsageEvent(id="huge", host="api.openai.com", path="/v1/chat/completions", prompt_tokens=TOO_BIG)
    writer = writer_on(store_url, tmp_path, interval=0.5)
    for event in batch:
        writer.put(event)
    writer.close()
    assert sorted(stored_ids(store_url)) == sorted(e.id for e in batch if e.id != "huge")
    assert (writer.written, writer.quarantined, writer.spooled) == (29, 1, 0)
    (line,) = (tmp_path / QUARANTINE_FILE).read_text().splitlines()
    kept = UsageEvent.model_validate_json(line.split('"event": ', 1)[1][:-1])
    assert (kept.id, kept.prompt_tokens) == ("huge", TOO_BIG)
    assert stat.S_IMODE((tmp_path / QUARANTINE_FILE).stat().st_mode) == 0o600
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING and "huge" in r.getMessage())
    assert f"event huge cannot be stored and is kept in {tmp_path / QUARANTINE_FILE}" in warning.getMessage()
    assert journal_lines(tmp_path) == []


def test_a_replay_stores_what_it_can_and_quarantines_the_rest(tmp_path, caplog):
    """Issue 11: replay was all or nothing, so one bad line kept the whole spool back forever."""
    down = writer_on(dead_postgres_url(), tmp_path)
    for event in [*events(5, "before"), UsageEvent(id="huge", host="h", path="/", prompt_tokens=TOO_BIG),
                  *events(5, "after")]:
        down.put(event)
    down.close()
    url = sqlite_url(tmp_path)
    up = writer_on(url, tmp_path)
    up.close()
    assert sorted(stored_ids(url)) == sorted([f"before{i}" for i in range(5)] + [f"after{i}" for i in range(5)])
    assert '"id": "huge"' in (tmp_path / QUARANTINE_FILE).read_text()
    assert journal_lines(tmp_path) == []
    assert "event huge cannot be stored" in caplog.text


def test_damaged_journal_lines_are_set_aside_not_blocking_the_rest(tmp_path, caplog):
    # A process that crashed mid-write: its segment ends in half a line.
    journal = Journal(tmp_path)
    good = events(3, "good")
    for event in good:
        journal.append("event", event.model_dump(mode="json"))
    segment = next((tmp_path / JOURNAL_DIR).glob("*.jsonl"))
    with segment.open("a") as out:
        out.write('{"v": 9, "kind": "event", "data": {}}\n{"v": 1, "kind": "ev')
    journal.close()
    url = sqlite_url(tmp_path)
    writer_on(url, tmp_path).close()
    assert sorted(stored_ids(url)) == ["good0", "good1", "good2"]
    assert (tmp_path / REJECTED_FILE).read_text() == ('{"v": 1, "kind": "ev\n'
                                                      '{"v": 9, "kind": "event", "data": {}}\n')
    assert "set aside 2 unreadable journal lines" in caplog.text
    assert "a line cut off by a crash while it was written" in caplog.text
    assert "journal format 9, this offgate reads 1" in caplog.text
    assert journal_lines(tmp_path) == []


def test_the_spool_of_earlier_versions_is_replayed_once(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    good = events(3, "old")
    nul = '{"id": "nul", "host": "api.openai.com", "path": "/v1/chat/completions", "model": "gpt-4o\\u0000"}'
    lines = [good[0].model_dump_json(), '{"id": "half', nul, good[1].model_dump_json(), good[2].model_dump_json()]
    (tmp_path / LEGACY_SPOOL_FILE).write_text("\n".join(lines) + "\n")
    url = sqlite_url(tmp_path)
    writer_on(url, tmp_path).close()
    with Store.open(url) as store:
        stored = {event.id: event for event in store.events()}
    assert sorted(stored) == ["nul", "old0", "old1", "old2"]
    assert stored["nul"].model == "gpt-4o"
    assert not (tmp_path / LEGACY_SPOOL_FILE).exists()
    assert (tmp_path / REJECTED_FILE).read_text() == '{"id": "half\n'
    assert f"replaying {tmp_path / LEGACY_SPOOL_FILE}, left by an earlier version" in caplog.text


def test_a_call_whose_event_cannot_be_made_is_quarantined_and_the_writer_goes_on(tmp_path, caplog):
    """Issue 11: an event builder that raised killed the writer's thread; every later call was lost."""
    url = sqlite_url(tmp_path)
    broken = CapturedCall(id="broken", provider="openai", app=None, endpoint="chat", route="direct",
                          usage="reported", reading=Reading(model="gpt-4o", prompt_texts=["private prompt"]),
                          status_code=200, facts={"host": "api.openai.com", "path": "/v1/chat", "pid": "not a pid"})
    writer = writer_on(url, tmp_path)
    writer.put(broken)
    for event in events(10, "later"):
        writer.put(event)
    writer.close()
    assert sorted(stored_ids(url)) == sorted(f"later{i}" for i in range(10))
    quarantined = (tmp_path / QUARANTINE_FILE).read_text()
    assert '"id": "broken"' in quarantined and "cannot make its event" in quarantined
    assert "private prompt" not in quarantined
    assert (writer.written, writer.quarantined, writer.restarts) == (10, 1, 0)


def test_a_captured_call_is_journaled_without_texts_it_does_not_need(tmp_path):
    down = writer_on(dead_postgres_url(), tmp_path)
    reported = Reading(model="gpt-4o", usage=Usage(prompt_tokens=5, completion_tokens=2),
                       prompt_texts=["secret question"], completion_texts=["secret answer"])
    down.put(CapturedCall(id="reported", provider="openai", app=None, endpoint="chat", route="direct",
                          usage="reported", reading=reported, status_code=200,
                          facts={"host": "api.openai.com", "path": "/v1/chat/completions"}))
    down.close()
    (line,) = journal_lines(tmp_path)
    assert "secret" not in line
    url = sqlite_url(tmp_path)
    writer_on(url, tmp_path).close()
    with Store.open(url) as store:
        (event,) = store.events()
    assert (event.id, event.model, event.prompt_tokens, event.completion_tokens) == ("reported", "gpt-4o", 5, 2)
    assert event.cost_usd is not None and event.cost_usd > 0


def test_the_writer_starts_over_after_a_failure(tmp_path, caplog, monkeypatch):
    url = sqlite_url(tmp_path)
    writer = EventWriter(lambda: Store.open(url), tmp_path, segment_seconds=0.2)
    real_take = writer._take_batch
    failures = iter([RuntimeError("a bug")])

    def take_then_fail() -> list:
        batch = real_take()
        if batch:
            failure = next(failures, None)
            if failure is not None:
                writer._batch = batch  # as the thread holds it when it fails
                raise failure
        return batch

    monkeypatch.setattr(writer, "_take_batch", take_then_fail)
    writer.start()
    for event in events(20, "kept"):
        writer.put(event)
    wait_until(lambda: writer.restarts == 1)
    for event in events(5, "after"):
        writer.put(event)
    # The batch it held when it failed is read back from the journal.
    expected = sorted([f"kept{i}" for i in range(20)] + [f"after{i}" for i in range(5)])
    wait_until(lambda: sorted(stored_ids(url)) == expected)
    writer.close()
    assert "the writer failed; starting over (1 restarts)" in caplog.text
    assert journal_lines(tmp_path) == []


def test_a_full_queue_falls_back_to_the_journal(tmp_path, caplog):
    """Issue 11: the queue was unbounded. Now past its bound a call is read back from the
    journal, with one line when that starts and one when the writer has caught up."""
    url = sqlite_url(tmp_path)
    with locked(url):
        writer = writer_on(url, tmp_path, max_in_memory=5, batch_size=5, segment_seconds=0.2)
        for event in events(100, "burst"):
            writer.put(event)  # never blocks, though the store takes nothing
        assert writer._queue.qsize() <= 5
    wait_until(lambda: "the writer caught up" in caplog.text)
    writer.close()
    assert sorted(stored_ids(url)) == sorted(f"burst{i}" for i in range(100))
    assert "the writer is behind: more than 5 calls in memory" in caplog.text
    # All but those in the queue (5) and in the batch the thread held (5) were read back.
    read_back = int(re.search(r"the writer caught up: (\d+) calls that did not fit in memory", caplog.text)[1])
    assert 90 <= read_back <= 95
    assert (writer.not_kept, writer.spooled) == (0, 0)
    assert journal_lines(tmp_path) == []


def test_a_journal_that_cannot_be_written_keeps_calls_in_memory(tmp_path, caplog):
    url = sqlite_url(tmp_path)
    (tmp_path / JOURNAL_DIR).write_text("not a directory")  # the journal cannot be made
    writer = writer_on(url, tmp_path)
    with pytest.raises(NotDurable) as refused:
        writer.put(events(1, "memory")[0])
    assert refused.value.kept
    assert writer.not_journaled == 1
    wait_until(lambda: stored_ids(url) == ["memory0"])  # written straight to the store
    assert "cannot write the journal in" in caplog.text
    (tmp_path / JOURNAL_DIR).unlink()
    time.sleep(2.1)  # the journal is tried again after a pause
    writer.put(events(1, "durable")[0])
    assert len(journal_lines(tmp_path)) == 1
    writer.close()
    assert sorted(stored_ids(url)) == ["durable0", "memory0"]
    assert "journaling resumed" in caplog.text


def test_with_neither_journal_nor_store_memory_is_bounded_and_losses_counted(tmp_path, caplog):
    (tmp_path / JOURNAL_DIR).write_text("not a directory")
    writer = writer_on(dead_postgres_url(), tmp_path, max_in_memory=3)
    kept = []
    for event in events(20, "lost"):
        with pytest.raises(NotDurable) as refused:
            writer.put(event)
        kept.append(refused.value.kept)
    writer.close(timeout=1)
    # Memory holds at most 3 in the queue and 3 the thread took out to retry.
    assert 3 <= sum(kept) <= 6
    assert writer.not_kept == 20  # none could be stored before the close
    assert "20 in all" in caplog.text
    assert "calls could not be kept: the journal cannot be written and the store did not take them" in caplog.text


def test_close_leaves_what_a_slow_store_did_not_take_in_the_journal(tmp_path, caplog):
    """Issue 11: a slow store made close() give up after its timeout, and the backlog was
    dropped with the process. It is in the journal now, for the next start."""
    url = sqlite_url(tmp_path)
    with locked(url):
        writer = writer_on(url, tmp_path)
        for event in events(20, "slow"):
            writer.put(event)
        writer.close(timeout=1)
        assert writer.spooled == 20
    assert "20 calls are left in the journal" in caplog.text
    wait_until(lambda: not writer._thread.is_alive())
    next_start = writer_on(url, tmp_path)
    next_start.close()
    assert sorted(stored_ids(url)) == sorted(f"slow{i}" for i in range(20))
    assert journal_lines(tmp_path) == []


@pytest.mark.e2e
def test_two_processes_sharing_a_home_lose_nothing(tmp_path, caplog):
    """Issue 11: one spool.jsonl for every process, read, rewritten and deleted by one while
    others appended to it. Each process has its own segments now, locked while it writes
    them; another replays only what the owner handed over (or left when it ended)."""
    caplog.set_level(logging.INFO)
    url = sqlite_url(tmp_path)
    down = writer_on(dead_postgres_url(), tmp_path, segment_seconds=0.05)
    replaying = writer_on(url, tmp_path)
    stop = threading.Event()
    put: list[str] = []

    def keep_putting() -> None:
        while not stop.is_set():
            event = events(1, f"steady{len(put)}-")[0]
            down.put(event)
            put.append(event.id)
            time.sleep(0.002)

    putter = threading.Thread(target=keep_putting)
    putter.start()
    time.sleep(5)  # the other writer replays every 2 s meanwhile
    stop.set()
    putter.join()
    down.close()
    stored_meanwhile = stored_ids(url)
    assert stored_meanwhile, "the live writer replayed nothing the other handed over"
    replaying.close()
    writer_on(url, tmp_path).close()  # the next start stores what was left
    assert sorted(stored_ids(url)) == sorted(put)
    assert journal_lines(tmp_path) == []


def test_segments_no_one_holds_are_replayed_under_steady_traffic(tmp_path):
    """Issue 11: the spool was replayed only when the writer was idle, so never while
    calls kept coming."""
    url = sqlite_url(tmp_path)
    writer = writer_on(url, tmp_path)
    n = 0

    def steady_call() -> None:  # one every 50 ms: the writer is never idle
        nonlocal n
        writer.put(events(1, f"steady{n}-")[0])
        n += 1
        time.sleep(0.05)

    for _ in range(10):
        steady_call()
    left_behind = Journal(tmp_path)  # another process ends, its calls not stored
    for event in events(5, "orphan"):
        left_behind.append("event", event.model_dump(mode="json"))
    assert left_behind.close() == 5
    deadline = time.monotonic() + 20
    while not {f"orphan{i}" for i in range(5)} <= set(stored_ids(url)):
        assert time.monotonic() < deadline, "the orphaned calls were not stored while traffic went on"
        steady_call()
    writer.close()
    assert len(stored_ids(url)) == 5 + n


def test_status_says_what_waits_in_the_journal_and_what_is_quarantined(tmp_path):
    down = writer_on(dead_postgres_url(), tmp_path)
    for event in events(4, "waiting"):
        down.put(event)
    down.close()
    (tmp_path / QUARANTINE_FILE).write_text('{"id": "x", "reason": "r"}\n')
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "status"], catch_exceptions=False)
    assert result.exit_code == 0
    assert f"journal:   4 calls waiting to be stored in {tmp_path / JOURNAL_DIR}" in result.output
    assert f"quarantine: 1 events the store refused, kept in {tmp_path / QUARANTINE_FILE}" in result.output
