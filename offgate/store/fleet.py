"""The fleet's tables, in every store (a workstation's and the central one alike).

Central side (the collector's PostgreSQL): enrolment tokens and enrolled devices, each
with the hash of its credential, never the secret. Workstation side: the outbox, the
ids of records written or deleted since they were last pushed, and the quarantine, the
entries the collector refused (kept, counted, never pushed again). Outbox rows are added by
triggers on usage_event that `offgate enroll` installs (fleet/outbox.py), so they are
written in the transaction that writes the records, by whichever process writes them.
"""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    Database,
    DateTimeField,
    IntegerField,
    Model,
    PostgresqlDatabase,
    SchemaManager,
    TextField,
)
from playhouse.migrate import SchemaMigrator, migrate


class FleetTokenRow(Model):
    """An enrolment token: `id` is public (lists, logs), the secret is kept only as a hash."""

    id = TextField(primary_key=True)
    secret_hash = TextField(unique=True)
    created_at = DateTimeField()
    expires_at = DateTimeField(null=True)
    max_uses = IntegerField(null=True)
    uses = IntegerField()
    note = TextField(null=True)
    revoked_at = DateTimeField(null=True)

    class Meta:
        table_name = "fleet_token"


class FleetDeviceRow(Model):
    """An enrolled device. `name` is what its records are stored under; what it last said
    of itself (version, parts running, records pending) comes with every push. `outbox`
    and `acked_through` are the newest outbox position applied, so a push that arrives
    late (a retry overtaken by a newer one) is not applied twice or out of order."""

    id = TextField(primary_key=True)
    name = TextField(unique=True)
    owner = TextField(null=True)
    credential_hash = TextField(unique=True)
    token_id = TextField(null=True)
    enrolled_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    last_seen_at = DateTimeField(null=True)
    agent_version = TextField(null=True)
    running = TextField(null=True)  # JSON, as the agent reported it
    pending = BigIntegerField(null=True)
    quarantined = BigIntegerField(null=True)  # entries the collector refused, kept on the device
    records_stored = BigIntegerField()
    outbox = TextField(null=True)
    acked_through = BigIntegerField()

    class Meta:
        table_name = "fleet_device"


class _FleetDeviceRowV5(Model):
    """fleet_device as version 5 (add_fleet_tables) created it, frozen."""

    id = TextField(primary_key=True)
    name = TextField(unique=True)
    owner = TextField(null=True)
    credential_hash = TextField(unique=True)
    token_id = TextField(null=True)
    enrolled_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    last_seen_at = DateTimeField(null=True)
    agent_version = TextField(null=True)
    running = TextField(null=True)
    pending = BigIntegerField(null=True)
    records_stored = BigIntegerField()
    outbox = TextField(null=True)
    acked_through = BigIntegerField()

    class Meta:
        table_name = "fleet_device"


class FleetOutboxRow(Model):
    """One record to push (`deleted` false) or whose deletion to push (true), in order."""

    seq = BigIntegerField(primary_key=True)
    event_id = TextField()
    deleted = BooleanField()

    class Meta:
        table_name = "fleet_outbox"


class FleetQuarantineRow(Model):
    """An outbox entry the collector refused even alone (a record it cannot take): out of
    the outbox so the rest goes on, kept with the collector's reason for the user to see."""

    seq = BigIntegerField(primary_key=True)
    event_id = TextField()
    deleted = BooleanField()
    reason = TextField()
    quarantined_at = DateTimeField()

    class Meta:
        table_name = "fleet_quarantine"


class FleetAgentRow(Model):
    """This store's outbox: a single row, made when the triggers are installed. A store
    made afresh gets a new `outbox` id, which tells the collector its positions restart."""

    outbox = TextField(primary_key=True)
    created_at = DateTimeField()

    class Meta:
        table_name = "fleet_agent"


# Outbox positions must never be reused, even once the outbox is empty: SQLite reuses the
# largest rowid unless the key is AUTOINCREMENT, which peewee's fields do not declare.
_OUTBOX_DDL = {
    "sqlite": "CREATE TABLE fleet_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
              "event_id TEXT NOT NULL, deleted INTEGER NOT NULL)",
    "postgresql": "CREATE TABLE fleet_outbox (seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, "
                  "deleted BOOLEAN NOT NULL)",
}


def add_fleet_tables(database: Database) -> None:
    for model in (FleetTokenRow, _FleetDeviceRowV5, FleetAgentRow):
        SchemaManager(model, database).create_all()
    database.execute_sql(_OUTBOX_DDL["postgresql" if isinstance(database, PostgresqlDatabase) else "sqlite"])


def add_fleet_quarantine(database: Database) -> None:
    SchemaManager(FleetQuarantineRow, database).create_all()
    migrate(SchemaMigrator.from_database(database).add_column("fleet_device", "quarantined",
                                                              BigIntegerField(null=True)))
