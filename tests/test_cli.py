"""The `offgate` command as a user types it: output, files and exit codes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from offgate.catalog import PROVIDERS
from offgate.cli import app
from offgate.events import UsageEvent
from offgate.store.schema import MIGRATIONS
from tests.support.fixture_files import fixture_names, load_fixture, session_fixture_names

# Wide enough that tables do not fold long model names.
runner = CliRunner(env={"COLUMNS": "200"})


def offgate(home, *args: str, input: str | None = None):
    return runner.invoke(app, ["--home", str(home), *args], input=input, catch_exceptions=False)


def sample_events() -> list[UsageEvent]:
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        UsageEvent(id="e1", ts=now - timedelta(minutes=5), provider="openai", endpoint="chat.completions",
                   host="api.openai.com", path="/v1/chat/completions", model="gpt-4o-mini",
                   prompt_tokens=1000, completion_tokens=500, cost_usd=0.00045, process_name="python3"),
        UsageEvent(id="e2", ts=now - timedelta(minutes=3), provider="anthropic", endpoint="messages",
                   host="api.anthropic.com", path="/v1/messages", model="claude-sonnet-4-20250514",
                   prompt_tokens=2000, completion_tokens=100, cost_usd=0.0075, process_name="node",
                   tokens_estimated=True),
        UsageEvent(id="e3", ts=now - timedelta(days=3), provider="openai", host="api.openai.com",
                   path="/v1/embeddings", model="mystery-model", prompt_tokens=10, completion_tokens=0,
                   cost_note="no price for model mystery-model"),
    ]


@pytest.fixture
def home_with_events(tmp_path):
    lines = "\n".join(e.model_dump_json() for e in sample_events())
    (tmp_path / "in.jsonl").write_text(lines + "\n")
    result = offgate(tmp_path, "events", "import", str(tmp_path / "in.jsonl"))
    assert result.exit_code == 0, result.output
    assert "imported 3 new records" in result.output
    return tmp_path


def test_events_json_round_trips_through_import(home_with_events, tmp_path_factory):
    exported = offgate(home_with_events, "events", "--json")
    assert exported.exit_code == 0
    records = json.loads(exported.stdout)
    assert [r["id"] for r in records] == ["e3", "e1", "e2"]
    assert records[1]["ts"].endswith("Z")
    assert set(records[0]) >= {"id", "ts", "source", "route", "provider", "app", "endpoint", "host", "method",
                               "path", "model", "streamed", "status_code", "prompt_tokens", "completion_tokens",
                               "cached_tokens", "cache_write_tokens", "reasoning_tokens", "tokens_estimated",
                               "cost_usd", "cost_note", "duration_ms", "ttft_ms", "request_bytes",
                               "response_bytes", "response_id", "litellm_call_id", "process_name", "pid",
                               "exe", "user", "device", "key_fingerprint", "parse_status"}
    other = tmp_path_factory.mktemp("other")
    (other / "dump.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    assert offgate(other, "events", "import", str(other / "dump.jsonl")).exit_code == 0
    again = json.loads(offgate(other, "events", "--json").stdout)
    assert again == records
    # Importing twice adds nothing: ids make it idempotent.
    result = offgate(other, "events", "import", str(other / "dump.jsonl"))
    assert "imported 0 new records (3 already present)" in result.output


def test_events_since_filters(home_with_events):
    records = json.loads(offgate(home_with_events, "events", "--since", "1h", "--json").stdout)
    assert [r["id"] for r in records] == ["e1", "e2"]
    table = offgate(home_with_events, "events", "--since", "1h")
    assert "claude-sonnet-4-20250514" in table.output and "~2,000" in table.output
    assert "2 calls" in table.output


def test_the_events_table_writes_token_counts_with_the_reports_one_formatter(tmp_path):
    from analytics.report.values import count
    from offgate.cli import common

    big = UsageEvent(id="big", ts=datetime.now(UTC), provider="openai", host="api.openai.com", path="/v1/responses",
                     model="gpt-4o", prompt_tokens=1_234_567, completion_tokens=None)
    (tmp_path / "in.jsonl").write_text(big.model_dump_json() + "\n")
    offgate(tmp_path, "events", "import", str(tmp_path / "in.jsonl"))
    (row,) = [line.split("│") for line in offgate(tmp_path, "events").stdout.splitlines() if "gpt-4o" in line]
    assert [row[5].strip(), row[6].strip()] == [count(1_234_567), count(None)] == ["1,234,567", "-"]
    assert not hasattr(common, "count_text")  # the command line had a copy of it


def test_import_reports_bad_lines_and_keeps_good_ones(tmp_path):
    good = sample_events()[0].model_dump_json()
    (tmp_path / "mixed.jsonl").write_text(f'{good}\n{{"id": "x", "host": 5}}\nnot json\n')
    result = offgate(tmp_path, "events", "import", str(tmp_path / "mixed.jsonl"))
    assert result.exit_code == 2
    assert "imported 1 new records" in result.output
    assert "line 2: host:" in result.output
    assert "line 3:" in result.output
    assert "2 lines could not be read; the others were imported" in result.output
    assert len(json.loads(offgate(tmp_path, "events", "--json").stdout)) == 1


def test_report_json_totals(home_with_events):
    # No gateway in sight: every call is unmanaged, every number is the calls' own.
    result = offgate(home_with_events, "report", "--since", "7d", "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["totals"]["unmanaged_calls"] == 3
    assert doc["totals"]["unmanaged_prompt_tokens"] == 3010
    assert doc["totals"]["unmanaged_cost_usd"] == pytest.approx(0.00795)
    assert doc["totals"]["coverage"] == 0.0
    assert doc["estimated"]["unpriced_calls"] == 1
    assert doc["estimated"]["estimated_token_calls"] == 1
    by_provider = {row["key"]: row for row in doc["rows"]}
    assert by_provider["anthropic"]["unmanaged_cost_usd"] == pytest.approx(0.0075)
    assert by_provider["openai"]["unmanaged_calls"] == 2
    by_process = json.loads(offgate(home_with_events, "report", "--by", "process", "--format", "json").stdout)
    assert {row["key"] for row in by_process["rows"]} == {"python3", "node", None}
    recent = json.loads(offgate(home_with_events, "report", "--since", "1h", "--format", "json").stdout)
    assert recent["totals"]["unmanaged_calls"] == 2


def test_report_table(home_with_events):
    result = offgate(home_with_events, "report", "--by", "model")
    assert result.exit_code == 0
    assert "Total spend $0.007950 = managed $0.000000 + unmanaged $0.007950; coverage 0.0%" in result.output
    assert "by model" in result.output


def test_certs_path_creates_ca_with_private_key_0600(tmp_path):
    result = offgate(tmp_path, "certs", "path")
    cert = tmp_path / "ca" / "mitmproxy-ca-cert.pem"
    assert result.stdout.strip() == str(cert)
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    key = tmp_path / "ca" / "mitmproxy-ca.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made = key.read_bytes()
    assert offgate(tmp_path, "certs", "path").stdout == result.stdout
    assert key.read_bytes() == made  # kept, not remade


def test_catalog_json_lists_the_providers():
    result = runner.invoke(app, ["catalog", "--json"])
    entries = {e["provider"]: e for e in json.loads(result.stdout)}
    assert {"openai", "azure", "anthropic", "gemini"} <= set(entries)
    assert "api.openai.com" in entries["openai"]["hosts"]
    assert "chat.completions" in entries["openai"]["endpoints"]
    assert "*.openai.azure.com" in entries["azure"]["hosts"]
    assert entries["anthropic"]["usage"] == "reported"


# Catalog entries with no recorded call in tests/fixtures, each with the reason. Every
# other entry must have one, so that no provider goes untested.
WITHOUT_FIXTURE: dict[str, str] = {}


def test_catalog_json_lists_every_entry_and_each_has_a_recorded_call():
    entries = json.loads(runner.invoke(app, ["catalog", "--json"]).stdout)
    assert [e["provider"] for e in entries] == [p.name for p in PROVIDERS]
    recorded = {load_fixture(name).expected["provider"] for name in fixture_names() + session_fixture_names()}
    for entry, provider in zip(entries, PROVIDERS, strict=True):
        assert entry["hosts"] == list(provider.hosts) and entry["hosts"]
        assert entry["endpoints"] == sorted({rule.endpoint for rule in provider.paths}) and entry["endpoints"]
        assert entry["usage"] in ("reported", "estimated", "counted")
        assert (provider.name in recorded) != (provider.name in WITHOUT_FIXTURE), (
            f"{provider.name}: record a call in tests/fixtures, or say in WITHOUT_FIXTURE why there is none")
    by_name = {e["provider"]: e for e in entries}
    assert by_name["openai"]["websocket_endpoints"] == ["realtime", "responses"]
    assert by_name["gemini"]["websocket_endpoints"] == ["BidiGenerateContent"]
    assert (by_name["microsoft-copilot"]["websocket_endpoints"], by_name["microsoft-copilot"]["usage"]) == (
        ["chat"], "estimated")


def test_status_says_what_is_collected(home_with_events):
    result = offgate(home_with_events, "status")
    assert result.exit_code == 0
    assert f"home:      {home_with_events}" in result.output
    assert "not collected: API keys, prompt and reply text" in result.output
    assert f"records:   3 in all, schema version {len(MIGRATIONS)}" in result.output
    assert "unread:    none in the last 30d" in result.output
    assert "alerts:    0 open (offgate alerts)" in result.output
    assert "dashboard: http://127.0.0.1:8765 (offgate up or offgate dashboard prints the link" in result.output
    assert "notify:    desktop (alerts of severity warning and above)" in result.output


def test_an_old_config_with_prompt_storage_loads_with_a_warning_and_status_claims_nothing(home_with_events):
    (home_with_events / "config.toml").write_text("[privacy]\nstore_prompts = true\n")
    result = offgate(home_with_events, "status")
    assert result.exit_code == 0, result.output
    assert "not collected: API keys, prompt and reply text\n" in result.stdout
    assert "prompt storage" not in result.stdout
    assert result.stderr == (f"offgate: warning: {home_with_events / 'config.toml'}: privacy.store_prompts is no "
                             "longer a setting and is ignored (offgate never stores prompt or reply text); "
                             "remove it\n")


def test_bad_since_is_a_clear_error(tmp_path):
    result = offgate(tmp_path, "events", "--since", "yesterday")
    assert result.exit_code == 2
    assert "--since: 'yesterday' is not a time" in result.output


def test_home_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    result = offgate(tmp_path / "file", "status")
    assert result.exit_code == 2
    assert str(tmp_path / "file") in result.output


def test_bad_gateway_url_is_a_clear_error(tmp_path):
    result = offgate(tmp_path, "proxy", "--gateway", "ftp://gw")
    assert result.exit_code == 2
    assert "--gateway: gateway URL 'ftp://gw' must be http:// or https://" in result.output


def test_bad_database_url_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFGATE_DATABASE_URL", "mysql://root:secret@db/offgate")
    result = offgate(tmp_path, "events")
    assert result.exit_code == 2
    assert "mysql://" in result.output and "secret" not in result.output


@pytest.mark.e2e
def test_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "offgate", "--home", str(tmp_path), "proxy", "--listen-port", str(port)],
            capture_output=True, text=True, timeout=60, env={**os.environ},
        )
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


@pytest.mark.e2e
def test_unknown_mitmproxy_option_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "offgate", "--home", str(tmp_path), "proxy", "--listen-port", "0",
         "--set", "no_such_option=1"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "no_such_option" in result.stderr


@pytest.mark.e2e
def test_negative_passthrough_minutes_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "offgate", "--home", str(tmp_path), "proxy", "--listen-port", "0",
         "--set", "offgate_passthrough_minutes=-1"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "offgate_passthrough_minutes: -1 is negative" in " ".join(result.stderr.split())


@pytest.mark.parametrize("command", [[], ["proxy"], ["events"], ["events", "import"], ["report"], ["reconcile"],
                                     ["spend"], ["spend", "import"],
                                     ["catalog"], ["status"], ["certs"], ["certs", "path"]])
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
