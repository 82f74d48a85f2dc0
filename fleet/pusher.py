"""On a workstation: push the outbox to the collector, oldest first, in gzip-compressed
batches, and forget each batch once the collector acknowledged it.

It runs in a thread of `offgate up` (or as `offgate push`), never on the proxy's event
loop, and only one pusher per home pushes at a time (a lock file), so batches go out in
order. A push that fails (collector or network down, database restarting) is tried again
after a pause that doubles each time, with jitter so a fleet coming back does not knock
all at once, up to 5 minutes; meanwhile records keep being recorded locally, and a device
offline for days sends its whole backlog, batch after batch, when it is back. A credential
the collector refuses (revoked) stops the pushing with one clear log line until the
device is enrolled again; `offgate status` says so.

A batch the collector refuses never blocks the outbox. Too large (413): it is halved until
taken. Refused as invalid (422): it is halved too, the good halves going out, down to the
one entry refused alone; if the collector takes an empty batch from this agent, that entry
is the fault and is quarantined (kept here, counted in every push, shown by `offgate
status` and the admin's `offgate fleet devices`); if not, the fault is the agent's and the
push fails as any other.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from fleet.enrolment import Enrolment, EnrolmentError, load_enrolment
from fleet.outbox import Outbox, OutboxBatch
from fleet.policy_follow import PolicyNotFetched, PolicyRefused, follow_policy
from fleet.running import RunningParts
from fleet.transport import TransportError, client, refusal, unreachable
from fleet.wire import INGEST_PATH, Acknowledgement
from offgate.errors import OffgateError
from offgate.store import Store, StoreError

log = logging.getLogger("offgate.push")

PUSH_BATCH_RECORDS = 1000
INTERVAL_S = 10.0
HEARTBEAT_S = 300.0  # with nothing to push, an empty batch this often: the collector sees the device alive
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0
GZIP_LEVEL = 5  # most of level 9's ratio on JSON records for a fraction of its CPU
STATE_FILE = "fleet-push.json"
LOCK_FILE = "fleet-push.lock"
_RETRYABLE_STATUS = (408, 425, 429)


class PushFailed(OffgateError):
    """This push did not go through; a later one will try again. The message says why."""


class NotEnrolled(PushFailed):
    """The home has no credential: nothing to push to."""


class CredentialRefused(PushFailed):
    """The collector refused this device's credential (revoked): pushing stops until re-enrolment."""


class PushState(BaseModel):
    """The last push as `offgate status` reports it (<home>/fleet-push.json)."""

    device_id: str
    last_success_at: datetime | None = None
    last_error: str | None = None
    refused: str | None = None  # set when the collector refused the credential
    policy_error: str | None = None  # why the collector's policy is not applied here, while it is not


@dataclass
class PushSummary:
    batches: int = 0
    entries: int = 0
    stored: int = 0
    already_stored: int = 0
    deleted: int = 0
    pending: int = 0
    quarantined: int = 0
    quarantine_reason: str | None = None  # the collector's, for the last entry quarantined
    policy_version: str | None = None  # the central policy in force at the collector, as it said
    policy_applied: str | None = None  # the central policy version this push brought (None: unchanged)
    policy_refused: str | None = None  # why the collector's policy is not applied here

    def add(self, batch: OutboxBatch, acknowledgement: Acknowledgement) -> None:
        self.batches += 1
        self.entries += batch.entries
        self.stored += acknowledgement.stored
        self.already_stored += acknowledgement.already_stored
        self.deleted += acknowledgement.deleted
        self.policy_version = acknowledgement.policy_version or self.policy_version


def agent_version() -> str:
    return version("offgate")


