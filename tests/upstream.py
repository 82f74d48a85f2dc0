"""A fake LLM provider on loopback: answers each request with a scripted response.

The test registers a `Scenario` (status, headers, body chunks) under a name and sends the
name in the `x-test-scenario` header; the fake replays it byte for byte, so what the
client receives through the proxy can be compared with what the provider sent.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from aiohttp import web

SCENARIO_HEADER = "x-test-scenario"


@dataclass
class Scenario:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    chunk_delay: float = 0.0
    streamed: bool = False  # chunked transfer, one write per chunk
    cut_after: int | None = None  # drop the connection after this many chunks

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeUpstream:
    def __init__(self) -> None:
        self.scenarios: dict[str, Scenario] = {}
        self.received: list[Received] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def add(self, name: str, scenario: Scenario) -> dict[str, str]:
        """Register a scenario; returns the header that selects it."""
        self.scenarios[name] = scenario
        return {SCENARIO_HEADER: name}

    def start(self) -> FakeUpstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.method, request.path_qs, dict(request.headers), body))
        scenario = self.scenarios.get(request.headers.get(SCENARIO_HEADER, ""))
        if scenario is None:
            return web.json_response({"error": "no such scenario"}, status=599)
        if not scenario.streamed:
            return web.Response(status=scenario.status, body=scenario.body, headers=scenario.headers)
        response = web.StreamResponse(status=scenario.status, headers=scenario.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for index, chunk in enumerate(scenario.chunks):
            if scenario.cut_after is not None and index >= scenario.cut_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write(chunk)
            if scenario.chunk_delay:
                await asyncio.sleep(scenario.chunk_delay)
        await response.write_eof()
        return response
