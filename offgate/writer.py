"""Writes usage events off the capture path's own thread, in batches, losing none.

The proxy addon and the native host hand over what they captured; a thread turns it into
events (estimates and prices are computed there, not on the proxy's event loop) and
writes them in one transaction per batch. If the store is down, the batch goes to a spool
file in the home directory and is written when the store answers again; `close()` drains
everything first.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from offgate.events import UsageEvent
from offgate.store import Store

log = logging.getLogger("offgate.writer")

SPOOL_FILE = "spool.jsonl"
REJECTED_FILE = "spool.rejected"
_STOP = object()


class NotDurable(Exception):
    """put() could not keep the item durably (the disk is full): it was not taken."""


class EventWriter:
    def __init__(
        self,
        open_store: Callable[[], Store],
        spool_dir: Path,
        to_event: Callable[[Any], UsageEvent],
        batch_size: int = 500,
        interval: float = 0.2,
    ) -> None:
        self._open_store = open_store
        self._spool = spool_dir / SPOOL_FILE
        self._to_event = to_event
        self._batch_size = batch_size
        self._interval = interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._store: Store | None = None
        self._thread = threading.Thread(target=self._run, name="offgate-writer", daemon=True)
        self.written = 0
        self.spooled = 0

    def start(self) -> None:
        self._thread.start()

    def put(self, item: Any) -> None:
        """Thread-safe and never blocks: the event loop only enqueues."""
        self._queue.put(item)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still queued, then stop."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        if self._store is not None:
            self._store.close()
            self._store = None

    def _run(self) -> None:
        self._replay_spool()
        stopping = False
        while not stopping:
            batch: list[UsageEvent] = []
            deadline = time.monotonic() + self._interval
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(self._to_event(item))
            if batch:
                self._write(batch)
            elif self._spool.exists():
                self._replay_spool()

    def _write(self, events: list[UsageEvent]) -> None:
        try:
            store = self._store or self._open_store()
            self._store = store
            store.add(events)
            self.written += len(events)
        except Exception as exc:  # noqa: BLE001 - the store being down must lose nothing
            log.warning("store unavailable (%s): spooling %d events to %s", exc, len(events), self._spool)
            self._drop_store()
            self._append_spool(events)

    def _append_spool(self, events: list[UsageEvent]) -> None:
        with self._spool.open("a", encoding="utf-8") as out:
            for event in events:
                out.write(event.model_dump_json() + "\n")
        self.spooled += len(events)

    def _replay_spool(self) -> None:
        if not self._spool.exists():
            return
        try:
            events = self._read_spool()
            store = self._store or self._open_store()
            self._store = store
            # Ids make the insert idempotent, so a replay cut short can simply run again.
            store.add(events)
            self._spool.unlink()
            self.written += len(events)
            log.info("wrote %d spooled events", len(events))
        except Exception as exc:  # noqa: BLE001
            log.debug("spool not replayed yet: %s", exc)
            self._drop_store()

    def _read_spool(self) -> list[UsageEvent]:
        """The spooled events; a damaged line (a crash mid-write) is set aside in
        spool.rejected for a person to look at, so it cannot block the rest."""
        events, rejected = [], []
        for line in self._spool.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                events.append(UsageEvent.model_validate_json(line))
            except ValueError:
                rejected.append(line)
        if rejected:
            with (self._spool.parent / REJECTED_FILE).open("a", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in rejected)
            self._spool.write_text("".join(e.model_dump_json() + "\n" for e in events), encoding="utf-8")
            log.warning("set aside %d damaged spool lines in %s", len(rejected), REJECTED_FILE)
        return events

    def _drop_store(self) -> None:
        if self._store is not None:
            with contextlib.suppress(Exception):  # it is being dropped because it failed
                self._store.close()
            self._store = None
