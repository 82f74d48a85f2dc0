"""An aiohttp app served on loopback from a thread of its own, so that blocking code can
call it: the demo's fake provider and gateway, and the tests' fake servers, run on this."""

from __future__ import annotations

import asyncio
import ssl
import threading

from aiohttp import web


class ThreadedServer:
    def __init__(self, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        """`port` 0 takes a free one; `ssl_context` serves HTTPS with it."""
        self.port = port
        self._ssl_context = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def serve(self, app: web.Application) -> int:
        """Start serving `app`; returns the port."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(app), self._loop).result(10)
        return self.port

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
