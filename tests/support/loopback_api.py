"""The lifecycle every stand-in HTTP API of the tests shares: its GET routes served on loopback
by offgate.demo's ThreadedServer, from `start()` (or `with`) until `stop()`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Self

from aiohttp import web

from offgate.demo.threaded_server import ThreadedServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackApi:
    port: int

    def routes(self) -> dict[str, Handler]:
        """Each GET path and what answers it."""
        raise NotImplementedError

    def start(self) -> Self:
        self._server = ThreadedServer()
        app = web.Application()
        for path, handler in self.routes().items():
            app.router.add_get(path, handler)
        self.port = self._server.serve(app)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
