"""A real LiteLLM proxy for the end-to-end tests: started from a config.yaml the test writes,
on a free loopback port, its output in a log file beside the config (tests read it)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port
from tests.support.serving import wait_until_healthy

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
            wait_until_healthy(f"{url}/health/liveliness", litellm, what="litellm", timeout=START_TIMEOUT_S,
                               output=lambda: log_file.read_text()[-3000:])
            yield url
        finally:
            litellm.terminate()
            litellm.wait(30)

