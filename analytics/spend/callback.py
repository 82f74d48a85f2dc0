"""offgate's CustomLogger for LiteLLM: each call LiteLLM logs lands in offgate's store as
the spend row LiteLLM writes for it (docs/litellm.md says how to switch it on).

It runs inside LiteLLM's proxy, so it must never slow or break it. A hook only copies the
payload's small fields onto a queue; a daemon thread turns them into spend rows and writes
them in batches to the store offgate's settings name (OFFGATE_HOME, OFFGATE_DATABASE_URL).
Errors are logged, never raised. While the store is down rows wait in memory (at most
MAX_PENDING, the oldest dropped beyond that) and are retried; LiteLLM keeps them in its own
spend log as well, so `offgate spend import` can fill any gap.

offgate's store code is imported on the writer thread, not when LiteLLM loads this module.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from litellm.integrations.custom_logger import CustomLogger

if TYPE_CHECKING:
    from offgate.store.spend import SpendLog

log = logging.getLogger("offgate.litellm")

BULKY_PAYLOAD_FIELDS = frozenset({"messages", "response"})
FLUSH_INTERVAL_S = 0.5
BATCH_ROWS = 500
MAX_PENDING = 100_000
RETRY_AFTER_S = 5.0
CLOSE_TIMEOUT_S = 10.0
_STOP = object()


class OffgateSpendLogger(CustomLogger):
    """Register an instance in LiteLLM's `litellm_settings.callbacks`."""

    def __init__(self, store_url: str | None = None, flush_interval: float = FLUSH_INTERVAL_S) -> None:
        super().__init__()
        self.writer = SpendWriter(store_url, flush_interval)

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._take(kwargs)

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._take(kwargs)

    def log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._take(kwargs)

    def log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._take(kwargs)

    def _take(self, kwargs: dict) -> None:
        try:
            payload = kwargs.get("standard_logging_object")
            if isinstance(payload, dict):
                self.writer.put({k: v for k, v in payload.items() if k not in BULKY_PAYLOAD_FIELDS})
        except Exception:  # LiteLLM must never see an error of ours
            log.exception("offgate: could not take a spend payload (LiteLLM unaffected)")


class SpendWriter:
    """Writes payloads as spend rows from a thread of its own, started on first use in each
    process (LiteLLM's workers may be forked after this module is loaded)."""

    def __init__(self, store_url: str | None, flush_interval: float) -> None:
        self._store_url = store_url
        self._interval = flush_interval
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pending: list[Any] = []
        self._retry_at = 0.0
        atexit.register(self.close)

    def put(self, payload: dict[str, Any]) -> None:
        if self._pid != os.getpid():
            self._start()
        self._queue.put(payload)

    def close(self) -> None:
        """Write what is queued (one last try), then stop the thread."""
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._retry_at = 0.0
            self._queue.put(_STOP)
            thread.join(CLOSE_TIMEOUT_S)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="offgate-spend-writer", daemon=True)
            self._thread.start()
            self._pid = os.getpid()

    def _run(self) -> None:
        from analytics.spend.rows import record_from_row, row_from_logging_payload

        spend_log = None
        stopping = False
        while not stopping:
            payloads, stopping = self._collect()
            for payload in payloads:
                try:
                    self._pending.append(record_from_row(row_from_logging_payload(payload)))
                except Exception as exc:  # one odd payload must not stop the writer
                    log.warning("offgate: a LiteLLM payload was not a spend row (%s): %s", payload.get("id"), exc)
            if len(self._pending) > MAX_PENDING:
                excess = len(self._pending) - MAX_PENDING
                del self._pending[:excess]
                log.error("offgate: %d spend rows dropped while the store was unavailable", excess)
            if self._pending and (stopping or time.monotonic() >= self._retry_at):
                spend_log = self._write(spend_log)

    def _collect(self) -> tuple[list[dict[str, Any]], bool]:
        payloads: list[dict[str, Any]] = []
        deadline = time.monotonic() + self._interval
        while len(payloads) < BATCH_ROWS:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP:
                return payloads, True
            payloads.append(item)
        return payloads, False

    def _write(self, spend_log: SpendLog | None) -> SpendLog | None:
        """Write the pending rows; returns the open store, or None after a failure."""
        from offgate.config import ConfigError, database_url_for, load_settings, resolve_home
        from offgate.store import Store, StoreError
        from offgate.store.spend import SpendLog

        try:
            if spend_log is None:
                home = resolve_home(None)
                spend_log = SpendLog(Store.open(self._store_url or database_url_for(load_settings(home), home)))
            spend_log.add(self._pending, "callback")
        except (StoreError, ConfigError) as exc:
            log.warning("offgate: %d spend rows wait for the store: %s", len(self._pending), exc)
            self._retry_at = time.monotonic() + RETRY_AFTER_S
            return None
        self._pending = []
        return spend_log
