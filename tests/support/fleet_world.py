"""The fleet's real parts for the tests: `offgate` commands as their own processes (collectors,
proxies, pushers, enrolment), and a relay standing for the load balancer and the network
between agents and collectors, which a test can cut or use to kill a collector the moment a
push reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from fleet.wire import HEALTH_PATH, INGEST_PATH
from tests.support.ports import free_port

START_TIMEOUT_S = 60.0


def agent_environment() -> dict[str, str]:
    """This process's environment without any OFFGATE_ setting: a workstation of its own."""
    return {key: value for key, value in os.environ.items() if not key.startswith("OFFGATE_")}


def central_environment(database_url: str) -> dict[str, str]:
    return {**agent_environment(), "OFFGATE_DATABASE_URL": database_url}


def offgate(home: Path, *arguments: str, environment: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`offgate --home HOME ARGUMENTS...` run to its end."""
    return subprocess.run([sys.executable, "-m", "offgate", "--home", str(home), *arguments],
                          env=environment or agent_environment(), capture_output=True, text=True, timeout=timeout)


def start_offgate(home: Path, *arguments: str, environment: dict[str, str] | None = None,
                  log: Path | None = None) -> subprocess.Popen[bytes]:
    """`offgate --home HOME ARGUMENTS...` left running, its output in `log` (default HOME/../NAME.log)."""
    log = log or home.parent / f"{home.name}-{arguments[0]}.log"
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "offgate", "--home", str(home), *arguments],
                                env=environment or agent_environment(), stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 90.0, logs: tuple[Path, ...] = ()) -> Any:
    """Poll until `condition()` is truthy; fail saying what was awaited (and the logs' tails)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-3000:]}" for log in logs if log.exists())
            raise AssertionError(f"gave up waiting for {what}\n{tails}")
        time.sleep(0.1)


class Collector:
    """`offgate serve` in its own process, on the central database."""

    def __init__(self, database_url: str, home: Path, *extra: str, ca_file: Path | None = None) -> None:
        """`extra`: more options for `offgate serve`; `ca_file`: it serves HTTPS as localhost,
        with a certificate from this CA."""
        self.database_url = database_url
        self.home = home
        self.extra = extra
        self.ca_file = ca_file
        self.port = 0
        self.log = home.parent / f"{home.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}" if self.ca_file else f"http://127.0.0.1:{self.port}"

    def start(self) -> Collector:
        self.port = free_port()
        self.process = start_offgate(self.home, "serve", "--listen-port", str(self.port), *self.extra,
                                     environment=central_environment(self.database_url), log=self.log)
        wait_for(self._healthy, f"the collector on port {self.port}", START_TIMEOUT_S, (self.log,))
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the collector exited ({self.process.returncode}):\n{self.log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            verify = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True
            return httpx.get(self.url + HEALTH_PATH, timeout=2, verify=verify).status_code == 200
        return False

    def kill(self) -> None:
        """SIGKILL: no cleanup, no answer to what is in flight."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Relay:
    """A TCP relay on loopback: each connection goes to the next collector in turn that
    accepts it (a load balancer). `cut()` drops every connection and refuses new ones (the
    network is down) until `restore()`. `when_pushed(action)` calls `action(port)` once (in a
    thread of its own), as the next push's request passes to the collector on `port`."""

    def __init__(self) -> None:
        self.port = 0
        self.upstreams: list[int] = []
        self._turn = 0
        self._cut = False
        self._on_push: Callable[[int], None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, upstreams: list[int]) -> Relay:
        self.upstreams = upstreams
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def cut(self) -> None:
        self._cut = True
        self._loop.call_soon_threadsafe(self._drop_all)

    def restore(self) -> None:
        self._cut = False

    def when_pushed(self, action: Callable[[int], None]) -> None:
        self._on_push = action

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._cut:
            client_writer.transport.abort()
            return
        connected = await self._connect()
        if connected is None:
            client_writer.transport.abort()
            return
        port, server_reader, server_writer = connected
        self._writers.update((client_writer, server_writer))
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer, port),
                                 self._pipe(server_reader, client_writer, None))
        finally:
            for writer in (client_writer, server_writer):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _connect(self) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.upstreams)):
            port = self.upstreams[self._turn % len(self.upstreams)]
            self._turn += 1
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            return port, reader, writer
        return None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: int | None) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self._cut:
                    return
                writer.write(data)
                await writer.drain()
                if upstream is not None and self._on_push is not None and f"POST {INGEST_PATH}".encode() in data:
                    action, self._on_push = self._on_push, None
                    threading.Thread(target=action, args=(upstream,), daemon=True).start()
        writer.transport.abort()
