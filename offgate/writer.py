"""Stores what the capture paths saw, losing none of it: journal first, then the store.

`put` appends the item to this process's journal (offgate/journal.py) and queues it; a
thread turns queued items into events (estimates, prices and process lookups happen there,
not on the proxy's event loop) and writes them in one transaction per batch. The journal,
not memory, is what keeps a call: whatever is not stored from memory (the store is down,
the queue is full, the process crashed, the writer is closing) is read back from the
journal and stored later, by this process or the next one to start. Event ids make every
write idempotent, so a line stored twice is stored once.

What the store refuses (a value out of range, say) is bisected out of its batch: the rest
is written and each refused event is kept in `<home>/quarantine.jsonl` with the reason.
When the journal cannot be written (a full or read-only disk), items are kept in memory,
up to a bound, and written straight to the store; `put` then raises NotDurable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from offgate.captured import CapturedCall
from offgate.events import UsageEvent
from offgate.journal import Entry, Journal, Segment, UnheldSegment, append_private

if TYPE_CHECKING:
    from offgate.store import Store  # loaded by the first write: the native host acknowledges before

log = logging.getLogger("offgate.writer")

QUARANTINE_FILE = "quarantine.jsonl"
Item = UsageEvent | CapturedCall
# Store retries after a failure: the first wait, doubled up to the last.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
# How often the writer reads back the segments no one holds, while the store answers.
REPLAY_EVERY_S = 2.0
# How often counts of what could not be kept are logged, at most.
REPORT_EVERY_S = 10.0


class NotDurable(Exception):
    """The item could not be journaled. If `kept`, it is in memory for a direct store write,
    but a crash would lose it: the caller must not tell anyone it is safe."""

    def __init__(self, message: str, kept: bool) -> None:
        super().__init__(message)
        self.kept = kept


@dataclass(slots=True)
class _Pending:
    item: Item
    segment: Segment | None  # None: not in the journal, memory is all it has


class EventWriter:
    def __init__(
        self,
        open_store: Callable[[], Store],
        home: Path,
        *,
        fill_in: Callable[[CapturedCall], None] | None = None,
        batch_size: int = 500,
        interval: float = 0.2,
        max_in_memory: int = 10_000,
        segment_lines: int = 1000,
        segment_seconds: float = 5.0,
    ) -> None:
        """`fill_in` adds to a call what its capture path learned after `put` (the proxy:
        the client's process); `max_in_memory` bounds the queue, and again the calls held
        while neither the journal nor the store can take them."""
        self._open_store = open_store
        self._fill_in = fill_in
        self._batch_size = batch_size
        self._interval = interval
        self._max_in_memory = max_in_memory
        self._journal = Journal(home, segment_lines, segment_seconds)
        self._quarantine = home / QUARANTINE_FILE
        self._queue: queue.Queue[_Pending] = queue.Queue(max_in_memory)
        self._held: list[_Pending] = []  # not journaled, waiting for the store
        self._batch: list[_Pending] = []  # the one being written
        self._store: Store | None = None
        self._store_down_since: float | None = None
        self._retry_wait = RETRY_FIRST_S
        self._retry_at = 0.0
        self._next_replay = 0.0
        self._overflowed = 0  # calls put while the queue was full, since it last caught up
        self._unkept_unreported = 0
        self._next_report = 0.0
        self._closed = False
        self._replayed_at_start = False
        self._counts_lock = threading.Lock()
        self._stop = threading.Event()
        # Set when a whole batch waits or the writer closes: otherwise the thread sleeps out
        # `interval`, so a burst of calls wakes it once, not once per call.
        self._wake = threading.Event()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._supervise, name="offgate-writer", daemon=True)
        self.written = 0  # events stored by this writer
        self.quarantined = 0  # events the store refused, kept in quarantine.jsonl
        self.not_journaled = 0  # calls put while the journal could not be written (memory only)
        self.not_kept = 0  # calls lost: neither journal nor memory could take them
        self.restarts = 0  # times the writer's thread failed and started over
        self.spooled = 0  # calls left in the journal at close, for the next start

    # -- the capture path's side ----------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def put(self, item: Item) -> None:
        """Journal the item, then queue it. Returns once it is on disk (a killed process
        loses nothing put returned for); raises NotDurable when it could not be journaled."""
        if self._closed:
            raise NotDurable("the writer is closed", kept=False)
        try:
            segment = self._journal.append(*_line_of(item))
        except OSError as exc:
            with self._counts_lock:
                self.not_journaled += 1
            kept = self._enqueue(_Pending(item, None))
            raise NotDurable(f"cannot journal the call: {exc}", kept) from None
        if self._enqueue(_Pending(item, segment)):
            if self._queue.qsize() >= self._batch_size and not self._wake.is_set():
                self._wake.set()
        else:
            if self._overflowed == 0:
                log.warning("the writer is behind: more than %d calls in memory; new calls are read back "
                            "from the journal instead", self._max_in_memory)
            self._overflowed += 1
            self._journal.settle(segment, stored=False)

    def close(self, timeout: float = 30.0) -> None:
        """Store what can be stored within `timeout`; the rest stays in the journal and is
        stored by the next process to start."""
        self._closed = True
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
            if self._thread.is_alive():
                log.warning("the store did not take everything within %.0f s", timeout)
        in_memory_only = sum(1 for pending in self._unsettled() if pending.segment is None)
        if in_memory_only:
            self._not_kept(in_memory_only)
        self._report()
        self.spooled = self._journal.close()
        if self.spooled:
            log.warning("%d calls are left in the journal %s; the next offgate process to start stores them",
                        self.spooled, self._journal.directory)

    def _enqueue(self, pending: _Pending) -> bool:
        try:
            self._queue.put_nowait(pending)
            return True
        except queue.Full:
            if pending.segment is None:
                self._not_kept(1)
            return False

    # -- the thread -----------------------------------------------------------------------

    def _supervise(self) -> None:
        """Run the writer; if it fails, count it, say so and start over (the journal has
        every call it was holding)."""
        while True:
            try:
                self._work()
                break
            except Exception:  # the writer must not die
                self.restarts += 1
                log.exception("the writer failed; starting over (%d restarts)", self.restarts)
                self._give_back(self._batch)
                self._batch = []
                self._drop_store()
                time.sleep(0.1)  # a failure that repeats at once must not spin
                self._stop.wait(min(self.restarts, 5))
                if time.monotonic() > self._deadline:
                    break
        self._drop_store()

    def _work(self) -> None:
        if not self._replayed_at_start:
            self._replayed_at_start = True
            self._journal.adopt_spool()
            self._replay_journal()
        while not self._finished():
            self._batch = self._take_batch()
            if self._batch or (self._held and self._store_may_answer()):
                self._write_batch()
            self._batch = []
            self._journal.rotate_if_due()
            self._report()
            if not self._stop.is_set() and time.monotonic() >= self._next_replay and self._store_may_answer():
                self._replay_journal()

    def _finished(self) -> bool:
        if not self._stop.is_set():
            return False
        if time.monotonic() > self._deadline:
            return True
        return self._queue.empty() and not (self._held and self._store_may_answer())

    def _take_batch(self) -> list[_Pending]:
        """Up to a batch of what is queued, every `interval` (at once when a whole batch
        waits or the writer is closing)."""
        if not self._stop.is_set() and self._queue.qsize() < self._batch_size:
            self._wake.wait(self._interval)
        self._wake.clear()
        batch: list[_Pending] = []
        with contextlib.suppress(queue.Empty):
            while len(batch) < self._batch_size:
                batch.append(self._queue.get_nowait())
        return batch

    def _write_batch(self) -> None:
        """Store the batch in hand, with what is held in memory; settle each item after."""
        if not self._store_may_answer():
            self._give_back(self._batch)
            return
        # In self._batch, not a local: if this fails, the supervisor gives every item back.
        self._batch = self._held + self._batch
        self._held = []
        events, unbuildable = self._events_of(self._batch)
        if not self._store_events(events):
            self._give_back(self._batch)
            return
        left = {id(pending) for pending in unbuildable}
        for pending in self._batch:
            if id(pending) in left:
                self._give_back([pending])
            elif pending.segment is not None:
                self._journal.settle(pending.segment, stored=True)

    def _give_back(self, batch: list[_Pending]) -> None:
        """Leave journaled items to the journal; hold the rest in memory (bounded)."""
        for pending in batch:
            if pending.segment is None:
                self._journal_again(pending)
            if pending.segment is not None:
                self._journal.settle(pending.segment, stored=False)
            elif len(self._held) < self._max_in_memory:
                self._held.append(pending)
            else:
                self._not_kept(1)

    def _journal_again(self, pending: _Pending) -> None:
        """An item held in memory goes to the journal as soon as it can be written again."""
        with contextlib.suppress(OSError):
            pending.segment = self._journal.append(*_line_of(pending.item))

    def _events_of(self, batch: list[_Pending]) -> tuple[list[UsageEvent], list[_Pending]]:
        """The batch's events; items whose event cannot be made are quarantined, or (when
        even that fails) returned to be left in the journal."""
        events, unbuildable = [], []
        for pending in batch:
            item = pending.item
            try:
                if isinstance(item, CapturedCall) and self._fill_in is not None and item.client_id is not None:
                    self._fill_in(item)
                events.append(_event_of(item))
            except Exception as exc:  # a bug in one call must not stop the rest
                if not self._set_aside(item.id, f"cannot make its event: {exc}", call=_kept_form(item)):
                    unbuildable.append(pending)
        return events, unbuildable

    # -- the store ------------------------------------------------------------------------

    def _store_may_answer(self) -> bool:
        return self._store_down_since is None or time.monotonic() >= self._retry_at

    def _store_events(self, events: list[UsageEvent]) -> bool:
        """Store them all, quarantining each event the store refuses; False (nothing
        settled) when the store is unavailable."""
        if not events:
            return True
        from offgate.store import StoreError

        try:
            store = self._store or self._open_store()
            self._store = store
        except Exception as exc:  # however the store fails to open, it is unavailable
            self._store_failed(exc)
            return False
        try:
            store.add(events)
        except StoreError as exc:
            if exc.retryable:
                self._store_failed(exc)
                return False
            return self._bisect(events, exc)
        except Exception as exc:  # a value the driver cannot send (NUL, an int too big)
            return self._bisect(events, exc)
        self.written += len(events)
        if self._store_down_since is not None:
            log.warning("the store answers again after %.0f s; replaying the journal",
                        time.monotonic() - self._store_down_since)
            self._store_down_since = None
            self._retry_wait = RETRY_FIRST_S
            self._next_replay = 0.0
        return True

    def _bisect(self, events: list[UsageEvent], exc: Exception) -> bool:
        if len(events) == 1:
            return self._set_aside(events[0].id, str(exc), event=events[0].model_dump(mode="json"))
        half = len(events) // 2
        return self._store_events(events[:half]) and self._store_events(events[half:])

    def _store_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._store_down_since is None:
            self._store_down_since = now
            log.warning("store unavailable (%s): calls stay in the journal %s; retrying", exc,
                        self._journal.directory)
        else:
            log.debug("store still unavailable: %s", exc)
            self._retry_wait = min(self._retry_wait * 2, RETRY_MAX_S)
        self._retry_at = now + self._retry_wait
        self._drop_store()

    def _drop_store(self) -> None:
        if self._store is not None:
            with contextlib.suppress(Exception):  # it is being dropped because it failed
                self._store.close()
            self._store = None

    def _set_aside(self, event_id: str, reason: str, **kept: Any) -> bool:
        """Keep what cannot be stored in quarantine.jsonl; False if even that fails."""
        line = {"id": event_id, "reason": reason, "at": datetime.now(UTC).isoformat(), **kept}
        try:
            append_private(self._quarantine, (json.dumps(line) + "\n").encode("ascii"))
        except OSError as exc:
            log.error("cannot store event %s (%s), nor keep it in %s: %s", event_id, reason, self._quarantine, exc)
            return False
        self.quarantined += 1
        log.warning("event %s cannot be stored and is kept in %s: %s", event_id, self._quarantine, reason)
        return True

    # -- reading the journal back ---------------------------------------------------------

    def _replay_journal(self) -> None:
        """Store what the segments no one holds keep (ours handed over, those of processes
        that ended), then delete them."""
        self._next_replay = time.monotonic() + REPLAY_EVERY_S
        replayed = segments = 0
        for segment in self._journal.unheld_segments():
            try:
                stored = self._replay(segment)
            finally:
                segment.release()
            if stored is None:
                break  # the store is unavailable: the segments wait for the next try
            replayed += stored
            segments += 1
        if segments:
            log.info("stored %d calls from %d journal segments", replayed, segments)
        if self._overflowed and self._queue.empty() and not self._journal.has_handed_over():
            log.warning("the writer caught up: %d calls that did not fit in memory were read back from the journal",
                        self._overflowed)
            self._overflowed = 0

    def _replay(self, segment: UnheldSegment) -> int | None:
        """How many calls of the segment were stored (then it is deleted); None if the
        store is unavailable (the segment stays for the next try)."""
        entries, unreadable = segment.read()
        items = []
        for entry in entries:
            try:
                items.append(_item_of(entry))
            except (ValidationError, ValueError) as exc:
                unreadable.append((json.dumps({"kind": entry.kind, "data": entry.data}).encode(), str(exc)))
        for start in range(0, len(items), self._batch_size):
            chunk = [_Pending(item, None) for item in items[start:start + self._batch_size]]
            events, unbuildable = self._events_of(chunk)
            if unbuildable or not self._store_events(events):
                return None
        if unreadable:  # set aside once the rest is stored, so a retry does not set them aside twice
            try:
                self._journal.set_aside(segment.path, unreadable)
            except OSError as exc:
                log.error("cannot set aside unreadable lines of %s (%s): it stays", segment.path, exc)
                return None
        segment.finish()
        return len(items)

    # -- accounts -------------------------------------------------------------------------

    def _unsettled(self) -> list[_Pending]:
        items = list(self._held) + list(self._batch)
        with contextlib.suppress(queue.Empty):
            while True:
                items.append(self._queue.get_nowait())
        return items

    def _not_kept(self, count: int) -> None:
        with self._counts_lock:  # put() counts on the capture path's thread
            self.not_kept += count
            self._unkept_unreported += count

    def _report(self) -> None:
        if self._unkept_unreported and (time.monotonic() >= self._next_report or self._closed):
            log.error("%d calls could not be kept: the journal cannot be written and the store did not take them "
                      "(%d in all)", self._unkept_unreported, self.not_kept)
            self._unkept_unreported = 0
            self._next_report = time.monotonic() + REPORT_EVERY_S


def _line_of(item: Item) -> tuple[str, dict[str, Any]]:
    if isinstance(item, CapturedCall):
        return "call", item.model_dump(mode="json")
    return "event", item.model_dump(mode="json")


def _item_of(entry: Entry) -> Item:
    if entry.kind == "call":
        return CapturedCall.model_validate(entry.data)
    if entry.kind == "event":
        return UsageEvent.model_validate(entry.data)
    raise ValueError(f"unknown kind of journal line {entry.kind!r}")


def _event_of(item: Item) -> UsageEvent:
    return item.to_event() if isinstance(item, CapturedCall) else item


def _kept_form(item: Item) -> dict[str, Any]:
    return item.without_texts() if isinstance(item, CapturedCall) else item.model_dump(mode="json")
