"""The write-ahead journal: every captured call is on disk before it is stored.

Each process appends to segment files of its own, `<home>/journal/<pid>-<start>-<n>.jsonl`,
and holds an exclusive `flock` on each while it may still append to it or still holds some
of its lines in memory. A segment whose lock can be taken belongs to no one: its process
ended (or crashed), or handed it over for its lines to be read back. Any process replays
such a segment under the lock and deletes it once everything in it is stored; nobody
appends to it any more, so nothing can be lost by the delete. A new segment is made under
a hidden name, locked, then renamed into place, so no replayer can take it in between.

The locks are POSIX `flock`s. Windows has none (and cannot rename or delete an open file),
so there the journal reports itself unavailable and the writer works from memory alone.

A line is written with one plain write() and no fsync: a process that is killed loses
nothing write() returned for (the kernel has it), but a power cut may lose the last lines.

Each line is one ASCII JSON object, `{"v": 1, "kind": ..., "data": {...}}`: ASCII so any
Python string (lone surrogates included) reads back as it was written. A line that cannot
be read (torn by a crash mid-write, or from a newer offgate) is set aside in
`<home>/journal.rejected`, loudly, and never blocks the rest. Lines without "v" are the
UsageEvents of `spool.jsonl`, which earlier versions wrote; `adopt_spool` brings that file in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; the journal is off there (see `_new_segment`)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("offgate.journal")

JOURNAL_DIR = "journal"
REJECTED_FILE = "journal.rejected"
LEGACY_SPOOL_FILE = "spool.jsonl"
FORMAT_VERSION = 1
SEGMENT_SUFFIX = ".jsonl"
# After a failed append, appends fail at once (the disk is not touched) for this long.
RETRY_AFTER_FAILURE_S = 2.0


class JournalUnavailable(OSError):
    """The journal could not be written a moment ago; it is tried again shortly."""


@dataclass(slots=True)
class Entry:
    """One line read back: what kind of item it holds, and the item's JSON."""

    kind: str
    data: dict[str, Any]


class Segment:
    """One of this process's segment files, locked by it."""

    __slots__ = ("path", "fd", "size", "lines", "unsettled", "unstored", "sealed", "first_line_at")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd  # -1 once released (deleted, or handed over for replay)
        self.size = 0
        self.lines = 0
        self.unsettled = 0  # lines whose items are still in memory, on their way to the store
        self.unstored = 0  # lines left to be read back from the file (not stored from memory)
        self.sealed = False  # no more appends
        self.first_line_at = 0.0  # monotonic


