"""GitHub Copilot CLI's OpenTelemetry file read into records: each model call once across the four
record kinds that tell of it (chat span, inference log, agent-turn log, turn summary), a record a
later one displaces withdrawn, the file Copilot names in its environment read too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from offgate.store import Store
from offgate.store.agent_logs import AgentLogStore
from tests.support.agent_log_homes import (  # noqa: F401 (the store fixture)
    FIXTURES,
    agent_home,
    daily_tokens,
    scan_context,
    scan_home,
    sqlite_store,
)
from workstation.agent_logs import scan_agent_logs
from workstation.scan import run_scan

OTEL_FILE = Path(".copilot/otel/copilot-otel-20261130-235500.jsonl")

# (day, model): uncached input, output (reasoning included), cache creation, cache read, reasoning.
# ccusage's `copilot daily --json` gives the same (tests/test_agent_logs_parity.py holds them equal).
COPILOT_DAILY = {
    ("2026-11-30", "claude-sonnet-4.5"): [19452 - 12000, 281, 0, 12000, 0],  # the chat span, not its log record
    ("2026-12-01", "claude-sonnet-4.5"): [21000 - 19000, 512, 900, 19000, 0],  # after midnight, same trace
    ("2026-12-01", "gpt-5-mini"): [4000 + 1600, 300 + 220, 0, 1000 + 4800, 128],  # inference logs: no chat span
    ("2026-12-01", "gpt-4.1"): [3000 + 3500, 150 + 90 + 567, 0, 0, 0],  # two agent turns; a summary's total
}


def test_copilot_calls_are_counted_once_across_the_record_kinds_that_tell_of_them(
        store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "copilot-cli")
    result = scan_home(store, home)
    assert (result.read, result.kept) == ({"copilot-cli files": 1, "copilot-cli lines": 1}, {"copilot-cli calls": 7})
    assert daily_tokens(store) == COPILOT_DAILY
    events = store.events()
    assert {(event.provider, event.host, event.path, event.route) for event in events} == {
        ("github-copilot", "api.githubcopilot.com", "/chat/completions", "direct")}
    assert "copilot-cli runs on a subscription plan: its costs are API-equivalent" in result.notes
    # Copilot's "claude-sonnet-4.5" is priced as claude-sonnet-4-5, as ccusage does: $3 / $15 per million,
    # cache reads $0.30.
    [first] = [event for event in events if event.ts.date().isoformat() == "2026-11-30"]
    assert first.cost_usd == pytest.approx(7452 * 3e-6 + 12000 * 3e-7 + 281 * 15e-6)
    assert first.cost_note is not None and first.cost_note.startswith("api-equivalent (subscription)")
    assert {event.response_id for event in events} == {"resp-acme-a1", "resp-acme-a2", "resp-acme-b1", "resp-acme-b2",
                                                       None}
    assert scan_home(store, home).read == {"copilot-cli files": 0, "copilot-cli lines": 0}


def test_a_chat_span_written_after_the_turn_summary_withdraws_the_summarys_record(
        store: Store, tmp_path: Path) -> None:
    """Copilot was writing trace D's chat span when the first scan came: the turn's summary span
    was its only record then. Finished, the chat span counts and the summary's record goes."""
    home = agent_home(tmp_path, "copilot-cli")
    scan_home(store, home)
    assert daily_tokens(store)[("2026-12-01", "gpt-4.1")] == [6500, 240 + 567, 0, 0, 0]
    with open(home / OTEL_FILE, "a") as file:
        file.write((FIXTURES / "copilot-cli" / "finished_last_line.jsonl").read_text())
    result = scan_home(store, home)
    assert result.kept == {"copilot-cli calls": 1}
    assert daily_tokens(store)[("2026-12-01", "gpt-4.1")] == [6500 + 800, 240 + 60, 0, 0, 0]
    assert store.count() == 7
    [summary] = [row for row in AgentLogStore(store).summary() if row["agent"] == "copilot-cli"]
    assert (summary["files"], summary["records"]) == (1, 7)


def test_a_calls_inference_log_counted_before_its_chat_span_was_written_is_withdrawn(
        store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "copilot-cli")
    otel = home / OTEL_FILE
    lines = otel.read_text().splitlines(keepends=True)
    otel.write_text("".join(lines[:2]))  # the metric and call A1's inference log
    scan_home(store, home)
    assert [(event.response_id, event.completion_tokens) for event in store.events()] == [("resp-acme-a1", 281)]
    otel.write_text("".join(lines[:3]))  # then its chat span
    result = scan_home(store, home)
    assert result.kept == {"copilot-cli calls": 1}
    assert [(event.response_id, event.completion_tokens) for event in store.events()] == [("resp-acme-a1", 281)]
    [summary] = AgentLogStore(store).summary()
    assert summary["records"] == 1


def test_the_file_copilots_environment_names_is_read_beside_its_otel_folder(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "copilot-cli")
    elsewhere = tmp_path / "exports" / "session.jsonl"
    elsewhere.parent.mkdir()
    (home / OTEL_FILE).rename(elsewhere)
    context = dataclasses.replace(scan_context(store, home), env={"COPILOT_OTEL_FILE_EXPORTER_PATH": str(elsewhere)})
    [result] = run_scan(context, [("agent-logs", scan_agent_logs)])
    assert result.kept == {"copilot-cli calls": 7}
    assert daily_tokens(store) == COPILOT_DAILY


def test_a_file_copilot_starts_afresh_keeps_the_calls_read_from_it_before(store: Store, tmp_path: Path) -> None:
    """Copilot writing a new session over an exporter file it already filled: the calls counted
    from what the file held are history, not records a later one displaced."""
    home = agent_home(tmp_path, "copilot-cli")
    scan_home(store, home)
    otel = home / OTEL_FILE
    trace_b = [line for line in otel.read_text().splitlines(keepends=True) if "4bf92f3577b34da6" in line]
    otel.write_text("".join(trace_b))
    assert scan_home(store, home).kept == {"copilot-cli calls": 0}
    assert daily_tokens(store) == COPILOT_DAILY
    [summary] = AgentLogStore(store).summary()
    assert summary["records"] == 7


def test_records_their_withdrawal_and_read_positions_are_saved_alike_on_both_backends(
        store_url: str, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "copilot-cli")
    with Store.open(store_url) as store:
        scan_home(store, home)
        with open(home / OTEL_FILE, "a") as file:
            file.write((FIXTURES / "copilot-cli" / "finished_last_line.jsonl").read_text())
        assert scan_home(store, home).kept == {"copilot-cli calls": 1}
        assert daily_tokens(store)[("2026-12-01", "gpt-4.1")] == [6500 + 800, 240 + 60, 0, 0, 0]
        [summary] = AgentLogStore(store).summary()
        assert (summary["files"], summary["records"], store.count()) == (1, 7, 7)
        assert scan_home(store, home).read == {"copilot-cli files": 0, "copilot-cli lines": 0}
