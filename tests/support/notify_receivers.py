"""Real receivers for notifications, all on loopback: an HTTP server that takes webhook
POSTs (generic, Slack- or Teams-shaped alike) and an SMTP server (aiosmtpd). The desktop's
notification daemon is in tests/support/notification_daemon.py."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web

from offgate.demo.threaded_server import ThreadedServer
from tests.support.ports import free_port
from tests.support.web_apps import ThrowawayCA


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

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
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
