"""Time the /proc lookup of a client's process against psutil.net_connections().

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

import psutil

from interceptor.attribution import _find_with_psutil, find_client_process

CONNECT_AND_WAIT = (
    "import socket, sys, time\n"
    "conn = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
    "time.sleep(600)\n"
)
IDLE_PROCESSES = 20


def mean_ms(lookup, peer, proxy, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        lookup(peer, proxy)
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

        ours = mean_ms(find_client_process, peer, proxy, rounds=500)
        theirs = mean_ms(_find_with_psutil, peer, proxy, rounds=100)
        sockets = len(psutil.net_connections(kind="tcp"))
        print(f"{len(psutil.pids())} processes, {sockets} TCP sockets")
        print(f"/proc lookup:                 {ours:7.3f} ms per lookup")
        print(f"psutil.net_connections():     {theirs:7.3f} ms per lookup")
        print(f"ratio (psutil / ours):        {theirs / ours:7.1f}x")
    finally:
        for proc in spawned:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        server.close()

if __name__ == "__main__":
    main()
