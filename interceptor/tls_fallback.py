"""Fail open for clients that refuse the interception certificate, and count what goes unread.

Clients that pin certificates, or that trust only a CA bundle of their own (certifi, Node
without NODE_EXTRA_CA_CERTS), fail every call to a host offgate decrypts. As mitmproxy's
tls_passthrough example does, once a client fails the TLS handshake for a host, its
connections to that host pass through untouched, unread, for `offgate_passthrough_minutes`;
the first one after that is intercepted again, so reading resumes once the client trusts
the CA. Every such connection, refused or passed through, is counted in the store
(offgate.store.unread), so unread usage shows in `offgate status` and the report.

"A client" is a program run by a user: its executable and user, as attribution finds them
from the socket, or its IP address when it finds nothing (a client on another machine).
Not its process id: a CLI that runs once per call (Codex, curl) would fail once per run.
Not its address alone: on a workstation every program connects from 127.0.0.1, and one
pinning program would leave all the others unread.

Counts gather in memory and a thread of their own writes them every few seconds and at
shutdown: the event loop never waits for the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from mitmproxy import connection, ctx, exceptions, tls

from interceptor.attribution import ProcessCache
from interceptor.fail_open import FailOpen
from interceptor.recorder import ATTRIBUTION_WAIT
from offgate.store import Store, StoreError
from offgate.store.unread import UnreadConnectionStore, UnreadCount, UnreadSource

log = logging.getLogger("offgate")

# How often the counts are written to the store.
FLUSH_INTERVAL = 2.0
# (client, host) pairs remembered as refusing; past this the soonest to expire are forgotten.
MAX_REMEMBERED = 4096


class RefusalMemory:
    """Which clients refused the certificate for which hosts, and until when their
    connections there pass through (monotonic seconds)."""

    def __init__(self, max_entries: int = MAX_REMEMBERED) -> None:
        self._max_entries = max_entries
        self._until: OrderedDict[Hashable, float] = OrderedDict()  # soonest to expire first

    def refuse(self, key: Hashable, until: float) -> None:
        self._until.pop(key, None)
        self._until[key] = until
        while len(self._until) > self._max_entries:
            self._until.popitem(last=False)

    def __len__(self) -> int:
        return len(self._until)

    def passes(self, key: Hashable, now: float) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= now:
            del self._until[key]
            return False
        return True


class UnreadTally:
    """Unread connections not written yet: the event loop notes them, the flush thread
    takes them (and puts them back when the store is unavailable)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[UnreadSource, Any], UnreadCount] = {}

    def note(self, source: UnreadSource, at: datetime, *, refused: bool) -> None:
        self.put_back([UnreadCount(source, at.date(), at, at, int(refused), int(not refused))])

    def put_back(self, counts: list[UnreadCount]) -> None:
        with self._lock:
            for count in counts:
                held = self._counts.get((count.source, count.day))
                if held is None:
                    self._counts[(count.source, count.day)] = count
                else:
                    held.merge(count)

    def take(self) -> list[UnreadCount]:
        with self._lock:
            counts, self._counts = list(self._counts.values()), {}
        return counts


