"""`offgate demo` from a clean home, as a newcomer runs it: it finishes, and its report
shows the unmanaged usage it sent around the gateway."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from offgate.cli.demo import DIRECT_TRAFFIC, GATEWAY_TRAFFIC, REPORT_FILE

pytestmark = pytest.mark.e2e


def run_demo(demo_home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("OFFGATE_") and key != "DBUS_SESSION_BUS_ADDRESS"}  # no desktop here
    return subprocess.run([sys.executable, "-m", "offgate", "demo", "--demo-home", str(demo_home), *extra],
                          capture_output=True, text=True, timeout=300, env={**environment, "COLUMNS": "200"})


def test_the_demo_finishes_and_its_report_shows_unmanaged_usage(tmp_path: Path) -> None:
    demo_home = tmp_path / "demo"
    finished = run_demo(demo_home)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    direct_calls = sum(calls for *_, calls in DIRECT_TRAFFIC)
    gateway_calls = GATEWAY_TRAFFIC[-1]
    assert (f"sent {direct_calls} calls straight to OpenAI and Anthropic and {gateway_calls} through the LiteLLM "
            "gateway") in finished.stdout
    assert f"imported LiteLLM's spend sample: {gateway_calls} rows" in finished.stdout
    assert f"{gateway_calls} LiteLLM spend rows" in finished.stdout
    assert f"{gateway_calls} gateway calls captured, {gateway_calls} matched" in finished.stdout
    raised = re.search(r"the watcher raised (\d+) alerts and sent (\d+) notifications \(webhook\)", finished.stdout)
    assert raised and int(raised.group(1)) >= 2 and raised.group(1) == raised.group(2), finished.stdout
    assert "A new AI app, claude-code, was used for the first time" in finished.stdout
    assert re.search(r"\[(warning|critical)\] Unmanaged AI spend by \S+ was \$2\.\d\d in the hour", finished.stdout)
    assert 'the webhook received, e.g.: {"kind": ' in finished.stdout
    assert f"HTML report: {demo_home / REPORT_FILE}" in finished.stdout
    assert "<svg" in (demo_home / REPORT_FILE).read_text(encoding="utf-8")

    report = subprocess.run([sys.executable, "-m", "offgate", "--home", str(demo_home), "report", "--since", "1d",
                             "--format", "json", "--by", "app"], capture_output=True, text=True, timeout=120)
    totals = json.loads(report.stdout)["totals"]
    assert totals["unmanaged_calls"] >= direct_calls  # today's traffic, and the history of the last day
    assert totals["unmanaged_cost_usd"] > 1.0  # the burst of large gpt-4o prompts
    assert totals["gateway_calls_matched"] == gateway_calls


def test_the_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("mine")
    refused = run_demo(tmp_path)
    assert refused.returncode == 2
    assert f"{tmp_path} is not empty: the demo needs a fresh folder" in refused.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["something.txt"]
