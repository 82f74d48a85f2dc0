"""The store as the dashboard reads it: opened on first use (and again after a failure, so
a database that was down is used once it is back), queried on a few threads of its own so
no query blocks the event loop the dashboard may share with the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web

from analytics.bill.gateway_keys import GatewayKey
from offgate.store import Store, StoreError

READ_THREADS = 4
T = TypeVar("T")


class StoreReads:
    def __init__(self, url: str) -> None:
        self._url = url
        self._store: Store | None = None
        self._opening = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="offgate-dashboard")

    async def run(self, read: Callable[[Store], T]) -> T:
        """`read(store)` on a worker thread; StoreError when the store cannot be opened or read."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._read, read)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _read(self, read: Callable[[Store], T]) -> T:
        store = self._opened()
        try:
            return read(store)
        except StoreError:
            # A broken connection stays broken: drop this thread's, so the next read reconnects.
            with contextlib.suppress(StoreError):
                store.close()
            raise

    def _opened(self) -> Store:
        with self._opening:
            if self._store is None:
                self._store = Store.open(self._url)
            return self._store


STORE_READS = web.AppKey("store_reads", StoreReads)
# The gateway's upstream keys (LiteLLM's config), which the report's bill part credits LiteLLM's spend to.
GATEWAY_KEYS = web.AppKey("gateway_keys", list[GatewayKey])


def reads(request: web.Request) -> StoreReads:
    return request.app[STORE_READS]


def iso_utc(moment: datetime | None) -> str | None:
    """A time the store read (naive UTC) as ISO 8601 with its offset; None as None."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
