"""A real LiteLLM proxy for the end-to-end tests: started from a config.yaml the test writes,
on a free loopback port, its output in a log file beside the config (tests read it)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

START_TIMEOUT_S = 180  # 8-9 s on an idle machine; far more on a busy CI runner


@contextmanager
def running_litellm(config_dir: Path, environment: Mapping[str, str], port: int | None = None) -> Iterator[str]:
    """Run `litellm --config config_dir/config.yaml` until the block ends; yields its base URL.
    Its output goes to config_dir/litellm.log."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = config_dir / "litellm.log"
    command = [str(Path(sys.executable).with_name("litellm")), "--config", str(config_dir / "config.yaml"),
               "--host", "127.0.0.1", "--port", str(port)]
    with log_file.open("w") as log:
        litellm = subprocess.Popen(command, env=dict(environment), cwd=config_dir, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            _wait_until_live(url, litellm, log_file)
            yield url
        finally:
            litellm.terminate()
            litellm.wait(30)


def _wait_until_live(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"litellm exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"litellm did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
