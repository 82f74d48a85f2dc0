"""A real LiteLLM proxy for the end-to-end tests: started from a config.yaml the test writes,
on a free loopback port, its output in a log file beside the config (tests read it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port
from tests.support.serving import wait_until_healthy

START_TIMEOUT_S = 180  # 8-9 s on an idle machine; far more on a busy CI runner


def write_gateway_config(config_dir: Path, api_base: str, api_key: str, master_key: str, callbacks: str) -> None:
    """config_dir/config.yaml: one model, gpt-4o-mini, at `api_base` with `api_key`, and these
    LiteLLM callbacks (offgate's spend logger, its governance hook, or both as a YAML list)."""
    (config_dir / "config.yaml").write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {api_base}\n"
        f"      api_key: {api_key}\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
        "litellm_settings:\n"
        f"  callbacks: {callbacks}\n"
    )


def gateway_environment(home: Path, **extra: str) -> dict[str, str]:
    """The environment LiteLLM runs in: offgate's home (for the callbacks), the price map in the
    wheel (nothing fetched), and no central database of the test runner's."""
    environment = {**os.environ, "OFFGATE_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True", **extra}
    environment.pop("OFFGATE_DATABASE_URL", None)
    return environment


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

