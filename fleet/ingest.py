"""One pushed batch into the central PostgreSQL, whole or not at all.

The records are stamped with the sending device's name (whatever device they name: a
device can only write its own records) and, when they name no user, with its owner.

Most batches are records new to the store: when an index lookup finds none of the batch's ids
stored, they are COPied straight into usage_event as CSV (PostgreSQL reads CSV for about half
of what unpacking the same records from JSON cost it, and COPY skips the upsert's speculative
insertion), in id order so that concurrent writers meet on the same id first instead of
deadlocking. A record that a concurrent push stored meanwhile makes the COPY fail on the
primary key: its savepoint is rolled back and the batch takes the general path. That path
(and any batch holding an id stored already) sends the records as one JSON array (rendered by
pydantic's core), unpacked by json_populate_recordset into one INSERT ... ON CONFLICT (id) DO
UPDATE, so a record pushed twice is stored once and a record changed since (witnesses added,
a session grown) is updated, the newer state winning. Deletions (the agent's store replaced a
record, see offgate.same_call) remove only the sender's own records. The device row is
locked for the transaction and keeps the newest outbox position applied: entries at or
before it were applied by an earlier push (one retried, or arriving late) and are
skipped, so a late retry never brings back a record deleted since.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
import psycopg2
import psycopg2.errors
from peewee import Database
from pydantic import TypeAdapter

from fleet.registry import Device, utc_now
from fleet.wire import Acknowledgement, AgentReport, Batch, PushedRecord
from offgate.store import Store, naive_utc
from offgate.store.schema import UsageEventRow

COLUMNS = tuple(field.column_name for field in UsageEventRow._meta.sorted_fields)  # type: ignore[attr-defined]
_COLUMN_LIST = ", ".join(f'"{column}"' for column in COLUMNS)
# The row type the JSON is read as: usage_event's, but ts keeps the offset each record gave.
_INCOMING_TYPE = """DO $$ BEGIN
    IF to_regclass('pg_temp.fleet_incoming') IS NULL THEN
        CREATE TEMPORARY TABLE fleet_incoming (LIKE usage_event);
        ALTER TABLE fleet_incoming ALTER COLUMN ts TYPE timestamptz;
    END IF;
