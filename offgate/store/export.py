"""The export's tables: the records still to send to an OpenTelemetry receiver.

`export_outbox` holds the id of every record written since the export started, in order,
filled by a trigger on usage_event (analytics/export/outbox.py installs it when an export is
first configured), so a record is queued in the transaction that writes it, by whichever
process writes it (proxy, native host, the collector's ingest), however late its `ts` is.
`export_state` is a single row: present once the export started.
"""

from __future__ import annotations

from peewee import BigIntegerField, Database, DateTimeField, Model, PostgresqlDatabase, SchemaManager, TextField


class ExportOutboxRow(Model):
    """One record to export; `seq` orders them and is never reused."""

    seq = BigIntegerField(primary_key=True)
    event_id = TextField()

    class Meta:
        table_name = "export_outbox"


class ExportStateRow(Model):
    started_at = DateTimeField(primary_key=True)

    class Meta:
        table_name = "export_state"


# AUTOINCREMENT: SQLite would otherwise reuse the largest seq once the outbox is empty.
_OUTBOX_DDL = {
    "sqlite": "CREATE TABLE export_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL)",
    "postgresql": "CREATE TABLE export_outbox (seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL)",
}


def add_export_outbox(database: Database) -> None:
    SchemaManager(ExportStateRow, database).create_all()
    database.execute_sql(_OUTBOX_DDL["postgresql" if isinstance(database, PostgresqlDatabase) else "sqlite"])
