"""The real offgate proxy (mitmproxy + addon), started in-process on a free port, or as
`offgate proxy` in a process of its own.

mitmproxy allows one master per process at a time, so a test module starts one and
stops it at the end. It is built by the same `build_master` that `offgate proxy` uses.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from interceptor.recorder import Recorder
from interceptor.runner import BackgroundProxy
from offgate.config import database_url_for, load_settings
from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.ports import free_port


def proxying_to(home: Path, port: int, gateways: Sequence[str] = ()) -> Iterator[RunningProxy]:
    """A proxy in this process that sends every HTTPS host's calls to the fake upstream on
    `port` (for a module-scoped fixture: `yield from proxying_to(...)`)."""
    running = RunningProxy(home, gateways=gateways,
                           set_options=[f"map_remote=|^https://[^/]+/|http://127.0.0.1:{port}/"]).start()
    try:
        yield running
    finally:
        running.stop()


class RunningProxy(BackgroundProxy):
    """The in-process proxy, with what tests ask of it."""

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def recorder(self) -> Recorder:
        return self.master.addons.get("recorder")

    def store(self) -> Store:
        return Store.open(database_url_for(load_settings(self.home), self.home))

    def wait_for_events(self, predicate: Callable[[UsageEvent], bool], count: int = 1,
                        timeout: float = 15.0) -> list[UsageEvent]:
        """Poll the store (the writer flushes in the background) until `count` events match."""
        deadline = time.monotonic() + timeout
        store = self.store()
        try:
            while True:
                found = [e for e in store.events() if predicate(e)]
                if len(found) >= count or time.monotonic() > deadline:
                    return found
                time.sleep(0.05)
        finally:
            store.close()


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30,
                   output: Callable[[], str] | None = None) -> None:
    """Until the proxy process listens; `output` reads what it said (default: its stderr pipe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = output() if output else proc.stderr.read().decode()
            raise AssertionError(f"offgate proxy exited early: {said}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("offgate proxy did not start listening")


class ProxyProcess:
    """`offgate proxy` as users run it, listening when made; its output goes to a file (a
    pipe nobody reads could fill up and stall it)."""

    def __init__(self, home: Path, set_options: Sequence[str], port: int | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the process runs
        options = [arg for option in ["connection_strategy=lazy", *set_options] for arg in ("--set", option)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "offgate", "proxy", "--listen-port", str(self.port), *options],
            env={**os.environ, "OFFGATE_HOME": str(home)}, stdout=self._output, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.process, output=self.output)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.home / "ca" / "mitmproxy-ca-cert.pem"

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")
