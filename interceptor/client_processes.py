"""Which process sent each client connection: its lookup starts as the client connects,
since a short-lived client (curl) may close its socket a few milliseconds later."""

from __future__ import annotations

from mitmproxy import connection

from interceptor.attribution import ProcessCache
from interceptor.fail_open import FailOpen


class ProcessAttribution:
    """Keeps the shared ProcessCache the recorder and the TLS fallback read."""

    def __init__(self, processes: ProcessCache, fail_open: FailOpen) -> None:
        self.processes = processes
        self._fail_open = fail_open

    def client_connected(self, client: connection.Client) -> None:
        self._fail_open.run(self.processes.start, client.id, client.peername, client.sockname)

    def client_disconnected(self, client: connection.Client) -> None:
        self._fail_open.run(self.processes.forget, client.id)

    def done(self) -> None:
        self.processes.close()
