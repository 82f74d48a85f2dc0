"""OpenCode's messages read into records: from its SQLite database and its older one-file-per-
message storage, each call once (a message in both, a message added later), each on the
provider OpenCode called."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offgate.config import Settings
from offgate.store import Store
from tests.support.agent_log_homes import agent_home, daily_tokens, opencode_database, scan_home, sqlite_store  # noqa: F401 (the store fixture)

DATABASE = Path(".local/share/opencode/opencode.db")

# (day, model): uncached input, output (reasoning included), cache creation, cache read, reasoning.
# ccusage's `opencode daily --json` gives the same with the output less the reasoning
# (tests/test_agent_logs_parity.py holds them equal).
OPENCODE_DAILY = {
    ("2026-11-30", "claude-sonnet-4-5-20250929"): [10, 400, 3000, 12000, 0],  # in storage/ and the database: once
    ("2026-12-01", "gpt-5"): [5000, 700 + 300, 0, 2000, 300],
    ("2026-12-01", "claude-sonnet-4-5-20250929"): [20, 250, 500, 15000, 0],
    ("2026-12-01", "gemini-2.5-flash"): [3000, 200, 0, 0, 0],
}


def test_opencode_calls_are_counted_once_each_on_the_provider_it_called(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "opencode")
    result = scan_home(store, home)
    # The database's five rows with tokens (one an aborted reply: no call), storage/'s two files.
    assert result.read == {"opencode files": 3, "opencode lines": 5 + 2}
    assert result.kept == {"opencode calls": 4}
    assert daily_tokens(store) == OPENCODE_DAILY
    assert {(event.model, event.provider, event.host) for event in store.events()} == {
        ("claude-sonnet-4-5-20250929", "anthropic", "api.anthropic.com"),
        ("gpt-5", "openai", "api.openai.com"),
        ("gemini-2.5-flash", "gemini", "generativelanguage.googleapis.com")}
    assert sum(event.cost_usd or 0 for event in store.events()) == pytest.approx(0.048965)  # ccusage's total
    assert scan_home(store, home).read == {"opencode files": 0, "opencode lines": 0}


def test_a_message_opencode_adds_to_its_database_is_read_on_the_next_scan(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "opencode")
    scan_home(store, home)
    added = {"role": "assistant", "time": {"created": 1796122800000}, "modelID": "gpt-5", "providerID": "openai",
             "cost": 0, "tokens": {"input": 900, "output": 100, "reasoning": 0, "cache": {"read": 0, "write": 0}}}
    opencode_database(home / DATABASE, [json.dumps({"id": "msg_5a6b7c8d0006", "session_id": "ses_5a6b7c8dAcmeDb",
                                                    "data": added})])
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"opencode files": 1, "opencode lines": 6}, {"opencode calls": 1})
    gpt5 = daily_tokens(store)[("2026-12-01", "gpt-5")]
    assert gpt5 == [5000 + 900, 1000 + 100, 0, 2000, 300]
    assert store.count() == 5


def test_opencode_calls_through_a_provider_configured_on_the_gateway_are_managed(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "opencode")
    config = home / ".config" / "opencode" / "opencode.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"$schema": "https://opencode.ai/config.json", "provider": {
        "acme": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "https://litellm.acme.internal:4000/v1"}},
        "anthropic": {"options": {"baseURL": "https://litellm.acme.internal:4000/anthropic"}}}}))
    through_gateway = {"role": "assistant", "time": {"created": 1796122800000}, "modelID": "gpt-5",
                       "providerID": "acme", "cost": 0,
                       "tokens": {"input": 900, "output": 100, "reasoning": 0, "cache": {"read": 0, "write": 0}}}
    opencode_database(home / DATABASE, [json.dumps({"id": "msg_5a6b7c8d0007", "session_id": "ses_5a6b7c8dAcmeDb",
                                                    "data": through_gateway})])
    scan_home(store, home, Settings.model_validate({"proxy": {"gateways": ["https://litellm.acme.internal:4000"]}}))
    routes = {(event.model, event.provider, event.host, event.route) for event in store.events()}
    assert routes == {
        ("claude-sonnet-4-5-20250929", "anthropic", "litellm.acme.internal", "gateway"),
        ("gpt-5", "openai", "api.openai.com", "direct"),
        ("gpt-5", "acme", "litellm.acme.internal", "gateway"),
        ("gemini-2.5-flash", "gemini", "generativelanguage.googleapis.com", "direct")}
