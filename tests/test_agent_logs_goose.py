"""Goose's sessions read into records: one per session (Goose keeps a session's running
totals, not its calls), growing with the session, never counted twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offgate.store import Store
from tests.support.agent_log_homes import FIXTURES, agent_home, daily_tokens, goose_database, scan_home, sqlite_store  # noqa: F401 (the store fixture)

DATABASE = Path(".local/share/goose/sessions/sessions.db")

# (day, model): uncached input, output (reasoning included), cache creation, cache read, reasoning.
# ccusage's `goose daily --json` gives the same with the output less the reasoning
# (tests/test_agent_logs_parity.py holds them equal).
GOOSE_DAILY = {
    ("2026-11-30", "claude-sonnet-4-5-20250929"): [52000, 3100, 0, 0, 0],  # the running totals, not the last turn
    ("2026-12-01", "gpt-5"): [9000, 1200 + 500, 0, 0, 500],  # an older Goose: the last turn's; total's rest reasoning
    ("2026-12-01", "gemini-2.5-flash"): [4000, 300, 0, 0, 0],  # created_at in seconds since the epoch
}


def test_goose_sessions_are_one_record_each_with_their_running_totals(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "goose")
    result = scan_home(store, home)
    # Four sessions with a model (one with no tokens yet: no record); one without a model.
    assert result.read == {"goose files": 1, "goose lines": 4}
    assert result.kept == {"goose calls": 3}
    assert daily_tokens(store) == GOOSE_DAILY
    assert {(event.model, event.provider, event.host) for event in store.events()} == {
        ("claude-sonnet-4-5-20250929", "anthropic", "api.anthropic.com"),
        ("gpt-5", "openai", "api.openai.com"),
        ("gemini-2.5-flash", "gemini", "generativelanguage.googleapis.com")}
    assert sum(event.cost_usd or 0 for event in store.events()) == pytest.approx(0.2327)  # ccusage's total
    assert scan_home(store, home).read == {"goose files": 0, "goose lines": 0}


def test_a_goose_session_that_goes_on_grows_its_record(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "goose")
    scan_home(store, home)
    first = json.loads((FIXTURES / "goose" / "sessions.jsonl").read_text().splitlines()[0])
    first.update(accumulated_input_tokens=60000, accumulated_output_tokens=3500, accumulated_total_tokens=63500)
    goose_database(home / DATABASE, [json.dumps(first)])
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"goose files": 1, "goose lines": 4}, {"goose calls": 0})
    assert daily_tokens(store)[("2026-11-30", "claude-sonnet-4-5-20250929")] == [60000, 3500, 0, 0, 0]
    assert store.count() == 3
