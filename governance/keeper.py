"""Keeps the hook's table fresh, on a thread of its own, and records approval requests.

Every `policy.refresh_s` the thread re-reads offgate's settings and the central policy set with
`offgate fleet policy set` (so a changed policy applies without restarting LiteLLM) and loads
the table from the store; between loads, the requests the hook held are written to the store,
a batch at a time. A failed load keeps the last table, which grows stale; the hook then fails
open or closed as the policy says. The thread starts on first use in each process (LiteLLM's
workers may be forked after the hook is loaded).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from governance.table import Table, load_table
from offgate.config import ConfigError, Settings, database_url_for, load_settings, resolve_home
from offgate.store import Store, StoreError
from offgate.store.approvals import ApprovalStore, Hold
from offgate.store.policies import policy_in_force

log = logging.getLogger("offgate.governance")

HOOK_ACTOR = "gateway hook"
FIRST_LOAD_WAIT_S = 10.0
MAX_QUEUED_HOLDS = 10_000

SettingsSource = Callable[[], tuple[Settings, Path]]


def home_settings() -> tuple[Settings, Path]:
    """offgate's settings as every other part reads them (OFFGATE_HOME, config.toml, OFFGATE_*)."""
    home = resolve_home(None)
    return load_settings(home), home


class TableKeeper:
    def __init__(self, settings: SettingsSource = home_settings, store_url: str | None = None) -> None:
        self._settings = settings
        self._store_url = store_url
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._holds: queue.SimpleQueue[Hold] = queue.SimpleQueue()
        self._queued = 0
        self.table: Table | None = None

    def started(self) -> bool:
        return self._pid == os.getpid()

    def start(self) -> threading.Event:
        """Start the thread in this process if it is not running; returns the event set once the
        first load was tried."""
        with self._lock:
            if self._pid != os.getpid():
                self._stop = threading.Event()
                self._loaded = threading.Event()
                self._holds = queue.SimpleQueue()
                self._queued = 0
                threading.Thread(target=self._run, name="offgate-governance", daemon=True).start()
                self._pid = os.getpid()
            return self._loaded

    def stop(self) -> None:
        self._stop.set()

    def ask(self, hold: Hold) -> None:
        """Record a held call as an approval request, off the request's path."""
        if self._queued < MAX_QUEUED_HOLDS:
            self._queued += 1
            self._holds.put(hold)

    def age_s(self) -> float | None:
        table = self.table
        return None if table is None else time.monotonic() - table.loaded_at

    def _run(self) -> None:
        store: Store | None = None
        while not self._stop.is_set():
            refresh_s = self.table.policy.refresh_s if self.table else 1.0
            try:
                settings, home = self._settings()
                store = store or Store.open(self._store_url or database_url_for(settings, home))
                self._write_holds(store)
                policy = policy_in_force(store, settings.policy, central=True)  # the fleet's, set centrally
                self.table = load_table(store, policy, time.monotonic())
                refresh_s = policy.refresh_s
            except (ConfigError, StoreError, ValidationError) as exc:
                log.warning("offgate governance: could not refresh the policy table (%s); keeping the last one", exc)
                store = _closed(store)
            except Exception:  # never let the thread die: a dead keeper is a table that never refreshes
                log.exception("offgate governance: could not refresh the policy table")
                store = _closed(store)
            finally:
                self._loaded.set()
            self._stop.wait(refresh_s)
        _closed(store)

    def _write_holds(self, store: Store) -> None:
        holds: list[Hold] = []
        while True:
            try:
                holds.append(self._holds.get_nowait())
            except queue.Empty:
                break
            self._queued -= 1
        if not holds:
            return
        try:
            fresh = ApprovalStore(store).ask(holds, HOOK_ACTOR, datetime.now(UTC))
        except StoreError:
            for hold in holds:  # try again next round
                self.ask(hold)
            raise
        for request_id in fresh:
            log.info("offgate governance: approval request %s recorded", request_id)


def _closed(store: Store | None) -> None:
    if store is not None:
        with contextlib.suppress(StoreError):  # it is being dropped either way
            store.close()
