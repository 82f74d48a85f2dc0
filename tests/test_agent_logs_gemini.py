"""Gemini CLI's chat recordings read into records: each call once with ccusage's token rules,
whether the session is a JSON file Gemini CLI rewrites whole (caught mid-rewrite, grown by a
message) or JSON lines it appends to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offgate.store import Store
from tests.support.agent_log_homes import agent_home, daily_tokens, scan_home, sqlite_store  # noqa: F401 (the store fixture)

GEMINI_CHATS = Path(".gemini/tmp/9f2c4e1a7b3d5f60e8a1c2b4d6f8091a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3/chats")
GEMINI_SESSION = GEMINI_CHATS / "session-2026-11-30T23-55-a3c9e1f0.json"

# (day, model): uncached input, output (reasoning included), cache creation, cache read, reasoning.
# ccusage's `gemini daily --json` gives the same with the output less the reasoning
# (tests/test_agent_logs_parity.py holds them equal).
GEMINI_DAILY = {
    ("2026-11-30", "gemini-2.5-pro"): [4000, 300 + 150, 0, 8000, 150],  # `input` included the 8000 cached
    ("2026-12-01", "gemini-2.5-pro"): [15000 + 20, 500, 0, 0, 0],  # after midnight; 20 tool-use tokens
    # 200 output from `total`; the .jsonl's repeated line once; its last call's 40 unlisted tokens as reasoning
    ("2026-12-01", "gemini-2.5-flash"): [3000 + 3000 + 800, 200 + 120 + 60 + 80 + 40, 0, 1000 + 2000, 80 + 40],
}


def test_gemini_cli_calls_are_counted_once_each_with_their_exact_tokens(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "gemini-cli")
    result = scan_home(store, home)
    # Two whole .json files (a session; logs.json, the prompts alone: no call) and the .jsonl's lines.
    assert result.read == {"gemini-cli files": 3, "gemini-cli lines": 1 + 1 + 5}
    assert result.kept == {"gemini-cli calls": 5}
    assert daily_tokens(store) == GEMINI_DAILY
    events = store.events()
    assert {(event.source, event.app, event.provider, event.host, event.route) for event in events} == {
        ("agent-log", "gemini-cli", "gemini", "generativelanguage.googleapis.com", "direct")}
    assert sum(event.cost_usd or 0 for event in events) == pytest.approx(0.037655)  # ccusage's total
    assert not any(event.cost_note for event in events)  # an API key, not a plan
    assert scan_home(store, home).read == {"gemini-cli files": 0, "gemini-cli lines": 0}


def test_a_session_file_caught_mid_rewrite_then_grown_by_a_message_counts_each_call_once(
        store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "gemini-cli")
    session = home / GEMINI_SESSION
    whole = session.read_bytes()
    with open(session, "r+b") as file:  # Gemini CLI rewrites the file in place; a scan reads half of it
        file.truncate(0)
        file.write(whole[: len(whole) // 2])
    assert scan_home(store, home).kept == {"gemini-cli calls": 2}  # the .jsonl's only
    record = json.loads(whole)
    record["messages"][-1]["tokens"] = {"input": 2000, "output": 100, "cached": 0, "thoughts": 0, "tool": 0,
                                        "total": 2100}  # the streaming reply, done
    with open(session, "r+b") as file:
        file.truncate(0)
        file.write(json.dumps(record, indent=2).encode())
    assert scan_home(store, home).kept == {"gemini-cli calls": 4}
    record["messages"].append({"id": "g6", "timestamp": "2026-12-01T00:04:00.000Z", "type": "gemini",
                               "model": "gemini-2.5-flash", "content": "",
                               "tokens": {"input": 700, "output": 50, "total": 750}})
    session.write_text(json.dumps(record, indent=2))
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"gemini-cli files": 1, "gemini-cli lines": 1}, {"gemini-cli calls": 1})
    expected = dict(GEMINI_DAILY)
    flash = expected[("2026-12-01", "gemini-2.5-flash")]
    expected[("2026-12-01", "gemini-2.5-flash")] = [flash[0] + 2000 + 700, flash[1] + 100 + 50, 0, flash[3], flash[4]]
    assert daily_tokens(store) == expected
    assert store.count() == 7


def test_gemini_cli_signed_in_with_a_google_account_is_priced_api_equivalent(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "gemini-cli")
    signed_in = {"security": {"auth": {"selectedType": "oauth-personal"}}}
    (home / ".gemini" / "settings.json").write_text(json.dumps(signed_in))
    result = scan_home(store, home)
    events = store.events()
    assert {event.host for event in events} == {"cloudcode-pa.googleapis.com"}
    assert all((event.cost_note or "").startswith("api-equivalent (subscription)") for event in events)
    assert result.notes == ["gemini-cli runs on a subscription plan: its costs are API-equivalent"]
