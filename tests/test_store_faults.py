"""The writer against a real PostgreSQL that misbehaves: values it refuses, a server that
stops under load, a store that answers too slowly at shutdown, and a journal on a full disk.
Nothing the client saw complete may be lost, nothing may be stored twice, and the proxy
keeps forwarding traffic throughout."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from offgate.journal import JOURNAL_DIR
from offgate.store import Store
from tests.support import postgres
from tests.support.openai_responder import openai_responder
from tests.support.proxy_harness import RunningProxy
from tests.support.required import unavailable
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

OUTAGE_S = 30


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    with postgres.fresh_database(postgres_url) as url:
        yield url


@pytest.fixture
def chat_upstream() -> Iterator[FakeUpstream]:
    """A fake OpenAI whose every answer has a response id of its own."""
    fake = FakeUpstream().start()
    fake.responder = openai_responder
    yield fake
    fake.stop()


def home_on(tmp_path: Path, url: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'database_url = "{url}"\n')
    return home


def to_fake(upstream: FakeUpstream) -> list[str]:
    return [f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"]


def chat(client: httpx.Client, model: str, content: str = "usage 7 3") -> httpx.Response:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": content}]})
    return client.post("https://api.openai.com/v1/chat/completions", content=body,
                       headers={"content-type": "application/json"})


def test_a_nul_in_one_call_strands_nothing(tmp_path, pg_url, chat_upstream):
    """Issue 11's reproduction: seven calls onto PostgreSQL, one with a NUL in its model.
    All seven are stored (the NUL dropped), nothing is left waiting on disk."""
    home = home_on(tmp_path, pg_url)
    proxy = RunningProxy(home, set_options=to_fake(chat_upstream)).start()
    try:
        with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
            for n in range(7):
                assert chat(client, "gpt-4o\u0000-mini" if n == 3 else "gpt-4o-mini").status_code == 200
    finally:
        proxy.stop()
    with Store.open(pg_url) as store:
        events = store.events()
    assert len(events) == 7
    assert {event.model for event in events} == {"gpt-4o-mini-2024-07-18"}
    assert all((event.prompt_tokens, event.completion_tokens) == (7, 3) for event in events)
    assert list((home / JOURNAL_DIR).glob("*.jsonl")) == []


@pytest.fixture
def pg_server() -> Iterator[postgres.LocalServer]:
    """A PostgreSQL server of the test's own, to stop and start."""
    with postgres.stoppable_server_or_skip() as server:
        yield server


class SteadyCalls:
    """Calls through the proxy one after another, every 50 ms, until stopped; each must
    come back whole (the proxy forwards whatever the store does)."""

    def __init__(self, proxy: RunningProxy) -> None:
        self.response_ids: list[str] = []
        self.failures: list[str] = []
        self._proxy = proxy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> SteadyCalls:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        with httpx.Client(proxy=self._proxy.url, verify=self._proxy.ssl_context(), timeout=30) as client:
            while not self._stop.is_set():
                answer = chat(client, "gpt-4o-mini")
                if answer.status_code == 200:
                    self.response_ids.append(answer.json()["id"])
                else:
                    self.failures.append(f"{answer.status_code}: {answer.text[:200]}")
                time.sleep(0.05)


def stored_response_ids(url: str) -> list[str]:
    with Store.open(url) as store:
        return [event.response_id for event in store.events()]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_postgres_stopped_under_load_loses_and_doubles_nothing(tmp_path, pg_server, chat_upstream, caplog):
    caplog.set_level(logging.INFO)
    home = home_on(tmp_path, pg_server.url)
    proxy = RunningProxy(home, set_options=to_fake(chat_upstream)).start()
    try:
        with SteadyCalls(proxy) as calls:
            wait_until(lambda: len(calls.response_ids) >= 20, 30, "calls before the outage")
            pg_server.stop()
            during = len(calls.response_ids)
            time.sleep(OUTAGE_S)
            assert len(calls.response_ids) - during >= OUTAGE_S * 5, "the proxy stopped forwarding"
            pg_server.start()
            # The running writer stores the backlog while the calls go on.
            sent = list(calls.response_ids)
            wait_until(lambda: set(sent) <= set(stored_response_ids(pg_server.url)), 60,
                       "the calls of the outage to be stored under traffic")
        wait_until(lambda: sorted(stored_response_ids(pg_server.url)) == sorted(calls.response_ids), 30,
                   "every call to be stored")
        writer = proxy.recorder.writer
        assert (writer.not_kept, writer.quarantined, writer.not_journaled) == (0, 0, 0)
    finally:
        proxy.stop()
    assert calls.failures == []
    ids = stored_response_ids(pg_server.url)
    assert [rid for rid, count in Counter(ids).items() if count > 1] == []
    assert sorted(ids) == sorted(calls.response_ids)
    assert "store unavailable" in caplog.text and "calls stay in the journal" in caplog.text
    assert "the store answers again after" in caplog.text
    assert list((home / JOURNAL_DIR).glob("*.jsonl")) == []


