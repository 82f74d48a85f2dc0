"""Parity with ccusage, the tool coding agents' users already trust: on the same fixture homes,
offgate's daily tokens per model equal `ccusage claude daily --json`, `ccusage codex daily
--json` and `ccusage gemini|opencode|goose|amp|copilot daily --json` exactly, and the cost is within 1%.
ccusage shows those four agents' reasoning apart from their output (and prices it as output);
offgate counts it in the output, as for the other agents: the test takes it out again to compare.
Copilot's OTel output tokens already include the reasoning, as ccusage 20.0.24 counts them.

ccusage is pinned to 20.0.24, the newest version whose native linux-x64 binary
(@ccusage/ccusage-linux-x64) is on the registry (20.0.26's is not published). It runs
offline (its bundled prices) in UTC, with nothing in its environment but the fixture home.
Subagent logs (<session>/subagents/): ccusage was reported to skip them; 20.0.24 walks the
projects folder recursively and counts them, as offgate does, and the test shows both count
them (the subagent's calls are in the haiku totals of both).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from offgate.store import Store
from tests.support.agent_log_homes import agent_home, ccusage_totals, daily_totals, scan_home
from tests.support.npm_tools import npm_tool

pytestmark = pytest.mark.e2e

CCUSAGE_PACKAGE = "ccusage@20.0.24"
QWEN_INPUT_PRICE = 1e-6  # qwen3-coder-plus's first tier on DashScope, per input token
SUBAGENT_HAIKU_TOKENS = (2400 + 900, 310 + 150)  # the subagent log's two calls: input, output


@pytest.fixture(scope="module")
def ccusage(tmp_path_factory) -> str:
    return npm_tool(tmp_path_factory.mktemp("ccusage"), CCUSAGE_PACKAGE, "ccusage")


def run_ccusage(ccusage: str, home: Path, *command: str) -> dict:
    environment = {"PATH": os.environ["PATH"], "HOME": str(home), "TZ": "UTC"}
    finished = subprocess.run([ccusage, *command, "--json", "--offline", "--timezone", "UTC"], env=environment,
                              capture_output=True, text=True, timeout=120, check=True)
    return json.loads(finished.stdout)


@pytest.mark.parametrize(("agent", "command"), [
    ("claude-code", ("claude", "daily", "--breakdown")),
    ("codex", ("codex", "daily")),
    ("gemini-cli", ("gemini", "daily")),
    ("opencode", ("opencode", "daily")),
    ("goose", ("goose", "daily")),
    ("amp", ("amp", "daily")),
    ("copilot-cli", ("copilot", "daily")),
])
def test_daily_tokens_per_model_equal_ccusages_and_cost_is_within_one_percent(
        ccusage: str, tmp_path: Path, agent: str, command: tuple[str, ...]) -> None:
    home = agent_home(tmp_path, agent)
    report = run_ccusage(ccusage, home, *command)
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        scan_home(store, home)
        ours = daily_totals(store.events())
    theirs = ccusage_totals(report)
    reasoning_apart = agent in ("gemini-cli", "opencode", "goose", "amp")
    assert {key: [row[0], row[1] - (row[5] if reasoning_apart else 0), row[2], row[3]] for key, row in ours.items()} \
        == {key: row[:4] for key, row in theirs.items()}
    if agent != "codex":
        for key, row in theirs.items():
            assert ours[key][4] == pytest.approx(row[4], rel=0.01), key
    if agent == "claude-code":
        haiku = ours[("2026-12-01", "claude-haiku-4-5-20251001")]
        assert (haiku[0], haiku[1]) == (800 + SUBAGENT_HAIKU_TOKENS[0], 120 + SUBAGENT_HAIKU_TOKENS[1])
    if agent == "codex":  # ccusage gives Codex's cost per day
        for day in report["daily"]:
            our_cost = sum(row[4] for (date, _model), row in ours.items() if date == day["date"])
            assert our_cost == pytest.approx(day["costUSD"], rel=0.01), day["date"]


def test_qwen_codes_daily_tokens_equal_ccusages_but_for_the_cached_tokens_it_counts_twice(
        ccusage: str, tmp_path: Path) -> None:
    """Qwen Code's prompt count includes its cached tokens; ccusage adds them again as cache
    reads (and bills them at both prices): its input is offgate's plus the cached tokens, its
    cost more by the cached tokens at the input price. Where nothing was cached, both agree."""
    home = agent_home(tmp_path, "qwen-code")
    report = run_ccusage(ccusage, home, "qwen", "daily")
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        scan_home(store, home)
        ours = daily_totals(store.events())
    theirs = ccusage_totals(report)
    assert {key: [row[0] + row[3], row[1] - row[5], row[2], row[3]] for key, row in ours.items()} \
        == {key: row[:4] for key, row in theirs.items()}
    for key, row in theirs.items():
        assert row[4] == pytest.approx(ours[key][4] + ours[key][3] * QWEN_INPUT_PRICE, rel=0.01), key
    assert theirs[("2026-11-30", "qwen3-coder-plus")][:4] == ours[("2026-11-30", "qwen3-coder-plus")][:4]
