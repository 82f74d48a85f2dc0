"""A real PostgreSQL server for the tests.

`$OFFGATE_TEST_POSTGRES_URL` if set (its user must be allowed to create databases), else a
throw-away server started from the local installation (Debian's `postgresql` package puts
it under /usr/lib/postgresql/VERSION/bin), listening on 127.0.0.1 and a free port, with its
data in a temporary directory that is removed afterwards. initdb refuses to run as root, so
as root the server runs as the `postgres` user. Durability is switched off: it is a test.

A test that stops the server and starts it again gets a throw-away one in any case
(`stoppable_server`). When no server can be had, the tests skip, except in CI (CI=true),
where they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

from tests.support.ports import free_port
from tests.support.required import unavailable

URL_ENV = "OFFGATE_TEST_POSTGRES_URL"
SUPERUSER = "offgate"
TEST_DATABASE = "offgate_test"
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be had; the message says why."""


@contextmanager
def server_or_skip() -> Iterator[str]:
    """`postgres_server()`, or skip (fail in CI) when there is none."""
    with _or_skip(postgres_server()) as url:
        yield url


@contextmanager
def stoppable_server_or_skip() -> Iterator[LocalServer]:
    """`stoppable_server()`, or skip (fail in CI) when there is none."""
    with _or_skip(stoppable_server()) as server:
        yield server


@contextmanager
def _or_skip[T](server: AbstractContextManager[T]) -> Iterator[T]:
    with ExitStack() as stack:
        try:
            entered = stack.enter_context(server)
        except PostgresUnavailable as exc:
            unavailable(str(exc), f"PostgreSQL is required in CI: install postgresql ({exc})")
        yield entered


@contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a database on a running server, for the whole block."""
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    with throwaway_server() as url:
        yield url


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped after the block."""
    name = f"offgate_{uuid.uuid4().hex[:12]}"
    _run_admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        _run_admin(server_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def throwaway_server() -> Iterator[str]:
    with stoppable_server() as server:
        yield server.url


class LocalServer:
    """A server of the local installation on a free port, data in a temporary directory;
    a test may stop it and start it again (same port, same data)."""

    def __init__(self, base: Path) -> None:
        self._bin_dir = find_bin_dir()
        self._as_postgres = _run_as_postgres_prefix()
        self._data = base / "data"
        self._log = base / "server.log"
        self._port = free_port()
        self._options = f"-c listen_addresses=127.0.0.1 -p {self._port} -k {base} {SERVER_OPTIONS}"
        if self._as_postgres:
            postgres = pwd.getpwnam("postgres")
            os.chown(base, postgres.pw_uid, postgres.pw_gid)
        _run([*self._as_postgres, str(self._bin_dir / "initdb"), "-D", str(self._data), "-U", SUPERUSER,
              "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"], "initdb")

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/{TEST_DATABASE}"

    def start(self) -> None:
        try:
            _run([*self._as_postgres, str(self._bin_dir / "pg_ctl"), "-D", str(self._data), "-l", str(self._log),
                  "-o", self._options, "-w", "start"], "pg_ctl start")
        except PostgresUnavailable as exc:
            tail = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""
            raise PostgresUnavailable(f"{exc}\n{tail}") from None

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every session at once, as an administrator's restart does."""
        subprocess.run([*self._as_postgres, str(self._bin_dir / "pg_ctl"), "-D", str(self._data), "-m", mode,
                        "-w", "stop"], capture_output=True, check=False)


@contextmanager
def stoppable_server() -> Iterator[LocalServer]:
    """A throw-away server with its test database, removed after the block."""
    base = Path(tempfile.mkdtemp(prefix="offgate-pg-"))
    try:
        server = LocalServer(base)
        server.start()
        try:
            _run_admin(server.url.rsplit("/", 1)[0] + "/postgres", f'CREATE DATABASE "{TEST_DATABASE}"')
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def find_bin_dir() -> Path:
    """Where the newest installed PostgreSQL keeps its programs (initdb, pg_ctl, psql)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    found = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if Path(d, "pg_ctl").exists()]
    if not found:
        raise PostgresUnavailable(
            f"no PostgreSQL server found: install postgresql, or set {URL_ENV}"
        )
    return max(found, key=lambda d: float(d.parent.name))  # the newest version


def _run_as_postgres_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no `postgres` user to run the server") from None
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({done.returncode}): {done.stderr.strip()}")


def _run_admin(url: str, statement: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction.
    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()

