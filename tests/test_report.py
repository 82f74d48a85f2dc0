"""`offgate report` on a reconciled world whose every number is known: JSON, CSV, table, files."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from analytics.reconcile import reconcile
from offgate.cli import app
from offgate.config import ReconcileSettings
from offgate.store import Store
from offgate.store.spend import SpendLog
from offgate.store.unread import UnreadConnectionStore, UnreadCount, UnreadSource
from tests.support.reconcile_data import NOW, T0, gateway_call, spend_row, world

runner = CliRunner(env={"COLUMNS": "200"})
SINCE = "2026-01-05T00:00:00"
LOGGED = 0.00021 * 3 + 0.00042 + 0.00063 + 0.001  # every spend row of the window
UNLOGGED = 0.00021 * 2  # g-unlogged and g-recent (g-failed costs nothing)
MANAGED = LOGGED + UNLOGGED
UNMANAGED = 0.0006 + 0.0015  # u-script and u-estimated (u-unpriced has no price)


@pytest.fixture
def home(tmp_path):
    events, rows = world()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
        reconcile(store, ReconcileSettings(), since=None, now=NOW)
    return tmp_path


def offgate(home, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def report_json(home, *args: str) -> dict:
    result = offgate(home, "report", "--since", SINCE, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_totals(home):
    totals = report_json(home)["totals"]
    assert totals == {
        "managed_cost_usd": pytest.approx(MANAGED, rel=1e-12),
        "unmanaged_cost_usd": pytest.approx(UNMANAGED, rel=1e-12),
        "total_cost_usd": pytest.approx(MANAGED + UNMANAGED, rel=1e-12),
        "coverage": pytest.approx(MANAGED / (MANAGED + UNMANAGED), rel=1e-12),
        "managed_calls": 7 + 3,
        "unmanaged_calls": 3,
        "unmanaged_prompt_tokens": 4300,
        "unmanaged_completion_tokens": 1040,
        "logged_spend_usd": pytest.approx(LOGGED, rel=1e-12),
        "spend_rows": 7,
        "unpriced_spend_rows": 0,
        "gateway_calls": 7,
        "gateway_calls_matched": 4,
        "gateway_upstream_calls": 2,
        "unlogged_gateway_calls": 3,
        "unlogged_gateway_cost_usd": pytest.approx(UNLOGGED, rel=1e-12),
        "captured_calls": 12,
        "unreconciled_calls": 0,
    }
    assert totals["coverage"] == totals["managed_cost_usd"] / totals["total_cost_usd"]


def test_rows_by_provider_and_by_process(home):
    rows = report_json(home)["rows"]
    assert [(r["key"], r["unmanaged_calls"], r["prompt_tokens"], r["completion_tokens"], r["estimated_calls"],
             r["unpriced_calls"], r["managed_calls"]) for r in rows] == [
        ("anthropic", 1, 300, 40, 1, 0, 0), ("openai", 2, 4000, 1000, 0, 1, 0), ("litellm", 0, 0, 0, 0, 0, 7)]
    assert [r["unmanaged_cost_usd"] for r in rows] == pytest.approx([0.0015, 0.0006, 0.0])
    # The gateway's calls: what LiteLLM logged when it did (4), our estimate when not (3).
    assert rows[2]["managed_cost_usd"] == pytest.approx(0.00021 * 3 + 0.00042 + 0.00021 * 2)
    assert [r["coverage"] for r in rows] == [0.0, 0.0, 1.0]
    by_process = report_json(home, "--by", "process")["rows"]
    assert {r["key"]: r["unmanaged_calls"] for r in by_process} == {"node": 1, "python3": 2}
    assert {r["key"] for r in report_json(home, "--by", "key")["rows"]} == {"bbbbbbbbbbbb", "aaaaaaaaaaaa"}


def test_top_sources_daily_findings_and_estimates(home):
    doc = report_json(home, "--by", "user")
    assert [(s["user"], s["process"], s["provider"], s["calls"]) for s in doc["top_sources"]] == [
        ("bob", "node", "anthropic", 1), ("bob", "python3", "openai", 1), ("carol", "python3", "openai", 1)]
    assert [(d["day"], d["managed_calls"], d["unmanaged_calls"]) for d in doc["daily"]] == [
        ("2026-01-05", 9, 3), ("2026-01-06", 1, 0)]
    assert doc["daily"][0]["managed_cost_usd"] == pytest.approx(LOGGED + 0.00021)
    assert doc["daily"][1]["managed_cost_usd"] == pytest.approx(0.00021)
    assert sum(d["managed_cost_usd"] for d in doc["daily"]) == pytest.approx(doc["totals"]["managed_cost_usd"])
    assert doc["findings_by_kind"] == {"unlogged_gateway_call": 1, "cost_mismatch": 1, "spend_not_captured": 1}
    assert {(f["kind"], f["event_id"], f["request_id"]) for f in doc["findings"]} == {
        ("unlogged_gateway_call", "g-unlogged", None), ("cost_mismatch", "g-mismatch", "chatcmpl-5"),
        ("spend_not_captured", None, "chatcmpl-8")}
    estimated = doc["estimated"]
    assert (estimated["estimated_token_calls"], estimated["web_app_calls"], estimated["unpriced_calls"],
            estimated["unlogged_gateway_calls"]) == (1, 0, 1, 3)
    assert estimated["estimated_token_cost_usd"] == pytest.approx(0.0015)


def test_spend_rows_without_a_cost_are_counted_as_unknown_and_in_no_total(tmp_path):
    events, rows = world()
    events.append(gateway_call("g-unpriced-row", 1000, response_id="chatcmpl-10"))
    rows += [spend_row("chatcmpl-10", 1000.1, spend=None), spend_row("chatcmpl-11", 1100, spend=None)]
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
        reconcile(store, ReconcileSettings(), since=None, now=NOW)
    doc = report_json(tmp_path)
    totals = doc["totals"]
    assert (totals["spend_rows"], totals["unpriced_spend_rows"]) == (9, 2)
    assert totals["logged_spend_usd"] == pytest.approx(LOGGED, rel=1e-12)  # what is known, and nothing more
    assert totals["managed_cost_usd"] == pytest.approx(MANAGED, rel=1e-12)
    assert {row["key"]: row["managed_unpriced_calls"] for row in doc["rows"]} == {
        "anthropic": 0, "openai": 0, "litellm": 1}
    assert [(day["day"], day["unpriced_spend_rows"]) for day in doc["daily"]] == [("2026-01-05", 2),
                                                                                  ("2026-01-06", 0)]
    assert doc["estimated"]["unpriced_spend_rows"] == 2
    assert "2 LiteLLM spend rows logged no cost: managed spend leaves them out (unknown, not $0)." in (
        doc["estimated"]["notes"])
    table = offgate(tmp_path, "report", "--since", SINCE).stdout
    assert "  2 LiteLLM spend rows without a cost (in no total)\n" in table


def test_csv_rows(home):
    result = offgate(home, "report", "--since", SINCE, "--format", "csv")
    lines = list(csv.DictReader(io.StringIO(result.stdout.split("\n\n")[0])))  # the other tables follow
    assert [line["provider"] for line in lines] == ["anthropic", "openai", "litellm"]
    assert lines[1] == {"provider": "openai", "unmanaged_calls": "2", "unmanaged_cost_usd": "0.0006",
                        "prompt_tokens": "4000", "completion_tokens": "1000", "estimated_calls": "0",
                        "unpriced_calls": "1", "managed_calls": "0", "managed_unpriced_calls": "0",
                        "managed_cost_usd": "0.0", "coverage": "0.0"}


def test_table(home):
    result = offgate(home, "report", "--since", SINCE, "--by", "model")
    assert result.exit_code == 0
    assert f"Total spend ${MANAGED + UNMANAGED:.6f} = managed ${MANAGED:.6f} + unmanaged ${UNMANAGED:.6f}; " \
           f"coverage {MANAGED / (MANAGED + UNMANAGED):.1%}" in result.stdout
    assert "Unmanaged: 3 calls, 4,300 prompt + 1,040 completion tokens" in result.stdout
    assert "claude-sonnet-4-20250514" in result.stdout and "by model" in result.stdout
    assert "findings: 1 unlogged_gateway_call, 1 cost_mismatch, 1 spend_not_captured" in result.stdout


def test_out_writes_the_file(home):
    target = home / "report.json"
    result = offgate(home, "report", "--since", SINCE, "--format", "json", "--out", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text())["totals"]["unmanaged_calls"] == 3
    unwritable = offgate(home, "report", "--out", str(home / "missing" / "report.html"), "--format", "html")
    assert unwritable.exit_code == 1
    assert "cannot write" in unwritable.output


def test_an_empty_store_reports_nothing_to_cover(tmp_path):
    totals = report_json(tmp_path)["totals"]
    assert (totals["coverage"], totals["total_cost_usd"], totals["captured_calls"]) == (None, 0.0, 0)


def test_unreconciled_calls_count_by_route_and_say_so(tmp_path):
    events, _ = world()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add(events)
    doc = report_json(tmp_path)
    assert doc["totals"]["unreconciled_calls"] == 12
    assert doc["totals"]["unmanaged_calls"] == 3 + 2  # the gateway's own calls too, until reconciled
    assert any("run `offgate reconcile`" in note for note in doc["estimated"]["notes"])
    assert any("offgate spend import" in note for note in doc["estimated"]["notes"])


def test_bad_dimension_is_a_clear_error(tmp_path):
    result = offgate(tmp_path, "report", "--by", "planet")
    assert result.exit_code == 2
    assert "planet" in result.output


UNREAD = "3 connections from cursor to api2.cursor.sh could not be read (certificate not trusted or pinned)"


def test_connections_offgate_could_not_read_in_every_format(home):
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        seen = T0 + timedelta(hours=3)
        cursor = UnreadSource("api2.cursor.sh", "cursor", "/opt/cursor/cursor", "alice", "alice-laptop")
        UnreadConnectionStore(store).add([UnreadCount(cursor, seen.date(), seen, seen, 1, 2)])

    (entry,) = report_json(home)["unread_connections"]
    assert entry == {"process": "cursor", "host": "api2.cursor.sh", "connections": 3, "handshakes_failed": 1,
                     "passed_through": 2, "first_seen": seen.isoformat(), "last_seen": seen.isoformat(),
                     "message": UNREAD}
    table = offgate(home, "report", "--since", SINCE).stdout
    assert f"Connections offgate could not read:\n  {UNREAD}\n" in table
    html = offgate(home, "report", "--since", SINCE, "--format", "html").stdout
    assert '<td class="number" data-field="connections" data-value="3">3</td>' in html
    assert f"<td>{UNREAD}</td>" in html
    rows, unread, *_others = offgate(home, "report", "--since", SINCE, "--format", "csv").stdout.split("\n\n")
    assert [line["provider"] for line in csv.DictReader(io.StringIO(rows))] == ["anthropic", "openai", "litellm"]
    assert list(csv.DictReader(io.StringIO(unread))) == [{
        "unread_process": "cursor", "host": "api2.cursor.sh", "connections": "3", "handshakes_failed": "1",
        "passed_through": "2", "first_seen": seen.isoformat(), "last_seen": seen.isoformat(), "message": UNREAD}]
    # Outside the window, nothing.
    assert report_json(home, "--since", (seen + timedelta(days=1)).isoformat())["unread_connections"] == []
