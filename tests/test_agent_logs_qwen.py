"""Qwen Code's chat logs read into records: each assistant line's Gemini-style usage once, its
cached tokens taken out of the prompt count that includes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from offgate.store import Store
from tests.support.agent_log_homes import agent_home, daily_tokens, scan_home, sqlite_store  # noqa: F401 (the store fixture)

# (day, model): uncached input, output (reasoning included), cache creation, cache read, reasoning.
# ccusage's `qwen daily --json` counts the cached tokens in the input too (tests/test_agent_logs_parity.py).
QWEN_DAILY = {
    ("2026-11-30", "qwen3-coder-plus"): [11000, 250, 0, 0, 0],
    ("2026-12-01", "qwen3-coder-plus"): [12000 - 9000, 300 + 100, 0, 9000, 100],  # after midnight; 9000 cached
}


def test_qwen_code_calls_are_counted_once_each_with_the_cached_tokens_once(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "qwen-code")
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"qwen-code files": 1, "qwen-code lines": 4}, {"qwen-code calls": 2})
    assert daily_tokens(store) == QWEN_DAILY
    events = store.events()
    assert {(event.provider, event.host) for event in events} == {("dashscope", "dashscope.aliyuncs.com")}
    # DashScope's first tier: $1 / $5 per million input / output tokens, cache reads $0.10.
    assert sum(event.cost_usd or 0 for event in events) == pytest.approx(
        (11000 + 3000) * 1e-6 + 9000 * 1e-7 + (250 + 400) * 5e-6)
    assert scan_home(store, home).read == {"qwen-code files": 0, "qwen-code lines": 0}
