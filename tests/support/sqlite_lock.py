"""Another connection holding a SQLite store's write lock, so the store's writers must wait."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sqlite_write_locked(database: Path) -> Iterator[None]:
    """Hold `database`'s write lock (BEGIN EXCLUSIVE) until the block ends."""
    other = sqlite3.connect(database, timeout=30, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
