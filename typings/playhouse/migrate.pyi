# Types for the part of peewee's playhouse.migrate that offgate's store uses: playhouse ships none.

from typing import Any

from peewee import Database, Field

class Operation:
    def run(self) -> None: ...

class SchemaMigrator:
    database: Database
    @classmethod
    def from_database(cls, database: Database) -> SchemaMigrator: ...
    def add_column(self, table: str, column_name: str, field: Field[Any]) -> Operation: ...
    def drop_not_null(self, table: str, column: str) -> Operation: ...

def migrate(*operations: Operation, **kwargs: Any) -> None: ...
