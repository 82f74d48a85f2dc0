"""The coding agents' own usage logs read into records: each call once, whatever the scans'
timing (repeated lines, a line still being written, a file rewritten, a file read in two
halves), and nothing of the logs' text, paths or keys stored."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offgate.cli import app
from offgate.config import Settings
from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.agent_log_homes import (
    COMMAND,
    FIXTURES,
    HOME_PATHS,
    KEYS,
    PROMPT,
    agent_home,
    daily_totals,
    scan_context,
    scan_home,
)
from workstation.agent_logs import scan_agent_logs
from workstation.scan import ScanContext, ScanResult, run_scan

CLAUDE_PROJECT = Path(".claude/projects/-home-alice-src-acme-payments")
CLAUDE_SESSION = CLAUDE_PROJECT / "6f1c2b9e-3d4a-4c55-9a0e-2b7d1e8f4a10.jsonl"
CODEX_SESSION = Path(".codex/sessions/2026/11/30/rollout-2026-11-30T23-50-00-019a-codex-session.jsonl")

# (day, model): uncached input, output, cache creation, cache read; as `ccusage daily --json` says
# (tests/test_agent_logs_parity.py holds the two equal).
CLAUDE_DAILY = {
    ("2026-11-29", "claude-sonnet-4-5-20250929"): [20, 250, 4000, 3000],
    ("2026-11-30", "claude-sonnet-4-5-20250929"): [3, 412, 2210, 14210],  # three lines, one call
    ("2026-12-01", "claude-sonnet-4-5-20250929"): [5, 981, 640, 16420],  # after midnight, same session
    ("2026-12-01", "claude-sonnet-4-20250514"): [1200, 300, 0, 0],
    ("2026-12-01", "claude-haiku-4-5-20251001"): [4100, 580, 1500, 20400],  # the subagent's two calls included
}
CODEX_DAILY = {
    ("2026-11-28", "gpt-5-codex"): [5000, 650, 0, 2000],  # archived_sessions
    ("2026-11-30", "gpt-5-codex"): [3000, 800, 0, 9000],
    ("2026-12-01", "gpt-5-codex"): [6000, 600, 0, 12000],  # one turn told by running totals only
    ("2026-12-01", "gpt-5"): [904, 1000, 0, 4096],  # the model of the second turn_context
}


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        yield store


def tokens(store: Store) -> dict[tuple[str, str], list[float]]:
    return {key: row[:4] for key, row in daily_totals(store.events()).items()}


def test_claude_code_calls_are_counted_once_each_with_their_exact_tokens(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "claude-code")
    result = scan_home(store, home)
    assert result.read == {"claude-code files": 3, "claude-code lines": 12}  # the cut last line waits
    assert result.kept == {"claude-code calls": 7}
    assert tokens(store) == CLAUDE_DAILY
    events = store.events()
    assert {event.source for event in events} == {"agent-log"}
    assert {event.response_id for event in events} >= {"msg_01AcmeA", "msg_01SubA"}
    assert all(event.cost_usd and event.cost_usd > 0 for event in events)
    # Signed in with a Claude plan (~/.claude.json has an oauthAccount): API-equivalent, said so.
    assert all(event.cost_note and event.cost_note.startswith("api-equivalent (subscription)") for event in events)
    retired = next(event for event in events if event.model == "claude-sonnet-4-20250514")
    assert retired.cost_usd == pytest.approx(1200 * 3e-6 + 300 * 15e-6)
    assert "retired model: last listed price (litellm 1.100.0, 2026-09-06)" in (retired.cost_note or "")


def test_a_rescan_reads_only_what_was_appended_and_the_line_being_written_counts_once_done(
        store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "claude-code")
    scan_home(store, home)
    assert scan_home(store, home).read == {"claude-code files": 0, "claude-code lines": 0}
    session = home / CLAUDE_SESSION
    cut = session.read_bytes()
    cut_line = cut[cut.rindex(b"\n") + 1:]
    finished = (FIXTURES / "claude-code" / "finished_last_line.jsonl").read_bytes()
    assert finished.startswith(cut_line) and len(cut_line) < len(finished)
    with open(session, "ab") as file:  # Claude Code finishes the line it was writing
        file.write(finished[len(cut_line):])
    result = scan_home(store, home)
    assert result.read == {"claude-code files": 1, "claude-code lines": 1}
    assert result.kept == {"claude-code calls": 1}
    assert store.count() == 8


def test_a_rewritten_or_cut_file_is_read_again_without_counting_twice(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "claude-code")
    scan_home(store, home)
    session = home / CLAUDE_SESSION
    lines = session.read_bytes().split(b"\n")
    # Rewritten in place (a new file under the old name): the first two calls' lines only.
    replacement = session.with_suffix(".new")
    replacement.write_bytes(b"\n".join(lines[:5]) + b"\n")
    os.replace(replacement, session)
    result = scan_home(store, home)
    assert result.read == {"claude-code files": 1, "claude-code lines": 5}
    assert result.kept == {"claude-code calls": 0}
    # Cut short in place (same inode), then written again with its calls and a new one.
    with open(session, "r+b") as file:
        file.truncate(0)
        file.write(b"\n".join(lines[:7]) + b"\n")
    assert scan_home(store, home).kept == {"claude-code calls": 0}
    assert tokens(store) == CLAUDE_DAILY


def test_a_repeated_message_split_across_two_scans_keeps_its_largest_counts(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "claude-code")
    session = home / CLAUDE_SESSION
    lines = session.read_bytes().split(b"\n")
    session.write_bytes(b"\n".join(lines[:3]) + b"\n")  # the reply's first streamed line: 2 output tokens
    scan_home(store, home)
    with open(session, "ab") as file:
        file.write(b"\n".join(lines[3:]))
    scan_home(store, home)
    assert tokens(store) == CLAUDE_DAILY


def test_codex_turns_from_running_totals_read_in_two_halves_equal_one_read(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "codex")
    session = home / CODEX_SESSION
    whole = session.read_bytes()
    lines = whole.split(b"\n")
    session.write_bytes(b"\n".join(lines[:7]) + b"\n")  # up to the turn after midnight
    first = scan_home(store, home)
    with open(session, "ab") as file:
        file.write(whole[len(b"\n".join(lines[:7]) + b"\n"):])
    second = scan_home(store, home)
    assert (first.kept, second.kept) == ({"codex calls": 3}, {"codex calls": 2})
    assert tokens(store) == CODEX_DAILY
    events = store.events()
    assert {(event.host, event.route) for event in events} == {("api.openai.com", "direct")}
    assert not any((event.cost_note or "").startswith("api-equivalent") for event in events)  # an API key


def test_an_agent_pointed_at_a_configured_gateway_is_managed(store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "claude-code")
    (home / ".claude" / "settings.json").write_text(
        json.dumps({"env": {"ANTHROPIC_BASE_URL": "https://litellm.acme.internal:4000"}}))
    scan_home(store, home, Settings.model_validate({"proxy": {"gateways": ["https://litellm.acme.internal:4000"]}}))
    assert {(event.route, event.host) for event in store.events()} == {("gateway", "litellm.acme.internal")}


def test_the_store_keeps_no_prompt_command_line_key_or_home_path_from_the_logs(tmp_path: Path) -> None:
    database = tmp_path / "offgate.db"
    with Store.open(f"sqlite:///{database}") as store:
        for agent in ("claude-code", "codex", "gemini-cli", "qwen-code", "opencode", "goose", "amp", "copilot-cli"):
            home = agent_home(tmp_path, agent)
            scan_home(store, home)
        assert store.count() == 12 + 5 + 2 + 4 + 3 + 4 + 7
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("offgate.db*"))
    assert len(stored) > 10_000
    needles = [PROMPT, COMMAND, "hunter2", *KEYS, *HOME_PATHS, str(tmp_path), "6f1c2b9e-3d4a", "rollout-2026",
               "standup.md", "9f2c4e1a7b3d", "a3c9e1f0", "session-2026", "ses_4f1a2b3c", "msg_5a6b7c8d",
               "/home/alice/notes", "20261201_1", "T-7c1e9a2b", "ev-0001", "acme0000q001", "c0ffee00-acme",
               "copilot-otel-2026", "0af7651916cd43dd", "b7ad6b7169203331"]
    assert [needle for needle in needles if needle.encode() in stored] == []



def test_a_log_line_written_minutes_after_the_proxy_saw_the_request_start_is_the_same_call(
        store: Store, tmp_path: Path) -> None:
    # A long streamed reply: the proxy records the request's start, Claude Code the reply's end.
    started = datetime(2026, 12, 1, 0, 0, 12, tzinfo=UTC) - timedelta(minutes=6)
    store.add([UsageEvent(ts=started, host="api.anthropic.com", path="/v1/messages", provider="anthropic",
                          model="claude-sonnet-4-5-20250929", response_id="msg_01AcmeB", device="ws-17",
                          prompt_tokens=5 + 16420 + 640, completion_tokens=981)])
    scan_home(store, agent_home(tmp_path, "claude-code"))
    same_call = [event for event in store.events() if event.response_id == "msg_01AcmeB"]
    assert [(event.source, event.witnesses) for event in same_call] == [("proxy", "agent-log,proxy")]
    assert store.count() == 7


def test_offgate_scan_says_what_it_read_and_status_says_when(tmp_path: Path) -> None:
    user_home = agent_home(tmp_path, "claude-code")
    offgate_home = tmp_path / "offgate-home"
    runner = CliRunner()
    scanned = runner.invoke(app, ["--home", str(offgate_home), "scan", "--user-home", str(user_home), "--json"],
                            catch_exceptions=False)
    assert scanned.exit_code == 0, scanned.output
    said = json.loads(scanned.stdout)
    assert [result["scanner"] for result in said] == ["agent-logs", "inventory", "shell-history"]
    assert said[0] == {
        "scanner": "agent-logs", "read": {"claude-code files": 3, "claude-code lines": 12},
        "kept": {"claude-code calls": 7}, "error": None,
        "notes": ["claude-code runs on a subscription plan: its costs are API-equivalent"]}
    assert said[2]["read"] == {"history files": 0, "history entries": 0}
    again = runner.invoke(app, ["--home", str(offgate_home), "scan", "--user-home", str(user_home)],
                          catch_exceptions=False)
    assert again.stdout.splitlines()[0] == ("agent-logs: read 0 claude-code files, 0 claude-code lines; "
                                            "new records: 0 claude-code calls")
    status = runner.invoke(app, ["--home", str(offgate_home), "status"], catch_exceptions=False).stdout
    assert re.search(r"^           claude-code: 3 files, 7 calls kept, last read \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$",
                     status, re.MULTILINE), status
    assert "never their text, commands, file paths or project names" in status


def test_a_failing_scanner_is_reported_and_the_others_still_run(store: Store, tmp_path: Path) -> None:
    def broken(context: ScanContext) -> ScanResult:
        raise OSError("the disk went away")

    context = scan_context(store, agent_home(tmp_path, "claude-code"))
    results = run_scan(context, [("broken", broken), ("agent-logs", scan_agent_logs)])
    assert [(result.scanner, result.error, result.kept) for result in results] == [
        ("broken", "OSError: the disk went away", {}), ("agent-logs", None, {"claude-code calls": 7})]


def test_codex_through_its_configured_gateway_on_a_chatgpt_plan_is_managed_and_api_equivalent(
        store: Store, tmp_path: Path) -> None:
    home = agent_home(tmp_path, "codex")
    (home / ".codex" / "config.toml").write_text(
        'model_provider = "acme"\n[model_providers.acme]\nname = "Acme LiteLLM"\n'
        'base_url = "https://litellm.acme.internal:4000/v1"\n')
    (home / ".codex" / "auth.json").write_text(json.dumps({"auth_mode": "chatgpt"}))
    result = scan_home(store, home, Settings.model_validate({"proxy": {"gateways": ["https://litellm.acme.internal:4000"]}}))
    events = store.events()
    assert {(event.route, event.host, event.path) for event in events} == {
        ("gateway", "litellm.acme.internal", "/v1/responses")}
    assert all((event.cost_note or "").startswith("api-equivalent (subscription)") for event in events)
    assert result.notes == ["codex runs on a subscription plan: its costs are API-equivalent"]


def test_a_line_whose_reply_text_holds_a_lone_surrogate_still_counts(store: Store, tmp_path: Path) -> None:
    """Claude Code writes a reply cut inside an emoji as an escaped lone surrogate: valid JSON to
    Python's parser, refused by the faster one offgate tries first; the call still counts."""
    home = tmp_path / "home"
    session = home / CLAUDE_SESSION
    session.parent.mkdir(parents=True)
    line = {"type": "assistant", "sessionId": "s1", "requestId": "req_surrogate", "timestamp": "2026-12-02T10:00:00Z",
            "message": {"id": "msg_surrogate", "model": "claude-sonnet-4-5-20250929",
                        "content": [{"type": "text", "text": "cut \ud83d"}],
                        "usage": {"input_tokens": 7, "output_tokens": 11}}}
    session.write_text(json.dumps(line) + "\n")
    assert scan_home(store, home).kept == {"claude-code calls": 1}
    assert tokens(store) == {("2026-12-02", "claude-sonnet-4-5-20250929"): [7, 11, 0, 0]}
