"""The coaching table (offgate.store.coaching reads and writes it): one row per notice the
browser extension showed and per click on its link. No page text or URL is kept: the app, the
rule that coached, what happened, and who and where."""

from __future__ import annotations

from peewee import Database, DateTimeField, Model, SchemaManager, TextField


class CoachingEventRow(Model):
    """A coaching notice shown, or its alternative's link clicked. `id` is the extension's
    message id, so a message sent again is one row."""

    id = TextField(primary_key=True)
    at = DateTimeField(index=True)
    app = TextField()
    rule = TextField()
    kind = TextField()  # shown | clicked
    user = TextField(null=True)
    device = TextField(null=True)

    class Meta:
        table_name = "coaching_event"


def add_coaching_events(database: Database) -> None:
    SchemaManager(CoachingEventRow, database).create_all()