class CountWriter:
    """Writes the tally to the store from a thread of its own, every `interval` seconds
    and once more when closed."""

    def __init__(self, tally: UnreadTally, open_store: Callable[[], Store], interval: float = FLUSH_INTERVAL) -> None:
        self._tally = tally
        self._open_store = open_store
        self._interval = interval
        self._stop = threading.Event()
        self._store: Store | None = None
        self._thread = threading.Thread(target=self._run, name="offgate-unread", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            self._write()
            if stopping:
                break
        if self._store is not None:
            self._store.close()
        left = self._tally.take()
        if left:
            log.warning("offgate: %d unread connections could not be recorded (the store is unavailable)",
                        sum(c.handshakes_failed + c.passed_through for c in left))

    def _write(self) -> None:
        counts = self._tally.take()
        if not counts:
            return
        try:
            if self._store is None:
                self._store = self._open_store()
            UnreadConnectionStore(self._store).add(counts)
        except StoreError as exc:
            log.warning("offgate: cannot record unread connections yet: %s", exc)
            self._tally.put_back(counts)
            self._store = None


class TLSFallback:
    """The mitmproxy addon (sharing the recorder's process lookups)."""

    def __init__(self, processes: ProcessCache, fail_open: FailOpen) -> None:
        self.processes = processes
        self.memory = RefusalMemory()
        self.tally = UnreadTally()
        self._fail_open = fail_open
        self._hosts: dict[str, str] = {}  # client connection id -> the host of its ClientHello
        self._device: str | None = None
        self._writer: CountWriter | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "offgate_passthrough_minutes", int, 30,
            "After a client refuses offgate's certificate for a host (it does not trust the CA, or it "
            "pins certificates), its connections to that host pass through untouched, unread, for this "
            "many minutes; each is counted and reported. 0: they are never passed through, and fail "
            "as they would with plain mitmproxy.",
        )

    def configure(self, updated: set[str]) -> None:
        if "offgate_passthrough_minutes" in updated and ctx.options.offgate_passthrough_minutes < 0:
            raise exceptions.OptionsError(
                f"offgate_passthrough_minutes: {ctx.options.offgate_passthrough_minutes} is negative; "
                "give minutes, or 0 to never pass through")

    def running(self) -> None:
        url = ctx.options.offgate_database_url
        self._device = ctx.options.offgate_device
        self._writer = CountWriter(self.tally, lambda: Store.open(url))
        self._writer.start()

    def done(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def client_disconnected(self, client: connection.Client) -> None:
        self._hosts.pop(client.id, None)

    async def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        try:
            if data.ignore_connection:
                return  # another addon passes it through already
            client = data.context.client
            host = (data.client_hello.sni or str((data.context.server.address or ("",))[0])).lower()
            self._hosts[client.id] = host
            # Settle the client's process lookup while it waits for our answer (it has almost always
            # finished): one that refuses the certificate closes its socket at once, and then nothing
            # links it to its program, so its next connection would be refused again.
            await self.processes.settled(client.id, ATTRIBUTION_WAIT)
            if not self.memory:
                return  # no client refused lately: no need to know who this one is
            who, source = await self._identify(client, host)
            if self.memory.passes(who, time.monotonic()):
                data.ignore_connection = True
                self.tally.note(source, datetime.now(UTC), refused=False)
        except Exception:  # fail-open: the handshake goes on as without offgate
            self._fail_open.count()

    async def tls_failed_client(self, data: tls.TlsData) -> None:
        try:
            client = data.context.client
            host = self._hosts.get(client.id)
            if host is None:
                return  # failed before its ClientHello was read: nothing was refused
            who, source = await self._identify(client, host)
            self.tally.note(source, datetime.now(UTC), refused=True)
            minutes = ctx.options.offgate_passthrough_minutes
            if minutes:
                self.memory.refuse(who, time.monotonic() + 60 * minutes)
            # mitmproxy logs the handshake's own error; this says what offgate makes of it.
            log.warning("offgate: %s refused offgate's certificate for %s (it does not trust the CA, or pins "
                        "certificates)%s", source.process_name or "a client of unknown process", source.host,
                        f"; its connections there pass through unread for {minutes} minutes" if minutes else "")
        except Exception:  # fail-open
            self._fail_open.count()

    async def _identify(self, client: connection.Client, host: str) -> tuple[Hashable, UnreadSource]:
        """Who the client is for the memory (see the module's docstring), and its counts' source."""
        await self.processes.settled(client.id, ATTRIBUTION_WAIT)
        process = self.processes.get(client.id, 0)
        source = UnreadSource(host, process.process_name, process.exe, process.user, self._device)
        if process.exe or process.process_name:
            return ("program", process.user, process.exe or process.process_name, host), source
        return ("address", str(client.peername[0]), host), source
