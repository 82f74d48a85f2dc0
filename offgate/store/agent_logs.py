"""Coding agents' own usage logs, in offgate's store: how far each log file was read, and
their calls written as records.

A file is known by a hash of its path, never the path (it lies under a user's home). An
agent may write one call's usage on several lines as the reply streams (Claude Code does),
and a scan can fall between two of them: a later line with more tokens than the record
stored replaces its counts, as ccusage keeps the largest. A scan saves many files' records
at once (a first scan of thousands of files is a few large transactions, not one per file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import EXCLUDED, Database, chunked, fn

from offgate.events import UsageEvent
from offgate.store.core import Store
from offgate.store.schema import AgentLogFileRow, UsageEventRow
from offgate.store.sql import naive_utc

LOOKUP_IDS = 500  # ids per lookup or delete (SQLite binds at most 32766 parameters)
POSITION_ROWS = 500  # read positions per upsert, 9 columns each
COUNTS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
          "cost_usd", "cost_note")


@dataclass(frozen=True, slots=True)
class FilePosition:
    """Where the last read of one file stopped, and what identified the file then."""

    inode: int
    size: int
    offset: int
    head_hash: str
    state: str | None = None


@dataclass(frozen=True, slots=True)
class FileRecords:
    """What one read of a file gave: its records, the ids of those an earlier read took from it
    that it no longer holds (a reader that reads whole files may withdraw them), and where it stopped."""

    key: str
    position: FilePosition
    events: Sequence[UsageEvent]
    withdrawn: Sequence[str] = ()


class AgentLogStore:
    """Read positions and agent-log records, in the tables of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def positions(self, agent: str) -> dict[str, FilePosition]:
        """Each known file of `agent`, by its key."""
        row = AgentLogFileRow
        with self._store.reporting("read agent log positions"):
            query = row.select().where(row.agent == agent).tuples()
            return {
                key: FilePosition(inode, size, offset, head_hash, state)
                for key, _agent, inode, size, offset, head_hash, state, _records, _read_at
                in query.execute(self._store.database)
            }

    def save(self, agent: str, files: Sequence[FileRecords], read_at: datetime) -> int:
        """Store the records read from these files, withdraw those they no longer hold, and note
        where each read stopped, in one transaction (so a crash between the two can neither lose
        nor double a call); returns how many records were added."""
        if not files:
            return 0
        database = self._store.database
        with self._store.reporting("store agent log records"), database.atomic():
            withdrawn = {file.key: _withdraw(database, file.withdrawn) for file in files if file.withdrawn}
            added = _add_or_grow(self._store, files)
            row = AgentLogFileRow
            rows = [dict(id=file.key, agent=agent, inode=file.position.inode, size=file.position.size,
                         offset=file.position.offset, head_hash=file.position.head_hash, state=file.position.state,
                         records=added[file.key] - withdrawn.get(file.key, 0), read_at=naive_utc(read_at))
                    for file in files]
            for batch in chunked(rows, POSITION_ROWS):
                row.insert_many(batch).on_conflict(
                    conflict_target=[row.id],
                    update={row.inode: EXCLUDED.inode, row.size: EXCLUDED.size, row.offset: EXCLUDED.offset,
                            row.head_hash: EXCLUDED.head_hash, row.state: EXCLUDED.state,
                            row.records: row.records + EXCLUDED.records, row.read_at: EXCLUDED.read_at},
                ).execute(database)
        return sum(added.values())

    def summary(self) -> list[dict[str, object]]:
        """Per agent: files read, records taken from them, and the last read (naive UTC)."""
        row = AgentLogFileRow
        with self._store.reporting("read agent log positions"):
            query = (row.select(row.agent, fn.COUNT(row.id), fn.SUM(row.records),
                                fn.MAX(row.read_at).python_value(row.read_at.python_value))
                     .group_by(row.agent).order_by(row.agent).tuples())
            return [{"agent": agent, "files": int(files), "records": int(records or 0), "last_read": last}
                    for agent, files, records, last in query.execute(self._store.database)]


def _add_or_grow(store: Store, files: Sequence[FileRecords]) -> dict[str, int]:
    """Add the files' records, each id once (its largest counts); a record stored already with
    fewer tokens grows to its counts. Returns how many were added per file (the file that first
    gave a record's id)."""
    largest: dict[str, tuple[str, UsageEvent]] = {}
    for file in files:
        for event in file.events:
            first = largest.get(event.id)
            if first is None or _total(event) > _total(first[1]):
                largest[event.id] = (first[0] if first else file.key, event)
    database = store.database
    row = UsageEventRow
    stored: dict[str, int] = {}
    for batch in chunked(list(largest), LOOKUP_IDS):
        query = row.select(row.id, fn.COALESCE(row.prompt_tokens, 0) + fn.COALESCE(row.completion_tokens, 0))
        stored.update(query.where(row.id.in_(batch)).tuples().execute(database))
    for event_id, (_key, event) in largest.items():
        if event_id in stored and _total(event) > stored[event_id]:
            (row.update({getattr(row, name): getattr(event, name) for name in COUNTS})
             .where(row.id == event_id, row.source == event.source).execute(database))
    fresh = {event_id: found for event_id, found in largest.items() if event_id not in stored}
    added = dict.fromkeys((file.key for file in files), 0)
    inserted = store.add([event for _key, event in fresh.values()])
    if inserted < len(fresh):  # some were another capture path's record of a call already recorded
        kept: set[str] = set()
        for batch in chunked(list(fresh), LOOKUP_IDS):
            kept.update(event_id for (event_id,) in row.select(row.id).where(row.id.in_(batch)).tuples()
                        .execute(database))
        fresh = {event_id: found for event_id, found in fresh.items() if event_id in kept}
    for key, _event in fresh.values():
        added[key] += 1
    return added


def _withdraw(database: Database, record_ids: Sequence[str]) -> int:
    """Delete the agent-log records a file no longer holds; how many there were."""
    row = UsageEventRow
    return sum(row.delete().where(row.id.in_(batch), row.source == "agent-log").execute(database)
               for batch in chunked(record_ids, LOOKUP_IDS))


def _total(event: UsageEvent) -> int:
    return (event.prompt_tokens or 0) + (event.completion_tokens or 0)
