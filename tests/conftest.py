from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.upstream import FakeUpstream


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database on a real PostgreSQL server (see tests/postgres.py), for the session."""
    with postgres.server_or_skip() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'offgate.db'}"
        return
    with postgres.fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    """A fake LLM provider on loopback (tests/upstream.py), for the module."""
    fake = FakeUpstream().start()
    yield fake
    fake.stop()
