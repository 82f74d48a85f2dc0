"""The workstation scans' tables (offgate.store.workstation reads and writes them).

Nothing here holds a command line, a path or a key: apps by name and the id their IDE or
package manager gives them, history files by a hash of their path, keys by fingerprint.
"""

from __future__ import annotations

from peewee import BigIntegerField, Database, DateField, DateTimeField, DoubleField, Model, SchemaManager, TextField


class WorkstationAppRow(Model):
    """One app found one way on one device: `found_in` says where (process, vscode, cursor,
    jetbrains, desktop-entry, macos-app, windows-uninstall, ...), `item` what it was found as
    there (a process name, an extension or plugin id, a bundle), never a path."""

    id = TextField(primary_key=True)
    device = TextField()
    user = TextField(null=True)
    app = TextField(index=True)
    kind = TextField()
    found_in = TextField()
    item = TextField()
    version = TextField(null=True)
    first_seen = DateTimeField(index=True)
    last_seen = DateTimeField()

    class Meta:
        table_name = "workstation_app"


class AppUsageDayRow(Model):
    """A running app's CPU seconds and peak resident memory (its processes together) on one UTC day."""

    id = TextField(primary_key=True)
    day = DateField(index=True)
    device = TextField()
    user = TextField(null=True)
    app = TextField()
    cpu_seconds = DoubleField()
    peak_memory_bytes = BigIntegerField()
    samples = BigIntegerField()

    class Meta:
        table_name = "workstation_app_day"


class AppProcessRow(Model):
    """The CPU time a process had at the last scan, so the next one counts only what it used since."""

    id = TextField(primary_key=True)  # device, pid and start time
    device = TextField()
    cpu_seconds = DoubleField()
    seen_at = DateTimeField()

    class Meta:
        table_name = "workstation_process"


class ShellToolDayRow(Model):
    """How many times a shell ran an AI tool on one UTC day."""

    id = TextField(primary_key=True)
    day = DateField(index=True)
    device = TextField()
    user = TextField(null=True)
    shell = TextField()
    tool = TextField()
    runs = BigIntegerField()

    class Meta:
        table_name = "shell_tool_day"


class ShellHistoryFileRow(Model):
    """Where a history file was read up to: the offset, a hash of the bytes just before it (to
    find the place again once the shell rewrote the file) and the newest entry time counted."""

    id = TextField(primary_key=True)  # a hash of the device and the file's path
    offset = BigIntegerField()
    anchor = TextField()
    last_entry_ts = DoubleField(null=True)
    read_at = DateTimeField()

    class Meta:
        table_name = "shell_history_file"


class ShellKeyFindingRow(Model):
    """A provider key typed in a shell, by its salted fingerprint only."""

    id = TextField(primary_key=True)  # device and fingerprint
    device = TextField()
    user = TextField(null=True)
    provider = TextField(null=True)
    key_fingerprint = TextField()
    times = BigIntegerField()
    first_seen = DateTimeField()
    last_seen = DateTimeField()
    message = TextField()

    class Meta:
        table_name = "shell_key_finding"


WORKSTATION_TABLES = (WorkstationAppRow, AppUsageDayRow, AppProcessRow, ShellToolDayRow, ShellHistoryFileRow,
                      ShellKeyFindingRow)


def add_workstation_tables(database: Database) -> None:
    for model in WORKSTATION_TABLES:
        SchemaManager(model, database).create_all()
