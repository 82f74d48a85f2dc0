"""A small WebDriver BiDi client for Firefox (geckodriver is not packaged, and BiDi is
what Firefox's own remote agent speaks): commands over one WebSocket, answered in order."""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.exceptions import InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from tests.support.ports import free_port

START_TIMEOUT_S = 30
COMMAND_TIMEOUT_S = 30


class BiDiError(Exception):
    pass


class BiDi:
    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        command_id = next(self._ids)
        self._connection.send(json.dumps({"id": command_id, "method": method, "params": params}))
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            message = json.loads(self._connection.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") != command_id:
                continue  # an event
            if message.get("type") == "error":
                raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message["result"]

    def evaluate(self, context: str, expression: str) -> Any:
        result = self.send("script.evaluate", expression=expression, target={"context": context}, awaitPromise=True)
        if result.get("type") == "exception":
            raise BiDiError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")



@contextmanager
def firefox(executable: str, profile: Path, env: dict[str, str]) -> Iterator[BiDi]:
    """Headless Firefox on `profile`, with a BiDi session open; closed at the end."""
    port = free_port()
    process = subprocess.Popen([executable, "-headless", "-no-remote", "-profile", str(profile),
                                "--remote-debugging-port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        connection = _connect(f"ws://127.0.0.1:{port}/session", process)
        with connection:
            bidi = BiDi(connection)
            bidi.send("session.new", capabilities={})
            try:
                yield bidi
            finally:
                with contextlib.suppress(Exception):  # it may be gone already; it is killed below
                    bidi.send("browser.close")
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _connect(url: str, process: subprocess.Popen) -> ClientConnection:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return connect(url, max_size=None, open_timeout=5)
        except (OSError, InvalidHandshake):  # not listening yet
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