class TinyDisk:
    """A directory on a 1 MiB tmpfs (as root) that `fill` fills up and `free` empties
    again; elsewhere a directory that `fill` makes read-only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._filler = directory / ".filler"
        self._mounted = False

    def __enter__(self) -> TinyDisk:
        self.directory.mkdir(parents=True)
        if os.geteuid() != 0:
            return self
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(self.directory)],
                                 capture_output=True, text=True, check=False)
        if mounted.returncode != 0:
            unavailable(f"cannot mount a tmpfs: {mounted.stderr.strip()}",
                        f"the disk-full test mounts a tmpfs as root: {mounted.stderr.strip()}")
        self._mounted = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._mounted:
            subprocess.run(["umount", "--lazy", str(self.directory)], check=False)
        else:
            self.directory.chmod(0o700)

    def fill(self) -> None:
        if not self._mounted:
            self.directory.chmod(0o500)
            return
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        if self._mounted:
            self._filler.unlink()
        else:
            self.directory.chmod(0o700)


def test_a_full_disk_loses_no_call_and_journaling_resumes(tmp_path, pg_server, chat_upstream, caplog):
    """The home directory fills up under the running proxy: calls are still forwarded and
    written straight to the store (held in memory while the store is down too), the writer
    says so and counts them; once there is room, the journal is written again."""
    caplog.set_level(logging.INFO)
    with TinyDisk(tmp_path / "home") as disk:
        home = disk.directory
        (home / "config.toml").write_text(f'database_url = "{pg_server.url}"\n')
        proxy = RunningProxy(home, set_options=to_fake(chat_upstream)).start()
        try:
            with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
                def ten_calls() -> list[str]:
                    answers = [chat(client, "gpt-4o-mini") for _ in range(10)]
                    assert [answer.status_code for answer in answers] == [200] * 10  # traffic goes on
                    return [answer.json()["id"] for answer in answers]

                disk.fill()
                straight_to_store = ten_calls()
                wait_until(lambda: sorted(stored_response_ids(pg_server.url)) == sorted(straight_to_store), 30,
                           "calls written from memory")
                pg_server.stop()
                held_in_memory = ten_calls()  # neither journal nor store: memory holds them
                pg_server.start()
                wait_until(lambda: len(stored_response_ids(pg_server.url)) == 20, 60,
                           "calls held in memory to be stored")
                writer = proxy.recorder.writer
                assert (writer.not_journaled, writer.not_kept) == (20, 0)
                disk.free()
                time.sleep(2.5)  # the journal is tried again after 2 s
                journaled = ten_calls()
                assert writer.not_journaled == 20
            wait_until(lambda: len(stored_response_ids(pg_server.url)) == 30, 30, "the journaled calls")
        finally:
            proxy.stop()
        assert sorted(stored_response_ids(pg_server.url)) == sorted(straight_to_store + held_in_memory + journaled)
        assert f"cannot write the journal in {home / JOURNAL_DIR}" in caplog.text
        assert "calls are kept in memory and written straight to the store until it can" in caplog.text
        assert "journaling resumed in" in caplog.text
        assert "offgate: 0 events quarantined, 20 calls not journaled, 0 calls not kept" in caplog.text
        assert list((home / JOURNAL_DIR).glob("*.jsonl")) == []
