"""What the agent reports as running, read from the real process table: a part counts when
it runs for this home (named by --home, or by OFFGATE_HOME), not when it runs for another."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.running import RunningParts, part_of

SLEEP = "import time; time.sleep(60)"


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait()


@pytest.mark.e2e
def test_a_native_host_and_a_proxy_of_this_home_are_seen_and_those_of_another_are_not(
        started: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    # Processes whose command lines read as the browser's launcher and `offgate proxy` do.
    started.append(subprocess.Popen([sys.executable, "-c", SLEEP, "-m", "native_host", "--home", str(mine)]))
    started.append(subprocess.Popen([sys.executable, "-c", SLEEP, "-m", "offgate", "--home", str(other), "proxy"]))
    assert RunningParts(mine).now() == {"proxy": False, "native_host": True}
    assert RunningParts(other).now() == {"proxy": True, "native_host": False}
    assert RunningParts(tmp_path / "third", own=["proxy"]).now() == {"proxy": True, "native_host": False}


def test_which_part_a_command_line_runs() -> None:
    assert part_of(["/usr/bin/python3", "-I", "-m", "native_host", "--home", "/h"]) == "native_host"
    assert part_of(["/venv/bin/offgate", "--home", "/h", "up", "--listen-port", "8080"]) == "proxy"
    assert part_of(["/venv/bin/python", "-m", "offgate", "proxy"]) == "proxy"
    # What `offgate proxy` becomes once it has read its options (interceptor/alone.py).
    assert part_of(["/venv/bin/python", "-P", "-m", "interceptor", "--home", "/h", "--listen-port", "8080"]) == "proxy"
    assert part_of(["mitmdump", "-s", "/src/interceptor/addon.py", "--set", "offgate_home=/h"]) == "proxy"
    assert part_of(["/venv/bin/offgate", "system-proxy", "on"]) is None
    assert part_of(["/venv/bin/offgate", "push"]) is None
    assert part_of(["bash", "-c", "echo proxy"]) is None
