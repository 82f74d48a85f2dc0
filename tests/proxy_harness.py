"""The real offgate proxy (mitmproxy + addon), started in-process on a free port.

mitmproxy allows one master per process at a time, so a test module starts one and
stops it at the end. It is built by the same `build_master` that `offgate proxy` uses.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

from interceptor.runner import BackgroundProxy
from offgate.config import database_url_for, load_settings
from offgate.events import UsageEvent
from offgate.store import Store


class RunningProxy(BackgroundProxy):
    """The in-process proxy, with what tests ask of it."""

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def addon(self):  # the OffgateAddon instance
        return self.master.addons.get("offgateaddon")

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