def backoff(failures: int) -> float:
    """The pause after `failures` failed pushes in a row: doubling, capped, half of it random."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def load_state(home: Path) -> PushState | None:
    try:
        return PushState.model_validate_json((home / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


class Pusher:
    def __init__(self, home: Path, store_url: str, parts: RunningParts | None = None,
                 batch_records: int = PUSH_BATCH_RECORDS) -> None:
        self._home = home
        self._store_url = store_url
        self._parts = parts or RunningParts(home)
        self._batch_records = batch_records
        self._store: Store | None = None
        self._outbox_for: tuple[str, Outbox, str] | None = None  # device id, outbox, outbox id
        self._posted_at = float("-inf")  # monotonic time of the last batch the collector took
        self._http: tuple[str, httpx.Client] | None = None
        self._version = agent_version()
        self._refused_policy: str | None = None  # the central policy version found invalid here

    def run(self, stop: threading.Event, interval: float = INTERVAL_S) -> None:
        """Push whenever there is something to push, until `stop` is set."""
        # httpx logs every request at INFO: at one push every few seconds that is noise; ours says what went.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        failures = 0
        try:
            while not stop.is_set():
                pause = interval
                try:
                    summary = self.push_once(stop)
                    failures = 0
                    if summary.entries:
                        log.info("pushed %d outbox entries (%d records new at the collector); %d waiting",
                                 summary.entries, summary.stored, max(summary.pending, 0))
                except (NotEnrolled, CredentialRefused):
                    pass  # said once already; a new enrolment resumes the pushing
                except PushFailed as exc:
                    failures += 1
                    pause = backoff(failures)
                    log.warning("push failed: %s; trying again in %.0f s (records keep being recorded here)",
                                exc, pause)
                stop.wait(pause)
        finally:
            self.close()

    def push_once(self, stop: threading.Event | None = None) -> PushSummary:
        """Push everything waiting, batch after batch (or, when nothing waits and none was
        sent for HEARTBEAT_S, an empty batch: the device is alive); PushFailed if it could not."""
        enrolment = self._enrolment()
        state = load_state(self._home)
        if state is None or state.device_id != enrolment.device_id:
            state = PushState(device_id=enrolment.device_id)
        if state.refused:
            raise CredentialRefused(state.refused)
        with _exclusive(self._home / LOCK_FILE) as locked:
            if not locked:
                raise PushFailed("another offgate push is running for this home")
            try:
                summary = self._push(enrolment, stop)
                policy_changed = self._follow_policy(enrolment, summary, state)
            except CredentialRefused as exc:
                state.refused = state.last_error = str(exc)
                log.error("%s", exc)
                self._save(state)
                raise
            except PushFailed as exc:
                state.last_error = str(exc)
                self._save(state)
                raise
            if summary.batches or state.last_error or policy_changed:
                if summary.batches or state.last_error:
                    state.last_success_at, state.last_error = datetime.now(UTC), None
                self._save(state)
            return summary

    def close(self) -> None:
        if self._http is not None:
            self._http[1].close()
            self._http = None
        self._drop_store()

    def _enrolment(self) -> Enrolment:
        try:
            enrolment = load_enrolment(self._home)
        except EnrolmentError as exc:
            raise PushFailed(str(exc)) from None
        if enrolment is None:
            raise NotEnrolled(f"this home ({self._home}) is not enrolled: run `offgate enroll URL --token SECRET`")
        return enrolment

    def _push(self, enrolment: Enrolment, stop: threading.Event | None) -> PushSummary:
        try:
            outbox, outbox_id = self._outbox(enrolment)
            size = self._batch_records
            batch = outbox.read(size)
            if not batch.entries and time.monotonic() - self._posted_at < HEARTBEAT_S:
                return PushSummary()
            report = self._report(outbox)
            summary = PushSummary(pending=outbox.pending())
            while True:
                response = self._post(enrolment, _body(outbox_id, batch, report, summary.pending - batch.entries))
                if response.status_code == 413 and size > 1:
                    size //= 2  # this collector takes smaller batches
                elif response.status_code == 422 and batch.entries > 1:
                    size = batch.entries // 2  # look for the entry it refuses
                elif response.status_code == 422 and batch.entries == 1:
                    self._quarantine(enrolment, outbox, outbox_id, batch, report, response, summary)
                    size = self._batch_records
                else:
                    acknowledgement = self._acknowledgement(enrolment, response)
                    self._posted_at = time.monotonic()
                    outbox.acknowledge(batch.last_seq)
                    summary.add(batch, acknowledgement)
                    summary.pending -= batch.entries
                if stop is not None and stop.is_set():
                    return summary
                batch = outbox.read(size)
                if not batch.entries:
                    return summary
        except StoreError as exc:
            self._drop_store()
            raise PushFailed(str(exc)) from None

    def _follow_policy(self, enrolment: Enrolment, summary: PushSummary, state: PushState) -> bool:
        """Fetch and keep the collector's policy if it changed; whether `state` changed."""
        version = summary.policy_version
        if version is None or self._store is None or state.policy_error and version == self._refused_policy:
            return False  # an older collector, nothing pushed, or a refused version already said
        try:
            summary.policy_applied = follow_policy(self._client(enrolment), enrolment, self._store, version)
        except PolicyNotFetched as exc:
            log.warning("could not fetch the central policy (%s); the next push tries again", exc)
            return False
        except PolicyRefused as exc:
            log.error("%s", exc)
            self._refused_policy, state.policy_error = exc.version, str(exc)
            summary.policy_refused = str(exc)
            return True
        except StoreError as exc:
            log.warning("could not keep the central policy (%s); the next push tries again", exc)
            return False
        if summary.policy_applied is not None:
            log.info("the central policy version %s is in force here now", summary.policy_applied)
        changed = state.policy_error is not None
        state.policy_error = None
        return changed or summary.policy_applied is not None

    def _quarantine(self, enrolment: Enrolment, outbox: Outbox, outbox_id: str, batch: OutboxBatch,
                    report: dict[str, Any], refused: httpx.Response, summary: PushSummary) -> None:
        """Quarantine the one entry of `batch` the collector refused, if the fault is that
        entry's: the collector takes an empty batch (else PushFailed, nothing quarantined)."""
        empty = OutboxBatch(last_seq=batch.last_seq)
        self._acknowledgement(enrolment, self._post(enrolment, _body(outbox_id, empty, report, summary.pending)))
        _, reason = refusal(refused)
        outbox.quarantine(batch.last_seq, reason)
        summary.pending -= 1
        summary.quarantined += 1
        summary.quarantine_reason = reason
        report["quarantined"] += 1
        log.warning("the collector refused outbox entry %d (%s): quarantined, kept here; the rest goes on",
                    batch.last_seq, reason)

    def _outbox(self, enrolment: Enrolment) -> tuple[Outbox, str]:
        """The local outbox and its id, checked (triggers in place) once per store and enrolment."""
        if self._outbox_for is None or self._outbox_for[0] != enrolment.device_id:
            if self._store is None:
                self._store = Store.open(self._store_url)
            outbox = Outbox(self._store)
            self._outbox_for = (enrolment.device_id, outbox, outbox.ensure())
        return self._outbox_for[1], self._outbox_for[2]

    def _report(self, outbox: Outbox) -> dict[str, Any]:
        last = outbox.last_records()
        return {"version": self._version, "running": self._parts.now(),
                "last_records": {source: None if moment is None else moment.isoformat()
                                 for source, moment in last.items()},
                "quarantined": outbox.quarantined().entries}

    def _post(self, enrolment: Enrolment, body: bytes) -> httpx.Response:
        try:
            http = self._client(enrolment)
            return http.post(enrolment.collector + INGEST_PATH, content=body, headers={
                "Authorization": f"Bearer {enrolment.credential}", "Content-Type": "application/json",
                "Content-Encoding": "gzip"})
        except TransportError as exc:
            raise PushFailed(str(exc)) from None
        except httpx.HTTPError as exc:
            raise PushFailed(unreachable(enrolment.collector, exc)) from None

    def _acknowledgement(self, enrolment: Enrolment, response: httpx.Response) -> Acknowledgement:
        if response.status_code == 200:
            try:
                return Acknowledgement.model_validate_json(response.content)
            except ValidationError:
                raise PushFailed(f"{enrolment.collector} answered, but not as an offgate collector does") from None
        code, message = refusal(response)
        if response.status_code in (401, 403):
            raise CredentialRefused(
                f"the collector refused this device's credential ({code}: {message}): pushing has stopped; records "
                f"are still recorded here, and `offgate enroll` with a new token resumes the pushing")
        retry = " (it will be tried again)" if response.status_code >= 500 or response.status_code in \
            _RETRYABLE_STATUS else ""
        raise PushFailed(f"the collector refused a batch ({code}): {message}{retry}")

    def _client(self, enrolment: Enrolment) -> httpx.Client:
        key = f"{enrolment.device_id} {enrolment.collector} {enrolment.ca_file}"
        if self._http is None or self._http[0] != key:
            if self._http is not None:
                self._http[1].close()
            self._http = (key, client(enrolment.ca_path))
        return self._http[1]

    def _drop_store(self) -> None:
        self._outbox_for = None
        if self._store is not None:
            with contextlib.suppress(StoreError):
                self._store.close()
            self._store = None

    def _save(self, state: PushState) -> None:
        path = self._home / STATE_FILE
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(state.model_dump_json(indent=1) + "\n", encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc.strerror)


def _body(outbox_id: str, batch: OutboxBatch, report: dict[str, Any], pending: int) -> bytes:
    payload = {"outbox": outbox_id, "records": batch.records, "record_seqs": batch.record_seqs,
               "deletions": batch.deletions, "agent": {**report, "pending": max(pending, 0)}}
    return gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), GZIP_LEVEL)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """Hold `path` locked while the block runs; False when another process holds it."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            _lock(descriptor)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing releases the lock


def _lock(descriptor: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