END $$"""
_STAMPED = {"ts": "r.ts AT TIME ZONE 'UTC'", "device": "%(device)s", "user": 'COALESCE(r."user", %(owner)s)'}
_VALUES = ", ".join(_STAMPED.get(column, f'r."{column}"') for column in COLUMNS)
_UPDATES = ", ".join(f'"{column}" = excluded."{column}"' for column in COLUMNS if column != "id")
# A record pushed again after it changed on the device replaces the stored one, only if that is
# the sender's own and differs (an unchanged retry touches nothing); of one id twice in a batch,
# the later wins. RETURNING tells records new to the store from records updated.
_UPSERT = (f"INSERT INTO usage_event ({_COLUMN_LIST}) SELECT DISTINCT ON (r.id) {_VALUES} "
           "FROM json_populate_recordset(NULL::fleet_incoming, %(records)s) WITH ORDINALITY AS r "
           f"ORDER BY r.id, r.ordinality DESC ON CONFLICT (id) DO UPDATE SET {_UPDATES} "
           "WHERE usage_event.device = excluded.device AND (usage_event.*) IS DISTINCT FROM (excluded.*) "
           "RETURNING xmax = 0")
_RECORDS = TypeAdapter(list[PushedRecord])
# The fast path's CSV is each record's values as orjson writes a JSON array, which COPY's CSV
# reads as they were (strings quoted, \" and \\ escaped, null, true, false and numbers bare),
# but for the other escapes JSON has (control characters): a batch with one takes the general path.
_COPIED = tuple(column for column in COLUMNS if column != "device")  # the sender's name is added to each line
_COPY = (f"COPY usage_event ({', '.join(f'"{column}"' for column in _COPIED)}, \"device\") FROM STDIN "
         "WITH (FORMAT csv, NULL 'null', ESCAPE '\\')")
_COPY_VALUES = attrgetter(*_COPIED)
_USER, _TS = _COPIED.index("user"), _COPIED.index("ts")


class RecordsRefused(Exception):
    """The database refused a value of the batch (a NUL in a text, say): nothing was stored."""


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
        fresh = [record for seq, record in zip(batch.record_seqs, batch.records, strict=True) if seq > acked]
        try:
            stored = _store(db, fresh, device)
        except psycopg2.DataError as exc:
            raise RecordsRefused(f"the database refused a value: {' '.join(str(exc).split())}") from None
        doomed = [deletion.id for deletion in batch.deletions if deletion.seq > acked]
        deleted = _delete(cursor, doomed, device)
        seqs = [*batch.record_seqs, *(deletion.seq for deletion in batch.deletions)]
        newest = max([acked, *seqs])
        _note_push(cursor, device, batch.outbox, newest, batch.agent, stored - deleted)
        impersonated = _enrolled(cursor, claimed)
    acknowledgement = Acknowledgement(
        device=device.name, stored=stored, already_stored=len(fresh) - stored, deleted=deleted,
        skipped=len(seqs) - len(fresh) - len(doomed),
        restamped=sum(record.device != device.name for record in batch.records), acked_through=newest)
    return Applied(acknowledgement, impersonated)


def _lock_position(cursor: Any, device: Device) -> _Position:
    cursor.execute("SELECT outbox, acked_through FROM fleet_device WHERE id = %s FOR UPDATE", (device.id,))
    outbox, acked_through = cursor.fetchone()
    return _Position(outbox, acked_through)


def _store(db: Database, records: list[PushedRecord], device: Device) -> int:
    """Store or update the records; returns how many are new to the store."""
    if not records:
        return 0
    cursor = db.cursor()
    latest = {record.id: record for record in records}  # of one id twice, the later wins
    if not _any_stored(cursor, list(latest)):
        text = _copy_csv(sorted(latest.values(), key=attrgetter("id")), device)
        if text is not None:
            try:
                with db.atomic():  # a savepoint: a failed COPY is undone, the transaction goes on
                    cursor.copy_expert(_COPY, io.BytesIO(text))
                return len(latest)
            except psycopg2.errors.UniqueViolation:
                pass  # a concurrent push stored one of them meanwhile
    return _upsert(cursor, records, device)


def _any_stored(cursor: Any, ids: list[str]) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM usage_event WHERE id = ANY(%s))", (ids,))
    return cursor.fetchone()[0]


def _copy_csv(records: list[PushedRecord], device: Device) -> bytes | None:
    """The records, stamped, as _COPY reads them; None when only the general path can store
    them (a text with a control character, a number past 64 bits: orjson escapes or refuses)."""
    device_field = b"," + orjson.dumps(device.name) + b"\n"
    lines = []
    try:
        for record in records:
            values = _COPY_VALUES(record)
            # A UTC time is written with its +00:00, which PostgreSQL drops reading a timestamp: only another
            # offset is worked out here.
            if values[_USER] is None or values[_TS].utcoffset():
                values = list(values)
                if values[_USER] is None:
                    values[_USER] = device.owner
                values[_TS] = naive_utc(values[_TS])
            lines.append(orjson.dumps(values)[1:-1])  # a JSON array less its brackets: a CSV line
    except orjson.JSONEncodeError:
        return None
    text = device_field.join(lines) + device_field
    return text if b"\\" not in text or _only_csv_escapes(text) else None


def _only_csv_escapes(text: bytes) -> bool:
    """Whether the JSON escapes in `text` are all of a quote or a backslash (COPY's CSV reads
    those two with ESCAPE '\\'), none of a control character."""
    unpaired = text.replace(b"\\\\", b"")  # JSON reads a run of backslashes in pairs from its start
    return unpaired.count(b"\\") == unpaired.count(b'\\"')


def _upsert(cursor: Any, records: list[PushedRecord], device: Device) -> int:
    """The general path: inserts, and updates of the sender's own records that changed."""
    cursor.execute(_INCOMING_TYPE)
    cursor.execute("SET LOCAL TimeZone = 'UTC'")  # a time the agent gave without an offset is UTC
    # A value left out is NULL to json_populate_recordset: omitting the many NULLs is less JSON to parse.
    cursor.execute(_UPSERT, {"device": device.name, "owner": device.owner,
                             "records": _RECORDS.dump_json(records, exclude_none=True).decode()})
    return sum(inserted for (inserted,) in cursor.fetchall())


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
        "running = %s, pending = %s, quarantined = %s, records_stored = records_stored + %s WHERE id = %s",
        (outbox, acked_through, utc_now(), agent.version, json.dumps(running), agent.pending, agent.quarantined,
         stored_change, device.id))


def _enrolled(cursor: Any, names: set[str]) -> list[str]:
    if not names:
        return []
    cursor.execute("SELECT name FROM fleet_device WHERE name = ANY(%s) ORDER BY name", (sorted(names),))
    return [name for (name,) in cursor.fetchall()]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else naive_utc(moment).isoformat() + "Z"
