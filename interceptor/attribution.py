"""Which process, user and device sent a request through the proxy.

The proxy sees only the client's address. On Linux a netlink sock_diag query for the
connection's 4-tuple gives the client socket's inode and owner uid in ~15 µs (/proc/net/tcp,
the fallback, takes milliseconds); the process holding that inode is found among the
/proc/<pid>/fd links, first of the processes that were clients lately. Both must be quick:
a short-lived client (curl) may close its socket a few milliseconds after connecting, and
then nothing links it to its process any more. psutil.net_connections() maps every socket
of every process (up to 100 ms on busy machines), so psutil is only the fallback for other
systems.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass

import psutil

from interceptor import sockdiag

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# mitmproxy gives (host, port) for IPv4 and (host, port, flowinfo, scope_id) for IPv6.
Address = Sequence[str | int]

_HAS_PROC_NET = os.path.exists("/proc/net/tcp")
TABLE_READS = 3
RECENT_PIDS = 32


@dataclass(frozen=True)
class ClientProcess:
    pid: int | None
    process_name: str | None
    exe: str | None
    user: str | None


UNKNOWN = ClientProcess(None, None, None, None)


def find_client_process(peer: Address, proxy: Address) -> ClientProcess:
    """The process whose TCP socket at `peer` is connected to the proxy at `proxy`.

    `proxy` may be the listening address: an unspecified host (0.0.0.0, ::) matches any.
    Never raises: what cannot be found is None.
    """
    try:
        return (_find_on_linux if _HAS_PROC_NET else _find_with_psutil)(peer, proxy)
    except Exception:  # attribution must never break the proxy (house rule)
        log.debug("no process found for %r -> %r", peer, proxy, exc_info=True)
        return UNKNOWN


def _parse(address: Address) -> tuple[IPAddress | None, int]:
    """IPv4-mapped IPv6 addresses become IPv4; an unspecified host becomes None (any host)."""
    ip = ipaddress.ip_address(str(address[0]))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (None if ip.is_unspecified else ip), int(address[1])


# --- Linux: netlink, /proc ------------------------------------------------------------------


def _find_on_linux(peer: Address, proxy: Address) -> ClientProcess:
    peer_ip, peer_port = _parse(peer)
    proxy_ip, proxy_port = _parse(proxy)
    if peer_ip is None:
        return UNKNOWN
    # An IPv6 link-local client's socket is bound to the interface of the peer's scope.
    interface = int(peer[3]) if len(peer) > 3 else 0
    found = _socket_inode_and_uid(peer_ip, peer_port, proxy_ip, proxy_port, interface)
    if found is None:
        return UNKNOWN
    inode, uid = found
    user = _user_name(uid)
    pid = _pid_holding(inode, uid)
    if pid is None:  # another user's process and we are not root, or it closed meanwhile
        return ClientProcess(None, None, None, user)
    return _describe(pid, user)


def _socket_inode_and_uid(
    peer_ip: IPAddress, peer_port: int, proxy_ip: IPAddress | None, proxy_port: int, interface: int = 0
) -> tuple[int, int] | None:
    # The exact query needs the proxy's own address, which the proxy's side of a connection
    # has; a listening address (any host) needs the table, as do kernels without sock_diag.
    if proxy_ip is not None and sockdiag.available():
        try:
            return sockdiag.find_tcp_socket(peer_ip, peer_port, proxy_ip, proxy_port, interface)
        except OSError:  # e.g. out of file descriptors: the table lists the same sockets
            log.debug("sock_diag query failed, reading /proc/net/tcp", exc_info=True)
    # The kernel lists the table in pieces; a socket opened or closed meanwhile can shift
    # the listing so ours is skipped. A second or third read finds it.
    for _ in range(TABLE_READS):
        found = _socket_in_table(peer_ip, peer_port, proxy_ip, proxy_port)
        if found is not None:
            return found
    return None


def _socket_in_table(
    peer_ip: IPAddress, peer_port: int, proxy_ip: IPAddress | None, proxy_port: int
) -> tuple[int, int] | None:
    # An IPv4 client socket is listed in /proc/net/tcp; an IPv6 socket that talks IPv4 is
    # listed in tcp6 under the mapped address (::ffff:a.b.c.d).
    searches = []
    if isinstance(peer_ip, ipaddress.IPv4Address):
        searches.append(("/proc/net/tcp", peer_ip, proxy_ip))
        peer_ip = ipaddress.IPv6Address(f"::ffff:{peer_ip}")
        if proxy_ip is not None:
            proxy_ip = ipaddress.IPv6Address(f"::ffff:{proxy_ip}")
    searches.append(("/proc/net/tcp6", peer_ip, proxy_ip))

    for path, local_ip, remote_ip in searches:
        if remote_ip is not None and remote_ip.version != local_ip.version:
            continue
        local = f"{_proc_hex(local_ip)}:{peer_port:04X}"
        # Fields have a fixed width per file, so endswith() on the full address is equality,
        # and on ":PORT" alone it matches any proxy host.
        remote = f"{_proc_hex(remote_ip) if remote_ip else ''}:{proxy_port:04X}"
        try:
            with open(path) as table:
                next(table)  # header
                for line in table:
                    if local not in line:
                        continue
                    # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
                    fields = line.split()
                    # inode 0 is a socket no process holds any more (TIME_WAIT)
                    if fields[1] == local and fields[2].endswith(remote) and fields[9] != "0":
                        return int(fields[9]), int(fields[7])
        except FileNotFoundError:  # no IPv6 in this kernel
            continue
    return None


def _proc_hex(ip: IPAddress) -> str:
    """The kernel prints each 32-bit word of the address as a host-order integer."""
    packed = ip.packed
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words)


# The processes that lately held client sockets, each with the descriptor it held, most
# recent last. A process that connected once usually connects again, often on the same
# descriptor (the kernel hands out the lowest free one): a readlink() or a look at its fds
# takes microseconds, where a scan of all processes takes milliseconds.
_recent: dict[int, str] = {}
_recent_lock = threading.Lock()


def _pid_holding(inode: int, uid: int) -> int | None:
    target = f"socket:[{inode}]"
    with _recent_lock:
        recent = list(reversed(_recent.items()))
    found = (
        next(((pid, fd) for pid, fd in recent if _link(pid, fd) == target), None)
        or _search(target, [pid for pid, _ in recent])
        or _scan_all(target, uid, skip={pid for pid, _ in recent})
    )
    if found is None:
        return None
    pid, fd = found
    with _recent_lock:
        _recent.pop(pid, None)
        _recent[pid] = fd
        if len(_recent) > RECENT_PIDS:
            del _recent[next(iter(_recent))]
    return pid


def _scan_all(target: str, uid: int, skip: set[int]) -> tuple[int, str] | None:
    others: list[int] = []

    # Newest first: a client that just connected is likely a new process (curl). The socket
    # owner's processes first; the others (/proc/<pid> belongs to the process's uid) after.
    def owners() -> Iterator[int]:
        for pid in sorted((int(name) for name in os.listdir("/proc") if name.isdigit()), reverse=True):
            if pid in skip:
                continue
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    yield pid
                else:
                    others.append(pid)
            except OSError:  # exited
                continue

    return _search(target, owners()) or _search(target, others)


def _search(target: str, pids: Iterable[int]) -> tuple[int, str] | None:
    """The first of `pids` to hold `target`, with the descriptor that holds it."""
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # exited, or not ours to look at: no use remembering it
            with _recent_lock:
                _recent.pop(pid, None)
            continue
        fd = next((fd for fd in fds if _link(pid, fd) == target), None)
        if fd is not None:
            return pid, fd
    return None


def _link(pid: int, fd: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:  # closed meanwhile, or the process is gone
        return None


@functools.lru_cache(maxsize=64)
def _user_name(uid: int) -> str:
    import pwd  # Unix only; this path runs on Linux alone

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return str(uid)


# --- other systems: psutil ------------------------------------------------------------------


def _find_with_psutil(peer: Address, proxy: Address) -> ClientProcess:
    peer_ip, peer_port = _parse(peer)
    proxy_ip, proxy_port = _parse(proxy)
    for conn in psutil.net_connections(kind="tcp"):
        if not conn.laddr or not conn.raddr:
            continue
        local_ip, local_port = _parse(conn.laddr)
        remote_ip, remote_port = _parse(conn.raddr)
        if (
            (local_ip, local_port) == (peer_ip, peer_port)
            and remote_port == proxy_port
            and proxy_ip in (None, remote_ip)
        ):
            if conn.pid is None:
                return UNKNOWN
            try:
                user = psutil.Process(conn.pid).username()
            except psutil.Error:
                user = None
            return _describe(conn.pid, user)
    return UNKNOWN


# --- the process itself ---------------------------------------------------------------------


def _describe(pid: int, user: str | None) -> ClientProcess:
    try:
        proc = _main_process(psutil.Process(pid))
    except psutil.Error:  # exited since its socket was found
        return ClientProcess(pid, None, None, user)
    return ClientProcess(proc.pid, _attribute(proc.name), _attribute(proc.exe), user)


def _main_process(proc: psutil.Process) -> psutil.Process:
    """Chromium and Electron apps open their sockets in a network-service child
    (`--type=utility`); the user knows the browser, the first ancestor without `--type=`."""
    if not _is_helper(proc):
        return proc
    for parent in proc.parents():
        if not _is_helper(parent):
            return parent
    return proc


def _is_helper(proc: psutil.Process) -> bool:
    try:
        return any(arg.startswith("--type=") for arg in proc.cmdline()[1:])
    except psutil.Error:
        return False


def _attribute(getter: Callable[[], str]) -> str | None:
    try:
        return getter() or None
    except psutil.Error:  # e.g. exe of another user's process
        return None


# --- per-connection cache -------------------------------------------------------------------


class ProcessCache:
    """Looks up each client connection's process once, in a worker thread (never on the event
    loop), and keeps the answer for the events written later, even after the disconnect.

    At most `max_entries` answers are kept; beyond that, the oldest forgotten (disconnected)
    ones go first, then the oldest of all.
    """

    def __init__(self, max_entries: int = 4096, workers: int = 2) -> None:
        self._max_entries = max_entries
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="offgate-attribution")
        self._lock = threading.Lock()
        # oldest first; a lookup is replaced by its answer once settled: the proxy holds
        # thousands all day, and a done Future (its lock, its condition) is 1.6 kB more (issue 17)
        self._lookups: dict[str, Future[ClientProcess] | ClientProcess] = {}
        self._forgotten: dict[str, None] = {}  # an ordered set, oldest first
        # Warm the worker and the lookup's first-use costs now: a short-lived client (curl after
        # refusing the CA) may be gone before a cold first lookup finds its socket.
        self._pool.submit(find_client_process, ("127.0.0.1", 0), ("127.0.0.1", 0))

    def start(self, client_id: str, peer: Address, proxy: Address) -> None:
        future = self._pool.submit(find_client_process, peer, proxy)
        with self._lock:
            self._drop(client_id)
            self._lookups[client_id] = future
            while len(self._lookups) > self._max_entries:
                self._drop(next(iter(self._forgotten or self._lookups)))
        # After it is in: a lookup done already settles here and now.
        future.add_done_callback(lambda done: self._settle(client_id, done))

    def get(self, client_id: str, timeout: float) -> ClientProcess:
        """The answer for `client_id`, waiting at most `timeout` seconds (call off the loop)."""
        with self._lock:
            future = self._lookups.get(client_id)
        if future is None:
            return UNKNOWN
        if isinstance(future, ClientProcess):
            return future
        try:
            return future.result(timeout)
        except (TimeoutError, CancelledError):
            return UNKNOWN

    async def settled(self, client_id: str, timeout: float) -> None:
        """Wait (without blocking the event loop) until the lookup for `client_id` is done,
        at most `timeout` seconds. Never raises."""
        with self._lock:
            future = self._lookups.get(client_id)
        if not isinstance(future, Future) or future.done():
            return
        # asyncio.wait leaves the lookup running when the time is up (wait_for would cancel it).
        await asyncio.wait({asyncio.wrap_future(future)}, timeout=timeout)

    def forget(self, client_id: str) -> None:
        """The client disconnected: its answer may now make room for others."""
        with self._lock:
            if client_id in self._lookups:
                self._forgotten[client_id] = None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._lookups.clear()
            self._forgotten.clear()

    def _drop(self, client_id: str) -> None:
        future = self._lookups.pop(client_id, None)
        self._forgotten.pop(client_id, None)
        if isinstance(future, Future):
            future.cancel()  # no use finishing a lookup nobody can read

    def _settle(self, client_id: str, future: Future[ClientProcess]) -> None:
        if future.cancelled():
            return
        with self._lock:
            if self._lookups.get(client_id) is future:  # not dropped, nor started again meanwhile
                self._lookups[client_id] = future.result()
