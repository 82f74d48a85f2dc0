from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from offgate.store import Store
from tests.support import postgres
from tests.support.upstream import FakeUpstream

# Property tests see the same examples on every CI run (a failure there is reproducible by
# anyone) and report a failure as found, unshrunk, so a run stays bounded in time; a
# developer's runs explore new examples, shrink failures and replay them from .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks each test for the tier it needs (markers: pyproject.toml). A test on PostgreSQL is
    found by its fixtures: it asks for `postgres_url`, or a parametrized fixture of it runs on
    "postgresql" (as `store_url` does). Browser and PostgreSQL tests run real parts, so are e2e too;
    the other e2e tests are marked by their modules (`pytestmark`)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and any(
            isinstance(value, str) and value == "postgresql" for value in callspec.params.values())
        if on_postgresql or "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
        if item.get_closest_marker("browser") or item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database on a real PostgreSQL server (see tests/support/postgres.py), for the session."""
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


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, its tables not made."""
    with postgres.fresh_database(postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
def central(postgres_url: str) -> Iterator[str]:
    """A fresh central database for the fleet's collectors, its tables made."""
    with postgres.fresh_database(postgres_url) as url:
        Store.open(url).close()
        yield url


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    """A fake LLM provider on loopback (tests/support/upstream.py), for the module."""
    fake = FakeUpstream().start()
    yield fake
    fake.stop()
