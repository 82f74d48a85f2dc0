"""The real offgate proxy (mitmproxy + addon), started in-process on a free port.

mitmproxy allows one master per process at a time, so a test module starts one and
stops it at the end. It is built by the same `build_master` that `offgate proxy` uses.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from interceptor.ca import ca_dir
from interceptor.runner import build_master
from offgate.config import database_url_for, load_settings
from offgate.events import UsageEvent
from offgate.store import Store


class RunningProxy:
    def __init__(self, home: Path, gateways: Sequence[str] = (), set_options: Sequence[str] = ()) -> None:
        self.home = home
        self.gateways = gateways
        self.set_options = set_options
        self.port = 0
        self.master = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return ca_dir(self.home) / "mitmproxy-ca-cert.pem"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def start(self) -> RunningProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        self.master = build_master(self.home, "127.0.0.1", 0, self.gateways,
                                   ["connection_strategy=lazy", *self.set_options], with_termlog=False)
        self._task = asyncio.ensure_future(self.master.run())
        server = self.master.addons.get("proxyserver")
        for _ in range(500):
            addrs = server.listen_addrs()
            if addrs:
                self.port = addrs[0][1]
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError("proxy did not start listening")

    @property
    def addon(self):  # noqa: ANN201 - the OffgateAddon instance
        return self.master.addons.get("offgateaddon")

    def stop(self) -> None:
        """Shut down like SIGTERM does: mitmproxy's done hook flushes the writer."""
        if self.master is not None:
            self.master.shutdown()
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(self._task), 30), self._loop).result(35)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

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
