"""Time the lookup of a client's process: the netlink query for its socket against the
/proc/net/tcp read it replaces and psutil.net_connections(), and the whole lookup.

    uv run python bench/attribution.py

The client is another process, started before a few idle ones so that the newest-pid-first
scan has to pass them, as it would on a workstation.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import psutil

from interceptor import attribution, sockdiag
from interceptor.attribution import _find_with_psutil, _parse, _socket_in_table, find_client_process

CONNECT_AND_WAIT = (
    "import socket, sys, time\n"
    "conn = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
    "time.sleep(600)\n"
)
IDLE_PROCESSES = 20


def mean_ms(lookup: Callable[[], object], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        lookup()
    return (time.perf_counter() - started) / rounds * 1000


def main() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    port = server.getsockname()[1]
    spawned: list[subprocess.Popen] = []
    try:
        client = [sys.executable, "-c", CONNECT_AND_WAIT, str(port)]
        spawned.append(subprocess.Popen(client, start_new_session=True))
        accepted, peer = server.accept()
        proxy = accepted.getsockname()
        idle = [sys.executable, "-c", "import time; time.sleep(600)"]
        spawned += [subprocess.Popen(idle, start_new_session=True) for _ in range(IDLE_PROCESSES)]

        found = find_client_process(peer, proxy)
        assert found.pid == spawned[0].pid, found
        assert _find_with_psutil(peer, proxy) == found
        query = (*_parse(peer), *_parse(proxy))
        assert sockdiag.available() and sockdiag.find_tcp_socket(*query) == _socket_in_table(*query)

        def new_client() -> None:  # not among the recent clients: a scan of all processes
            attribution._recent.clear()
            find_client_process(peer, proxy)

        netlink = mean_ms(lambda: sockdiag.find_tcp_socket(*query), rounds=5000)
        table = mean_ms(lambda: _socket_in_table(*query), rounds=500)
        connections = mean_ms(lambda: psutil.net_connections(kind="tcp"), rounds=100)
        known = mean_ms(lambda: find_client_process(peer, proxy), rounds=500)
        new = mean_ms(new_client, rounds=500)
        theirs = mean_ms(lambda: _find_with_psutil(peer, proxy), rounds=100)
        sockets = len(psutil.net_connections(kind="tcp"))
        print(f"{len(psutil.pids())} processes, {sockets} TCP sockets; ms per lookup")
        print(f"client socket  netlink sock_diag          {netlink:8.3f}")
        print(f"               /proc/net/tcp{{,6}}          {table:8.3f}  {table / netlink:6.0f}x netlink")
        print(f"               psutil.net_connections()   {connections:8.3f}  {connections / netlink:6.0f}x netlink")
        print(f"whole lookup   recent client process      {known:8.3f}")
        print(f"               new client process         {new:8.3f}")
        print(f"               psutil                     {theirs:8.3f}  {theirs / new:6.1f}x new")
    finally:
        for proc in spawned:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        server.close()


if __name__ == "__main__":
    main()
