"""Amp's threads read into records: one call per usage-ledger event (its cache tokens from the
message it led to) or, without a ledger, per assistant message's usage; a thread Amp rewrites
whole counts each call once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offgate.store import Store
from tests.support.agent_log_homes import agent_home, daily_tokens, scan_home, sqlite_store  # noqa: F401 (the store fixture)

LEDGER_THREAD = Path(".local/share/amp/threads/T-7c1e9a2b-4d3f-4a5b-9c8d-acme00000001.json")

# (day, model): uncached input, output (reasoning included), cache creation, cache read, reasoning.
# ccusage's `amp daily --json` gives the same with the output less the reasoning
# (tests/test_agent_logs_parity.py holds them equal).
AMP_DAILY = {
    ("2026-11-30", "claude-sonnet-4-5-20250929"): [12, 300, 4000, 9000, 0],  # cache tokens from message 1
    ("2026-12-01", "claude-sonnet-4-5-20250929"): [8, 150, 600, 13000, 0],  # after midnight, same thread
    ("2026-12-01", "claude-haiku-4-5-20251001"): [700, 40, 0, 0, 0],  # the title call: `total`'s rest is output
    ("2026-12-01", "gpt-5"): [2000, 400 + 200, 0, 1000, 200],  # no ledger: the message's usage
}


def test_amp_calls_are_counted_once_each_with_their_exact_tokens(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "amp")
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"amp files": 2, "amp lines": 2}, {"amp calls": 4})
    assert daily_tokens(store) == AMP_DAILY
    assert {(event.provider, event.host, event.route) for event in store.events()} == {("amp", "ampcode.com", "direct")}
    assert sum(event.cost_usd or 0 for event in store.events()) == pytest.approx(0.040185)  # ccusage's total
    assert scan_home(store, home).read == {"amp files": 0, "amp lines": 0}


def test_a_thread_amp_rewrites_with_a_new_call_adds_only_that_call(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "amp")
    scan_home(store, home)
    thread = json.loads((home / LEDGER_THREAD).read_text())
    thread["usageLedger"]["events"].append({"id": "ev-0004", "timestamp": "2026-12-01T00:05:00.000Z",
                                            "model": "claude-haiku-4-5-20251001",
                                            "tokens": {"input": 300, "output": 20}})
    (home / LEDGER_THREAD).write_text(json.dumps(thread))
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"amp files": 1, "amp lines": 1}, {"amp calls": 1})
    assert daily_tokens(store)[("2026-12-01", "claude-haiku-4-5-20251001")] == [700 + 300, 40 + 20, 0, 0, 0]
    assert store.count() == 5
