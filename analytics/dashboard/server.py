"""What it takes to serve the dashboard: its token, kept in the home directory, and a
listening socket."""

from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path

from aiohttp import web

from offgate.pac import local_address

TOKEN_FILE = "dashboard-token"
TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,}")  # what secrets.token_urlsafe makes


class DashboardError(Exception):
    """The dashboard cannot start; the message says why."""


def dashboard_token(home: Path) -> str:
    """The token that opens the dashboard: made once (secrets.token_urlsafe) and kept in
    <home>/dashboard-token, readable by its owner only. Delete the file for a new one."""
    path = home / TOKEN_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as exc:
        raise DashboardError(f"cannot create {path}: {exc.strerror}") from None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(token + "\n")
    return token


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="ascii", errors="replace").strip()
        if os.name == "posix" and path.stat().st_mode & 0o077:
            path.chmod(0o600)  # the token opens the dashboard: only its owner may read it
    except OSError as exc:
        raise DashboardError(f"cannot read {path}: {exc.strerror}") from None
    if not TOKEN_PATTERN.fullmatch(token):
        raise DashboardError(f"{path} does not hold a dashboard token: delete it, and a new token is made")
    return token


async def start_dashboard(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` on host:port (0: any free port); the caller calls the runner's cleanup().
    DashboardError when it cannot listen there."""
    # No access log: the login link's query holds the token.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise DashboardError(f"port {port} on {host} is already in use") from None
        raise DashboardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return runner


def login_url(runner: web.AppRunner, token: str) -> str:
    """The link that logs a browser on this machine in: the address served, with the token."""
    host, port = runner.addresses[0][:2]
    return f"http://{local_address(host, port)}/?token={token}"
