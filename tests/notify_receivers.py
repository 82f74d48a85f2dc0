"""Real receivers for notifications, all on loopback: an HTTP server that takes webhook
POSTs (generic, Slack- or Teams-shaped alike), an SMTP server (aiosmtpd), and a private
D-Bus session with a notification daemon (python-dbusmock)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web

from offgate.demo.threaded_server import ThreadedServer
from tests.ports import free_port
from tests.required import unavailable
from tests.web_apps import ThrowawayCA


@dataclass
class Post:
    path: str
    body: Any
    status: int


class WebhookReceiver:
    """Answers every POST with the next status queued for its path (200 when none is),
    and keeps what it was sent."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self._statuses: dict[str, list[int]] = {}
        self._server = ThreadedServer()
        app = web.Application()
        app.router.add_post("/{path:.*}", self._take)
        self.port = self._server.serve(app)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def answer(self, path: str, *statuses: int) -> None:
        self._statuses[path] = list(statuses)

    def delivered(self, path: str) -> list[Any]:
        """The bodies POSTed to `path` that were answered 2xx."""
        return [post.body for post in self.posts if post.path == path and post.status < 300]

    def stop(self) -> None:
        self._server.stop()

    async def _take(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        queued = self._statuses.get(path)
        status = queued.pop(0) if queued else 200
        self.posts.append(Post(path, await request.json(), status))
        return web.Response(status=status, text="ok" if status < 300 else "no")


class SmtpReceiver:
    """An aiosmtpd server on loopback. With `ca` it demands STARTTLS (its certificate, for
    localhost, is signed by `ca`) and then AUTH as `login` (user, password)."""

    def __init__(self, ca: ThrowawayCA | None = None, login: tuple[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[list[str], EmailMessage]] = []  # (envelope recipients, message)
        self.port = free_port()
        secure = {} if ca is None else {"tls_context": ca.server_context(), "require_starttls": True,
                                        "authenticator": self._authenticator(login), "auth_required": True}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **secure)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    @staticmethod
    def _authenticator(login: tuple[str, str] | None) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
            return AuthResult(success=given == login, handled=False)

        return check


@dataclass
class NotificationDaemon:
    """A notification daemon on a private session bus; `shown()` lists (app, title, body)."""

    mock: Any

    def shown(self) -> list[tuple[str, str, str]]:
        return [(str(call[2][0]), str(call[2][3]), str(call[2][4])) for call in self.mock.GetCalls()
                if call[1] == "Notify"]


@contextmanager
def notification_daemon() -> Iterator[NotificationDaemon]:
    """A private D-Bus session bus (DBUS_SESSION_BUS_ADDRESS points at it meanwhile, for
    this process and its children) with python-dbusmock's notification daemon on it."""
    if shutil.which("dbus-daemon") is None:
        unavailable("dbus-daemon is not installed", "dbus-daemon is missing: .ci/run installs the dbus package")
    try:
        import dbus
        import dbusmock
    except ImportError as exc:
        unavailable(f"python-dbusmock is missing: {exc}", f"python-dbusmock cannot be imported: {exc}")
    before = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    try:
        with dbusmock.PrivateDBus(dbusmock.BusType.SESSION), dbusmock.SpawnedMock.spawn_with_template(
                "notification_daemon", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as daemon:
            yield NotificationDaemon(dbus.Interface(daemon.obj, dbusmock.MOCK_IFACE))
    finally:
        if before is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = before

