"""peewee without its PostgreSQL drivers until a PostgreSQL store is opened.

peewee and playhouse.migrate import psycopg2 and psycopg (3) when they are imported, about
16 MB and 0.7 s that a proxy recording to SQLite never uses (issue 17: the proxy runs all
day on every workstation). So both are imported here with the drivers hidden, and
`PostgresqlDatabase` hands peewee psycopg2 when the first one is made. offgate speaks to
PostgreSQL through psycopg2 only (peewee prefers it when both are installed), and what
playhouse would have set up with them (hstore) offgate does not use.

Every module of the store imports peewee after this one: the package's __init__ imports it
first. If peewee was imported before (by another package), this changes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

_DRIVERS = ("psycopg2", "psycopg", "psycopg2cffi")


@contextmanager
def _hidden(names: tuple[str, ...]) -> Generator[None]:
    """Make `import NAME` fail inside the block (a None in sys.modules does that)."""
    saved = {name: sys.modules[name] for name in names if name in sys.modules}
    for name in names:
        sys.modules[name] = None  # pyright: ignore[reportArgumentType]
    try:
        yield
    finally:
        for name in names:
            del sys.modules[name]
        sys.modules.update(saved)


if "peewee" not in sys.modules:
    with _hidden(_DRIVERS):
        import peewee
        import playhouse.migrate  # noqa: F401  # pyright: ignore[reportUnusedImport] - imported now, drivers hidden
else:
    import peewee


def _load_psycopg2() -> None:
    """Give peewee what it would have found at import: psycopg2, its extensions and Json."""
    if getattr(peewee, "psycopg2", None) is not None:
        return
    import psycopg2
    import psycopg2.extensions
    import psycopg2.extras

    extras: Any = psycopg2.extras  # psycopg2 ships no types
    extras.register_uuid()  # as peewee does on import
    peewee.psycopg2 = psycopg2  # pyright: ignore[reportAttributeAccessIssue]
    peewee.pg_extensions = psycopg2.extensions  # pyright: ignore[reportAttributeAccessIssue]
    peewee.Json_pg2 = psycopg2.extras.Json  # pyright: ignore[reportAttributeAccessIssue]


class _Psycopg2Adapter(peewee.Psycopg2Adapter):
    """peewee's psycopg2 adapter, made after the driver is loaded: its transaction states
    are class attributes peewee sets only when psycopg2 was there at import."""

    def __init__(self) -> None:
        _load_psycopg2()
        super().__init__()
        extensions: Any = getattr(peewee, "pg_extensions")  # noqa: B009 - set by _load_psycopg2, not in peewee's types
        self.txn_idle = extensions.TRANSACTION_STATUS_IDLE
        self.txn_inerror = extensions.TRANSACTION_STATUS_INERROR
        self.txn_unknown = extensions.TRANSACTION_STATUS_UNKNOWN


class PostgresqlDatabase(peewee.PostgresqlDatabase):
    """peewee's PostgresqlDatabase, loading psycopg2 when the first one is made."""

    psycopg2_adapter = _Psycopg2Adapter


def driver_errors() -> tuple[type[Exception], ...]:
    """The PostgreSQL driver's error class, once it is loaded (before, none can be raised)."""
    psycopg2 = sys.modules.get("psycopg2")
    return (psycopg2.Error,) if psycopg2 is not None else ()