class Journal:
    """This process's segments, and the way to the segments no one holds."""

    def __init__(self, home: Path, segment_lines: int = 1000, segment_seconds: float = 5.0) -> None:
        self.directory = home / JOURNAL_DIR
        self.rejected = home / REJECTED_FILE
        self._home = home
        self._segment_lines = segment_lines
        self._segment_seconds = segment_seconds
        self._name = f"{os.getpid()}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self._count = 0
        self._lock = threading.Lock()
        self._current: Segment | None = None
        self._held: dict[Path, Segment] = {}  # sealed, some lines still in memory
        self._handed_over: dict[Path, int] = {}  # released with unstored lines: path -> how many
        self._failing_since: float | None = None
        self._retry_at = 0.0
        self._closed = False

    # -- appending (any thread) -------------------------------------------------------

    def append(self, kind: str, data: dict[str, Any]) -> Segment:
        """Write one line; returns its segment, to `settle` the line later. Raises OSError
        (JournalUnavailable while a recent failure is not yet retried)."""
        raw = encode_line({"v": FORMAT_VERSION, "kind": kind, "data": data})
        with self._lock:
            if self._closed:
                raise JournalUnavailable("the journal is closed")
            if self._failing_since is not None and time.monotonic() < self._retry_at:
                raise JournalUnavailable(f"cannot write the journal in {self.directory}")
            try:
                segment = self._current or self._new_segment()
                self._write(segment, raw)
            except OSError as exc:
                self._failed(exc)
                raise
            if self._failing_since is not None:
                log.warning("journaling resumed in %s after %.0f s", self.directory,
                            time.monotonic() - self._failing_since)
                self._failing_since = None
            if not segment.lines:
                segment.first_line_at = time.monotonic()
            segment.lines += 1
            segment.unsettled += 1
            if segment.lines >= self._segment_lines:
                self._seal(segment)
            return segment

    def settle(self, segment: Segment, stored: bool) -> None:
        """One line of `segment` is done with in memory: stored (or set aside), or left to be
        read back from the file. A sealed segment is deleted once all of its lines are
        stored, or handed over for replay once none is in memory any more."""
        with self._lock:
            if self._closed or segment.fd < 0:
                return
            segment.unsettled -= 1
            if not stored:
                segment.unstored += 1
            self._release_if_done(segment)

    def rotate_if_due(self) -> None:
        """Seal the open segment once it is old enough, so what it holds can be replayed."""
        with self._lock:
            segment = self._current
            if segment and segment.lines and time.monotonic() - segment.first_line_at >= self._segment_seconds:
                self._seal(segment)

    def close(self) -> int:
        """Release every segment; returns how many lines of this process are not known to
        be stored (they are replayed by the next offgate process that starts)."""
        with self._lock:
            if self._closed:
                return 0
            if self._current is not None:
                self._seal(self._current)
            for segment in list(self._held.values()):
                segment.unstored += segment.unsettled
                segment.unsettled = 0
                self._release_if_done(segment)
            self._closed = True
            return sum(n for path, n in self._handed_over.items() if path.exists())

    def _new_segment(self) -> Segment:
        if fcntl is None:
            raise JournalUnavailable("this platform has no flock for the journal's segments")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._count += 1
        name = f"{self._name}-{self._count}{SEGMENT_SUFFIX}"
        hidden = self.directory / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, self.directory / name)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                hidden.unlink()
            raise
        self._current = Segment(self.directory / name, fd)
        return self._current

    def _write(self, segment: Segment, raw: bytes) -> None:
        try:
            _write_all(segment.fd, raw)
        except OSError:
            # Leave no torn line for the next append to join; if even that fails, the segment
            # takes no more lines and its torn tail is set aside when it is replayed.
            with contextlib.suppress(OSError):
                os.ftruncate(segment.fd, segment.size)
            self._seal(segment)
            raise
        segment.size += len(raw)

    def _failed(self, exc: OSError) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            log.warning("cannot write the journal in %s (%s): calls are kept in memory and written "
                        "straight to the store until it can", self.directory, exc.strerror or exc)
        self._retry_at = now + RETRY_AFTER_FAILURE_S

    def _seal(self, segment: Segment) -> None:
        segment.sealed = True
        if self._current is segment:
            self._current = None
        self._held[segment.path] = segment
        self._release_if_done(segment)

    def _release_if_done(self, segment: Segment) -> None:
        if not segment.sealed or segment.unsettled > 0 or segment.fd < 0:
            return
        if segment.unstored == 0:
            with contextlib.suppress(OSError):
                segment.path.unlink()
        else:
            self._handed_over[segment.path] = segment.unstored
        os.close(segment.fd)  # releases the lock: whoever takes it next reads the lines back
        segment.fd = -1
        self._held.pop(segment.path, None)

    # -- replaying ----------------------------------------------------------------------

    def adopt_spool(self) -> None:
        """Bring in the spool file of earlier versions as a segment no one holds."""
        spool = self._home / LEGACY_SPOOL_FILE
        if not spool.exists():
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # One atomic rename: of several processes starting at once, one takes it.
            spool.rename(self.directory / f"spool-{self._name}{SEGMENT_SUFFIX}")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot move %s into the journal (%s): it is replayed at a later start", spool, exc)
            return
        log.info("replaying %s, left by an earlier version of offgate", spool)

    def unheld_segments(self) -> Iterator[UnheldSegment]:
        """The segments no live process holds, each locked for the caller until it calls
        `finish` (all stored: delete) or `release` (try again later)."""
        if fcntl is None:
            return
        try:
            paths = sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}"))
        except OSError:
            return
        with self._lock:  # ours would not lock anyway; no need to try
            own = set(self._held) | ({self._current.path} if self._current else set())
        for path in paths:
            if path in own:
                continue
            segment = UnheldSegment.take(path, self)
            if segment is not None:
                yield segment

    def has_handed_over(self) -> bool:
        """Whether segments this process handed over for replay are still waiting."""
        with self._lock:
            return any(path.exists() for path in self._handed_over)

    def _forget_handed_over(self, path: Path) -> None:
        with self._lock:
            self._handed_over.pop(path, None)

    def set_aside(self, source: Path, lines: list[tuple[bytes, str]]) -> None:
        """Keep lines that cannot be read for a person to look at (raises OSError if it cannot)."""
        append_private(self.rejected, b"".join(raw.rstrip(b"\n") + b"\n" for raw, _ in lines))
        reasons = sorted({reason for _, reason in lines})
        log.warning("set aside %d unreadable journal lines of %s in %s: %s", len(lines), source.name,
                    self.rejected, "; ".join(reasons))


