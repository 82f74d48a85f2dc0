"""On a workstation: the records waiting to be pushed, a table in the local store.

Triggers on usage_event add an outbox entry for every record inserted, updated (witnesses
added, a coding agent's session grown: the collector takes the newer state) and deleted (the
proxy's record replacing the extension's), so an entry is written in the very transaction
that writes the record, by whichever process writes it (proxy, native host, imports), and
the Store needs no part in it. Only an enrolled store has the
triggers: a store that is not enrolled pays nothing. Entries are numbered in order and the
numbers are never reused; the push sends them oldest first and deletes them once the
collector acknowledged them. An entry the collector refuses even alone moves to the
quarantine (kept, with the collector's reason) so the entries after it go on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from peewee import JOIN, PostgresqlDatabase

from offgate.store import Store
from offgate.store.fleet import FleetAgentRow, FleetOutboxRow, FleetQuarantineRow
from offgate.store.schema import UsageEventRow

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS fleet_outbox_put AFTER INSERT ON usage_event "
    "BEGIN INSERT INTO fleet_outbox (event_id, deleted) VALUES (NEW.id, 0); END",
    "CREATE TRIGGER IF NOT EXISTS fleet_outbox_delete AFTER DELETE ON usage_event "
    "BEGIN INSERT INTO fleet_outbox (event_id, deleted) VALUES (OLD.id, 1); END",
    "CREATE TRIGGER IF NOT EXISTS fleet_outbox_update AFTER UPDATE ON usage_event "
    "BEGIN INSERT INTO fleet_outbox (event_id, deleted) VALUES (NEW.id, 0); END",
)
_POSTGRES_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION fleet_outbox_note() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO fleet_outbox (event_id, deleted) VALUES (OLD.id, true);
        ELSE
            INSERT INTO fleet_outbox (event_id, deleted) VALUES (NEW.id, false);
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE OR REPLACE TRIGGER fleet_outbox_note AFTER INSERT OR UPDATE OR DELETE ON usage_event "
    "FOR EACH ROW EXECUTE FUNCTION fleet_outbox_note()",
)
_EVENT_FIELDS = UsageEventRow._meta.sorted_fields  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Quarantine:
    entries: int
    newest_reason: str | None


@dataclass
class OutboxBatch:
    """The oldest entries, as the wire's Batch wants them: the records still stored (as
    JSON-ready dicts) and the deletions, each with its position; an id's last entry wins."""

    records: list[dict[str, Any]] = field(default_factory=list)
    record_seqs: list[int] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    entries: int = 0


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def start(self) -> str:
        """Begin recording for a new enrolment: a new outbox id, the triggers, and every
        record stored so far, in one transaction (so a record written meanwhile is in it
        once). Entries still waiting or quarantined from an earlier enrolment are dropped: all
        is sent anew."""
        with self._store.reporting("start the fleet outbox in"), self._db.atomic():
            for table in (FleetAgentRow, FleetOutboxRow, FleetQuarantineRow):
                table.delete().execute(self._db)
            outbox = self._create()
        return outbox

    def ensure(self) -> str:
        """The outbox id, with the triggers in place. A store made anew since enrolment
        (its outbox is gone) starts one, with every record it holds."""
        with self._store.reporting("check the fleet outbox in"), self._db.atomic():
            outbox = FleetAgentRow.select(FleetAgentRow.outbox).scalar(self._db)
            if outbox is None:
                return self._create()
            self._install_triggers()
        return outbox

    def _create(self) -> str:
        outbox = uuid.uuid4().hex
        FleetAgentRow.insert(outbox=outbox, created_at=_utc_now()).execute(self._db)
        self._install_triggers()
        row = UsageEventRow
        FleetOutboxRow.insert_from(row.select(row.id, False).order_by(row.ts, row.id),
                                   [FleetOutboxRow.event_id, FleetOutboxRow.deleted]).execute(self._db)
        return outbox

    def _install_triggers(self) -> None:
        postgres = isinstance(self._db, PostgresqlDatabase)
        for statement in _POSTGRES_TRIGGERS if postgres else _SQLITE_TRIGGERS:
            self._db.execute_sql(statement)

    def is_started(self) -> bool:
        with self._store.reporting("read the fleet outbox in"):
            return FleetAgentRow.select().exists(self._db)

    def read(self, limit: int) -> OutboxBatch:
        """The oldest `limit` entries."""
        entry, row = FleetOutboxRow, UsageEventRow
        query = (entry.select(entry.seq, entry.event_id, entry.deleted, *_EVENT_FIELDS)
                 .join(row, JOIN.LEFT_OUTER, on=(row.id == entry.event_id))
                 .order_by(entry.seq).limit(limit))
        with self._store.reporting("read the fleet outbox in"):
            rows = list(query.tuples().execute(self._db))
        batch = OutboxBatch(entries=len(rows), last_seq=rows[-1][0] if rows else 0)
        last_entry = {event_id: index for index, (_, event_id, *_) in enumerate(rows)}
        for index, (seq, event_id, deleted, *values) in enumerate(rows):
            if last_entry[event_id] != index:
                continue  # a later entry of this batch says what became of it
            if deleted:
                batch.deletions.append({"seq": seq, "id": event_id})
            elif values[0] is not None:  # still stored (else deleted since: a later entry says so)
                batch.records.append(_record(values))
                batch.record_seqs.append(seq)
        return batch

    def acknowledge(self, through_seq: int) -> None:
        """The collector has every entry up to `through_seq`: they need not wait any longer."""
        with self._store.reporting("update the fleet outbox in"):
            FleetOutboxRow.delete().where(FleetOutboxRow.seq <= through_seq).execute(self._db)

    def quarantine(self, seq: int, reason: str) -> None:
        """Move the entry at `seq` out of the outbox, keeping it and why the collector refused it."""
        entry = FleetOutboxRow
        with self._store.reporting("quarantine a fleet outbox entry in"), self._db.atomic():
            found = entry.select(entry.event_id, entry.deleted).where(entry.seq == seq).tuples().first(self._db)
            if found is None:
                return
            event_id, deleted = found
            FleetQuarantineRow.insert(seq=seq, event_id=event_id, deleted=deleted, reason=reason,
                                      quarantined_at=_utc_now()).execute(self._db)
            entry.delete().where(entry.seq == seq).execute(self._db)

    def quarantined(self) -> Quarantine:
        row = FleetQuarantineRow
        with self._store.reporting("count the fleet quarantine in"):
            entries = row.select().count(self._db)
            newest = row.select(row.reason).order_by(row.seq.desc()).scalar(self._db) if entries else None
        return Quarantine(entries, newest)

    def pending(self) -> int:
        with self._store.reporting("count the fleet outbox in"):
            return FleetOutboxRow.select().count(self._db)

    def last_records(self) -> dict[str, datetime | None]:
        """The time of the newest record of each capture path (the ts index, read from its end)."""
        row = UsageEventRow
        newest: dict[str, datetime | None] = {}
        with self._store.reporting("read the newest records in"):
            for source in ("proxy", "extension"):
                found = row.select(row.ts).where(row.source == source).order_by(row.ts.desc()).first(self._db)
                newest[source] = None if found is None else found.ts.replace(tzinfo=UTC)
        return newest


def _record(values: list[Any]) -> dict[str, Any]:
    record = {field.name: value for field, value in zip(_EVENT_FIELDS, values, strict=True)}
    record["ts"] = record["ts"].isoformat() + "Z"
    return record


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
