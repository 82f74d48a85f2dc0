"""Coding agents' own usage logs, in offgate's store: how far each log file was read, and
their calls written as records.

A file is known by a hash of its path, never the path (it lies under a user's home). An
agent may write one call's usage on several lines as the reply streams (Claude Code does),
and a scan can fall between two of them: a later line with more tokens than the record
stored replaces its counts, as ccusage keeps the largest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import EXCLUDED, fn

from offgate.events import UsageEvent
from offgate.store.core import Store
from offgate.store.schema import AgentLogFileRow, UsageEventRow
from offgate.store.sql import naive_utc

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

    def save(self, agent: str, key: str, position: FilePosition, events: Sequence[UsageEvent],
             read_at: datetime) -> int:
        """Store the events read from one file and where the read stopped, in one
        transaction (so a crash between the two can neither lose nor double a call);
        returns how many records were added."""
        database = self._store.database
        with self._store.reporting("store agent log records"), database.atomic():
            added = _add_or_grow(self._store, events)
            row = AgentLogFileRow
            values = dict(id=key, agent=agent, inode=position.inode, size=position.size, offset=position.offset,
                          head_hash=position.head_hash, state=position.state, records=added,
                          read_at=naive_utc(read_at))
            row.insert(**values).on_conflict(
                conflict_target=[row.id],
                update={row.inode: position.inode, row.size: position.size, row.offset: position.offset,
                        row.head_hash: position.head_hash, row.state: position.state,
                        row.records: row.records + EXCLUDED.records, row.read_at: naive_utc(read_at)},
            ).execute(database)
        return added

    def summary(self) -> list[dict[str, object]]:
        """Per agent: files read, records taken from them, and the last read (naive UTC)."""
        row = AgentLogFileRow
        with self._store.reporting("read agent log positions"):
            query = (row.select(row.agent, fn.COUNT(row.id), fn.SUM(row.records),
                                fn.MAX(row.read_at).python_value(row.read_at.python_value))
                     .group_by(row.agent).order_by(row.agent).tuples())
            return [{"agent": agent, "files": int(files), "records": int(records or 0), "last_read": last}
                    for agent, files, records, last in query.execute(self._store.database)]


def _add_or_grow(store: Store, events: Sequence[UsageEvent]) -> int:
    """Add the events; one whose id is stored already with fewer tokens grows to its counts."""
    added = store.add(events)
    if added == len(events):
        return added
    row = UsageEventRow
    database = store.database
    for event in events:
        total = (event.prompt_tokens or 0) + (event.completion_tokens or 0)
        (row.update({getattr(row, name): getattr(event, name) for name in COUNTS})
         .where(row.id == event.id, row.source == event.source,
                fn.COALESCE(row.prompt_tokens, 0) + fn.COALESCE(row.completion_tokens, 0) < total)
         .execute(database))
    return added
