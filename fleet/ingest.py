"""One pushed batch into the central PostgreSQL, whole or not at all.

The records are stamped with the sending device's name (whatever device they name: a
device can only write its own records) and, when they name no user, with its owner. They
go in with one multi-row INSERT ... ON CONFLICT (id) DO NOTHING, so a record pushed twice
is stored once. Deletions (the agent's store replaced a record, see offgate.same_call)
remove only the sender's own records. The device row is locked for the transaction and
keeps the newest outbox position applied: entries at or before it were applied by an
earlier push (one that was retried, or that arrived late) and are skipped, so a late
retry can never bring back a record deleted since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2.extras import execute_values

from fleet.registry import Device, utc_now
from fleet.wire import Acknowledgement, AgentReport, Batch
from offgate.events import UsageEvent
from offgate.store import Store, naive_utc
from offgate.store_schema import UsageEventRow

COLUMNS = tuple(field.column_name for field in UsageEventRow._meta.sorted_fields)  # type: ignore[attr-defined]
_TS, _DEVICE, _USER = (COLUMNS.index(name) for name in ("ts", "device", "user"))
_INSERT = (f"INSERT INTO usage_event ({', '.join(f'"{column}"' for column in COLUMNS)}) VALUES %s "
           "ON CONFLICT (id) DO NOTHING")


@dataclass(frozen=True, slots=True)
class Applied:
    acknowledgement: Acknowledgement
    impersonated: list[str]  # other enrolled devices' names that records of this batch gave


@dataclass(frozen=True, slots=True)
class _Position:
    outbox: str | None
    acked_through: int


def apply_batch(store: Store, device: Device, batch: Batch) -> Applied:
    db = store.database
    claimed = {record.device for record in batch.records if record.device} - {device.name}
    with store.reporting("store a pushed batch in"), db.atomic():
        cursor = db.cursor()
        position = _lock_position(cursor, device)
        acked = position.acked_through if position.outbox == batch.outbox else 0  # a new outbox starts over
        rows = [_row(record, device) for seq, record in zip(batch.record_seqs, batch.records, strict=True)
                if seq > acked]
        stored = _insert(cursor, rows)
        doomed = [deletion.id for deletion in batch.deletions if deletion.seq > acked]
        deleted = _delete(cursor, doomed, device)
        seqs = [*batch.record_seqs, *(deletion.seq for deletion in batch.deletions)]
        newest = max([acked, *seqs])
        _note_push(cursor, device, batch.outbox, newest, batch.agent, stored - deleted)
        impersonated = _enrolled(cursor, claimed)
    acknowledgement = Acknowledgement(
        device=device.name, stored=stored, already_stored=len(rows) - stored, deleted=deleted,
        skipped=len(seqs) - len(rows) - len(doomed),
        restamped=sum(record.device != device.name for record in batch.records), acked_through=newest)
    return Applied(acknowledgement, impersonated)


def _lock_position(cursor: Any, device: Device) -> _Position:
    cursor.execute("SELECT outbox, acked_through FROM fleet_device WHERE id = %s FOR UPDATE", (device.id,))
    outbox, acked_through = cursor.fetchone()
    return _Position(outbox, acked_through)


def _row(record: UsageEvent, device: Device) -> tuple[Any, ...]:
    fields = record.__dict__
    row = [fields[column] for column in COLUMNS]
    row[_TS] = naive_utc(record.ts)
    row[_DEVICE] = device.name
    if row[_USER] is None:
        row[_USER] = device.owner
    return tuple(row)


def _insert(cursor: Any, rows: list[tuple[Any, ...]]) -> int:
    if not rows:
        return 0
    # One statement for the whole batch, so rowcount counts every row it inserted.
    execute_values(cursor, _INSERT, rows, page_size=len(rows))
    return cursor.rowcount


def _delete(cursor: Any, ids: list[str], device: Device) -> int:
    if not ids:
        return 0
    cursor.execute('DELETE FROM usage_event WHERE id = ANY(%s) AND "device" = %s', (ids, device.name))
    return cursor.rowcount


def _note_push(cursor: Any, device: Device, outbox: str, acked_through: int, agent: AgentReport,
               stored_change: int) -> None:
    running = {**agent.running, "last_records": {source: _iso(moment) for source, moment in agent.last_records.items()}}
    cursor.execute(
        "UPDATE fleet_device SET outbox = %s, acked_through = %s, last_seen_at = %s, agent_version = %s, "
        "running = %s, pending = %s, records_stored = records_stored + %s WHERE id = %s",
        (outbox, acked_through, utc_now(), agent.version, json.dumps(running), agent.pending, stored_change,
         device.id))


def _enrolled(cursor: Any, names: set[str]) -> list[str]:
    if not names:
        return []
    cursor.execute("SELECT name FROM fleet_device WHERE name = ANY(%s) ORDER BY name", (sorted(names),))
    return [name for (name,) in cursor.fetchall()]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else naive_utc(moment).isoformat() + "Z"
