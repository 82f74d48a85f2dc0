"""Waiting until a server a test started answers, failing with what it said when it cannot."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx
import pytest


def wait_until_healthy(url: str, process: subprocess.Popen, *, what: str, timeout: float,
                       output: Callable[[], str]) -> None:
    """Until GET `url` answers 200; the test fails, with `output` (what the process said), when
    the process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{output()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} did not answer within {timeout} s:\n{output()}")