def append_private(path: Path, data: bytes) -> None:
    """Append to a file only its owner may read: journal lines may hold prompt text."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def encode_line(line: dict[str, Any]) -> bytes:
    """One journal line, ASCII, newline included. orjson writes most lines (ASCII text,
    numbers) about ten times faster than the json module, on the proxy's event loop; the
    json module writes the rest: text beyond ASCII, as escapes, and what orjson refuses
    (lone surrogates, integers past 64 bits). The capture paths' numbers are all finite:
    orjson would write an infinite one as null."""
    import orjson  # here: the idle proxy does not hold it (its RSS, issue 17); a dict lookup after the first

    try:
        raw = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        if raw.isascii():
            return raw
    except orjson.JSONEncodeError:
        pass
    return (json.dumps(line, separators=(",", ":")) + "\n").encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def waiting_in_journal(home: Path) -> int:
    """How many lines wait in segments no live process holds (what the next replay stores)."""
    if fcntl is None:
        return 0
    waiting = 0
    for path in (home / JOURNAL_DIR).glob(f"*{SEGMENT_SUFFIX}"):
        try:
            with path.open("rb") as file:
                fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
                waiting += sum(1 for line in file if line.strip())
        except OSError:
            continue  # held by its process, or gone
    return waiting


class UnheldSegment:
    """A segment whose owner is gone, locked by this process while it is replayed."""

    def __init__(self, path: Path, fd: int, journal: Journal) -> None:
        self.path = path
        self._fd = fd
        self._journal = journal

    @classmethod
    def take(cls, path: Path, journal: Journal) -> UnheldSegment | None:
        if fcntl is None:
            return None  # nothing to lock it with
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None  # replayed and deleted meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Another process may have replayed and deleted it between the listing and the lock.
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise FileNotFoundError(path)
        except OSError:
            os.close(fd)
            return None
        return cls(path, fd, journal)

    def read(self) -> tuple[list[Entry], list[tuple[bytes, str]]]:
        """The entries, and the lines that cannot be read, each with the reason."""
        with os.fdopen(os.dup(self._fd), "rb") as file:
            content = file.read()
        entries: list[Entry] = []
        unreadable: list[tuple[bytes, str]] = []
        lines = content.split(b"\n")
        if lines[-1]:
            unreadable.append((lines[-1], "a line cut off by a crash while it was written"))
        for raw in lines[:-1]:
            if raw.strip():
                entry, reason = _entry_of(raw)
                if entry is not None:
                    entries.append(entry)
                else:
                    unreadable.append((raw, reason))
        return entries, unreadable

    def finish(self) -> None:
        """Everything in it is stored: delete it, then let go of the lock."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._journal._forget_handed_over(self.path)
        self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _entry_of(raw: bytes) -> tuple[Entry | None, str]:
    try:
        line = json.loads(raw)
    except ValueError:
        return None, "not JSON"
    if not isinstance(line, dict):
        return None, "not a JSON object"
    if "v" not in line:
        return Entry("event", line), ""  # spool.jsonl of earlier versions: one UsageEvent a line
    if line["v"] != FORMAT_VERSION:
        return None, f"journal format {line['v']!r}, this offgate reads {FORMAT_VERSION}"
    if not isinstance(line.get("kind"), str) or not isinstance(line.get("data"), dict):
        return None, "no kind or data"
    return Entry(line["kind"], line["data"]), ""
