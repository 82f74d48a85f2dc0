"""Attribution against real sockets and real processes."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import pwd
import signal
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import psutil
import pytest

from interceptor import attribution, sockdiag
from interceptor.attribution import (
    ClientProcess,
    ProcessCache,
    _find_with_psutil,
    _parse,
    _socket_in_table,
    find_client_process,
)
from tests.support.required import unavailable

pytestmark = pytest.mark.e2e

NOBODY = ClientProcess(None, None, None, None)
ME = pwd.getpwuid(os.getuid()).pw_name

# argv[1] is the port; the child holds its connection until it is killed.
CONNECT_AND_WAIT = (
    "import socket, sys, time\n"
    "conn = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
    "time.sleep(60)\n"
)
# Like a Chromium browser: the connection belongs to a `--type=utility` child.
SPAWN_NETWORK_SERVICE = (
    "import subprocess, sys\n"
    "subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2], '--type=utility'])\n"
)


def link_local_host() -> str | None:
    """An IPv6 link-local address of this host, with its interface: fe80::...%eth0."""
    with contextlib.suppress(OSError), open("/proc/net/if_inet6") as addresses:
        for line in addresses:
            address, _, _, scope, _, interface = line.split()
            if scope == "20":  # IPV6_ADDR_LINKLOCAL
                return f"{ipaddress.IPv6Address(bytes.fromhex(address))}%{interface}"
    return None


LINK_LOCAL = link_local_host()


def listener(family: socket.AddressFamily, host: str, v6only: int | None = None) -> socket.socket:
    server = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    server.bind(socket.getaddrinfo(host, 0, family)[0][4])  # with the scope of fe80::...%eth0
    server.listen()
    server.settimeout(10)
    return server


@pytest.fixture
def own_connection() -> Iterator[tuple[tuple, tuple]]:
    """(peer, proxy) as the proxy sees them, for a client socket of this process."""
    with listener(socket.AF_INET, "127.0.0.1") as server, socket.create_connection(server.getsockname()):
        accepted, peer = server.accept()
        with accepted:
            yield peer, accepted.getsockname()


@pytest.fixture
def spawn() -> Iterator:
    """Runs `python -c code args...` in its own process group, killed at the end."""
    started: list[subprocess.Popen] = []

    def run(code: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True)
        started.append(proc)
        return proc

    yield run
    for proc in started:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def this_process() -> ClientProcess:
    me = psutil.Process()
    return ClientProcess(os.getpid(), me.name(), me.exe(), ME)


@pytest.mark.parametrize(
    ("family", "host"),
    [
        pytest.param(socket.AF_INET, "127.0.0.1", id="ipv4"),
        pytest.param(socket.AF_INET6, "::1", id="ipv6"),
        # the client's socket is bound to the interface
        pytest.param(socket.AF_INET6, LINK_LOCAL, id="ipv6-link-local"),
    ],
)
def test_client_in_this_process(family: socket.AddressFamily, host: str | None) -> None:
    if host is None:
        unavailable("no IPv6 link-local address here", "CI needs an IPv6 link-local address for this test")
    with listener(family, host) as server, socket.socket(family) as client:
        client.connect(server.getsockname())
        accepted, peer = server.accept()
        with accepted:
            assert find_client_process(peer, accepted.getsockname()) == this_process()


@pytest.mark.parametrize(
    ("family", "connect_host"),
    [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::ffff:127.0.0.1")],
    ids=["ipv4-socket", "ipv6-socket"],
)
def test_ipv4_client_of_a_dual_stack_listener(
    family: socket.AddressFamily, connect_host: str
) -> None:
    with listener(socket.AF_INET6, "::", v6only=0) as server, socket.socket(family) as client:
        client.connect((connect_host, server.getsockname()[1]))
        accepted, peer = server.accept()
        with accepted:
            assert peer[0] == "::ffff:127.0.0.1"
            # The listening address (::) stands for any proxy host.
            assert find_client_process(peer, server.getsockname()) == this_process()


@pytest.mark.parametrize(
    ("family", "listen_host", "connect_host"),
    [
        (socket.AF_INET, "127.0.0.1", "127.0.0.1"),
        (socket.AF_INET6, "::1", "::1"),
        (socket.AF_INET6, "::", "::ffff:127.0.0.1"),  # an IPv6 client socket talking IPv4
    ],
    ids=["ipv4", "ipv6", "ipv4-mapped"],
)
def test_netlink_finds_the_socket_proc_lists(
    family: socket.AddressFamily, listen_host: str, connect_host: str
) -> None:
    if not sockdiag.available():
        unavailable("no netlink sock_diag here", "CI needs netlink sock_diag (Linux) for this test")
    v6only = 0 if family == socket.AF_INET6 else None
    with listener(family, listen_host, v6only) as server, socket.socket(family) as client:
        client.connect((connect_host, server.getsockname()[1]))
        accepted, peer = server.accept()
        with accepted:
            (peer_ip, peer_port), (local_ip, local_port) = _parse(peer), _parse(accepted.getsockname())
            assert peer_ip is not None and local_ip is not None  # a connected socket's hosts are specified
            query = (peer_ip, peer_port, local_ip, local_port)
            expected = (os.fstat(client.fileno()).st_ino, os.getuid())
            assert sockdiag.find_tcp_socket(*query) == _socket_in_table(*query) == expected
            client.close()  # the socket lingers in FIN_WAIT2, held by no process
            assert sockdiag.find_tcp_socket(*query) is None


def test_client_in_a_child_process(spawn) -> None:
    with listener(socket.AF_INET, "127.0.0.1") as server:
        child = spawn(CONNECT_AND_WAIT, str(server.getsockname()[1]))
        accepted, peer = server.accept()
        with accepted:
            found = find_client_process(peer, accepted.getsockname())
    assert found.pid == child.pid
    assert found.process_name is not None and found.process_name.startswith("python")
    assert found.process_name == psutil.Process(child.pid).name()
    assert found.exe == psutil.Process(child.pid).exe() == os.path.realpath(sys.executable)
    assert found.user == ME


def test_network_service_child_is_reported_as_its_browser(spawn) -> None:
    with listener(socket.AF_INET, "127.0.0.1") as server:
        browser = spawn(SPAWN_NETWORK_SERVICE, CONNECT_AND_WAIT, str(server.getsockname()[1]))
        accepted, peer = server.accept()
        with accepted:
            found = find_client_process(peer, accepted.getsockname())
    (network_service,) = psutil.Process(browser.pid).children()
    assert "--type=utility" in network_service.cmdline()
    assert (found.pid, found.process_name) == (browser.pid, psutil.Process(browser.pid).name())


def test_unknown_peer_is_all_none() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        unused_port = probe.getsockname()[1]
    assert find_client_process(("127.0.0.1", unused_port), ("127.0.0.1", 9)) == NOBODY
    assert find_client_process(("not an address", 1), ("127.0.0.1", 9)) == NOBODY


def test_psutil_fallback_agrees(own_connection) -> None:
    peer, proxy = own_connection
    assert _find_with_psutil(peer, proxy) == find_client_process(peer, proxy) == this_process()


def test_cache_keeps_answers_after_disconnect_within_a_bound(own_connection) -> None:
    peer, proxy = own_connection
    cache = ProcessCache(max_entries=3)
    try:
        for client_id in "abc":
            cache.start(client_id, peer, proxy)
        assert cache.get("a", timeout=5) == this_process()
        assert cache.get("nobody", timeout=5) == NOBODY

        cache.forget("b")
        assert cache.get("b", timeout=5) == this_process()  # events may come after disconnect

        cache.start("d", peer, proxy)  # full: the disconnected one makes room first
        assert cache.get("b", timeout=5) == NOBODY
        assert cache.get("a", timeout=5) == cache.get("d", timeout=5) == this_process()

        cache.start("e", peer, proxy)  # none disconnected: the oldest goes
        assert cache.get("a", timeout=5) == NOBODY
        assert cache.get("c", timeout=5) == cache.get("e", timeout=5) == this_process()
    finally:
        cache.close()
    assert cache.get("e", timeout=5) == NOBODY


def test_a_full_cache_holds_its_answers_not_their_lookups(own_connection) -> None:
    """The proxy keeps 4,096 answers all day (issue 17: its memory): a settled lookup's
    Future, with its lock and condition, is 1.6 kB more than the answer it carries."""
    peer, proxy = own_connection
    entries = 1000
    cache = ProcessCache(max_entries=entries)
    try:
        tracemalloc.start()
        for client_id in range(entries):
            cache.start(str(client_id), peer, proxy)
        answers = [cache.get(str(client_id), timeout=5) for client_id in range(entries)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        cache.close()
    assert answers == [this_process()] * entries
    assert held < entries * 600  # bytes: the answer, its key and its slot in two dicts


def test_short_lived_clients_are_found_before_they_close(own_connection) -> None:
    """Like curl: the lookup starts when the proxy accepts, the proxy lets it settle before it
    answers (as the addon's responseheaders does), and the client hangs up on the answer,
    its socket then left in FIN_WAIT2/TIME_WAIT with no inode."""
    find_client_process(*own_connection)  # this process has been a client before
    cycles = 200
    cache = ProcessCache()
    try:
        with listener(socket.AF_INET, "127.0.0.1") as server:
            for cycle in range(cycles):
                with socket.create_connection(server.getsockname()):
                    accepted, peer = server.accept()
                    cache.start(str(cycle), peer, accepted.getsockname())
                    asyncio.run(cache.settled(str(cycle), timeout=5))
                accepted.close()
        missed = [c for c in range(cycles) if cache.get(str(c), timeout=5).pid != os.getpid()]
    finally:
        cache.close()
    assert missed == []


def test_recent_clients_are_remembered_until_they_exit(own_connection) -> None:
    attribution._recent.clear()
    with listener(socket.AF_INET, "127.0.0.1") as server:
        # The child exits when its connection closes.
        code = CONNECT_AND_WAIT.replace("time.sleep(60)", "conn.recv(1)")
        child = subprocess.Popen([sys.executable, "-c", code, str(server.getsockname()[1])])
        accepted, peer = server.accept()
        with accepted:
            assert find_client_process(peer, accepted.getsockname()).pid == child.pid
    assert list(attribution._recent) == [child.pid]
    child.wait(10)
    assert find_client_process(*own_connection) == this_process()
    assert list(attribution._recent) == [os.getpid()]  # the child is gone: no use looking again
