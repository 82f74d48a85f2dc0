"""The central policy the fleet's pusher kept in the store (offgate.store.policies), watched
from a thread of its own: the proxy applies a new one within CHECK_S, without a restart, and
never reads the store on its event loop."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from offgate.store import Store, StoreError
from offgate.store.policies import AgentPolicy

log = logging.getLogger("offgate")

CHECK_S = 5.0


class KeptPolicyWatch:
    """Calls `changed(document)` (None: no central policy) with the kept policy at start,
    then whenever its version changes."""

    def __init__(self, store_url: str, changed: Callable[[str | None], Any], every_s: float = CHECK_S) -> None:
        self._store_url = store_url
        self._changed = changed
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="offgate-kept-policy", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self._every_s + 5)

    def _run(self) -> None:
        store: Store | None = None
        seen: str | None = None
        while True:
            try:
                store = store or Store.open(self._store_url)
                kept = AgentPolicy(store).kept()
                version = None if kept is None else kept.version
                if version != seen:
                    self._changed(None if kept is None else kept.document)
                    seen = version
            except StoreError as exc:  # the policy in force stays; the next round tries again
                log.warning("offgate: cannot read the central policy kept in the store: %s", exc)
                store = _closed(store)
            except Exception:  # never let the thread die: the proxy would stop following the policy
                log.exception("offgate: cannot apply the central policy kept in the store")
            if self._stop.wait(self._every_s):
                break
        _closed(store)


def _closed(store: Store | None) -> None:
    if store is not None:
        with contextlib.suppress(StoreError):
            store.close()
