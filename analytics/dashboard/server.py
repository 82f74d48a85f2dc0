"""What it takes to serve the dashboard: its token, kept in the home directory, and a
listening socket."""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import secrets
from pathlib import Path

from aiohttp import web

from offgate.errors import BadInputError, OffgateError
from offgate.pac import local_address
from offgate.secret_file import read_or_create

TOKEN_FILE = "dashboard-token"
TOKEN_BYTES = 32
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,}")  # what secrets.token_urlsafe makes


class DashboardError(OffgateError):
    """The dashboard cannot start; the message says why."""


class ListenError(DashboardError, BadInputError):
    """The dashboard cannot listen where it was asked to: another address or port is needed."""


def dashboard_token(home: Path) -> str:
    """The token that opens the dashboard: made once (secrets.token_urlsafe) and kept in
    <home>/dashboard-token, readable by its owner only; processes racing to make it all end
    with the same one. Delete the file for a new one."""
    path = home / TOKEN_FILE
    try:
        token = read_or_create(path, lambda: f"{secrets.token_urlsafe(TOKEN_BYTES)}\n".encode("ascii"))
        if os.name == "posix" and path.stat().st_mode & 0o077:
            path.chmod(0o600)  # the token opens the dashboard: only its owner may read it
    except OSError as exc:
        raise DashboardError(f"cannot use {path}: {exc.strerror}") from None
    text = token.decode("ascii", errors="replace").strip()
    if not TOKEN_PATTERN.fullmatch(text):
        raise DashboardError(f"{path} does not hold a dashboard token: delete it, and a new token is made")
    return text


async def start_dashboard(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve `app` on host:port (0: any free port); the caller calls the runner's cleanup().
    ListenError when it cannot listen there."""
    # No access log: the login link's query holds the token.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"port {port} on {host} is already in use") from None
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return runner


def dashboard_url(runner: web.AppRunner) -> str:
    """The address served, as a browser on this machine reaches it (ends with "/")."""
    host, port = runner.addresses[0][:2]
    return f"http://{local_address(host, port)}/"


def login_url(runner: web.AppRunner, token: str) -> str:
    """The link that logs a browser on this machine in: the address served, with the token."""
    return f"{dashboard_url(runner)}?token={token}"


def exposure_warning(host: str) -> str | None:
    """What to tell the user when the dashboard listens where other machines can reach it."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a host name: it may resolve to anything
        pass
    return f"the dashboard listens on {host}, beyond this machine, over plain HTTP"
