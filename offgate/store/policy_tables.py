"""The central policy's tables (offgate.store.policies reads and writes them).

Central side: every policy an admin set (`offgate fleet policy set`), newest in force, so
the history says who changed it when. Workstation side: the one central policy the agent
fetched and validated, kept so it applies across restarts and while offline.
"""

from __future__ import annotations

from peewee import AutoField, Database, DateTimeField, IntegerField, Model, SchemaManager, TextField


class CentralPolicyRow(Model):
    """A policy set centrally. `document` is the `[policy]` settings the file set, as JSON
    (None: the central policy was cleared); `version` changes whenever the policy does."""

    id = AutoField()
    version = TextField(unique=True)
    document = TextField(null=True)
    set_at = DateTimeField()
    set_by = TextField()

    class Meta:
        table_name = "central_policy"


class AgentPolicyRow(Model):
    """The central policy this workstation applies: one row (id 1), replaced on each change."""

    id = IntegerField(primary_key=True)
    version = TextField()
    document = TextField(null=True)
    received_at = DateTimeField()

    class Meta:
        table_name = "agent_policy"


def add_policy_tables(database: Database) -> None:
    for model in (CentralPolicyRow, AgentPolicyRow):
        SchemaManager(model, database).create_all()
