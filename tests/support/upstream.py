"""A fake LLM provider on loopback: answers each request with a scripted response.

The test registers a `Scenario` (status, headers, body chunks) under a name and sends the
name in the `x-test-scenario` header; the fake replays it byte for byte, so what the
client receives through the proxy can be compared with what the provider sent. A scenario
with `messages` answers a WebSocket upgrade and plays the session in order: it sends the
server's messages and waits for each of the client's, recording what it received. A request
without the header (one a LiteLLM proxy forwards, say) goes to `responder`, if set, which
makes its scenario from the request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from offgate.demo.threaded_server import ThreadedServer

SCENARIO_HEADER = "x-test-scenario"


@dataclass(frozen=True)
class WebSocketMessage:
    from_client: bool
    binary: bool
    content: bytes


@dataclass
class Scenario:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    chunk_delay: float = 0.0
    delay: float = 0.0  # before the answer starts
    streamed: bool = False  # chunked transfer, one write per chunk
    cut_after: int | None = None  # drop the connection after this many chunks (or messages)
    hold_open: bool = False  # after the last chunk, keep the response open until the client leaves
    messages: list[WebSocketMessage] = field(default_factory=list)  # a WebSocket session

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    messages: list[bytes] = field(default_factory=list)  # a WebSocket client's, as received


class FakeUpstream:
    def __init__(self, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        """`ssl_context`: serve HTTPS with it (the browser tests' web apps), else plain HTTP;
        `port`: a fixed port (a local model server's own), else a free one."""
        self._server = ThreadedServer(ssl_context, port)
        self.scenarios: dict[str, Scenario] = {}
        self.received: list[Received] = []
        self.responder: Callable[[Received], Scenario] | None = None
        self.port = port

    def add(self, name: str, scenario: Scenario) -> dict[str, str]:
        """Register a scenario; returns the header that selects it."""
        self.scenarios[name] = scenario
        return {SCENARIO_HEADER: name}

    def start(self) -> FakeUpstream:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.port = self._server.serve(app)
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = Received(request.method, request.path_qs, dict(request.headers), body)
        self.received.append(received)
        scenario = self.scenarios.get(request.headers.get(SCENARIO_HEADER, ""))
        if scenario is None and SCENARIO_HEADER not in request.headers and self.responder is not None:
            scenario = self.responder(received)
        if scenario is None:
            return web.json_response({"error": "no such scenario"}, status=599)
        if scenario.delay:
            await asyncio.sleep(scenario.delay)
        if scenario.messages:
            return await self._play_session(request, scenario, received)
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
        if scenario.hold_open:
            await _until_client_leaves(request)
            return response
        await response.write_eof()
        return response

    async def _play_session(self, request: web.Request, scenario: Scenario,
                            received: Received) -> web.WebSocketResponse:
        session = web.WebSocketResponse()
        session.headers.update(scenario.headers)
        await session.prepare(request)
        for index, message in enumerate(scenario.messages):
            if scenario.cut_after is not None and index >= scenario.cut_after:
                assert request.transport is not None
                request.transport.abort()  # no closing handshake: the client sees code 1006
                return session
            if message.from_client:
                incoming = await session.receive(timeout=10)
                if incoming.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    return session  # the client left early; the test sees what is missing
                received.messages.append(incoming.data.encode() if isinstance(incoming.data, str)
                                         else incoming.data)
            elif message.binary:
                await session.send_bytes(message.content)
            else:
                await session.send_str(message.content.decode())
        await session.receive(timeout=10)  # the client closes the session
        return session


async def _until_client_leaves(request: web.Request, limit: float = 60.0) -> None:
    """Wait, at most `limit` seconds, for the client to close the connection."""
    deadline = asyncio.get_running_loop().time() + limit
    while request.transport is not None and not request.transport.is_closing():
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.02)
