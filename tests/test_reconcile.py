"""Reconciliation against the store (SQLite and PostgreSQL): every class and finding, and
reruns over the same and overlapping windows leaving exactly the same results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from analytics.reconcile import reconcile
from offgate.cli import app
from offgate.config import ReconcileSettings
from offgate.store import Store
from offgate.store.reconciliation import Reconciliations
from offgate.store.schema import FindingRow, ReconciledCallRow
from offgate.store.spend import SpendLog
from tests.support.reconcile_data import NOW, T0, gateway_call, spend_row, world

SETTINGS = ReconcileSettings()
runner = CliRunner(env={"COLUMNS": "200"})
EXPECTED_CLASSES = {
    "g-by-response-id": ("gateway", "chatcmpl-1", "response_id"),
    "g-by-call-id": ("gateway", "chatcmpl-2", "litellm_call_id"),
    "g-by-likeness": ("gateway", "chatcmpl-3", "time_model_tokens"),
    "g-unlogged": ("gateway", None, None),
    "g-mismatch": ("gateway", "chatcmpl-5", "response_id"),
    "g-failed": ("gateway", None, None),
    "g-recent": ("gateway", None, None),
    "u-script": ("unmanaged", None, None),
    "u-estimated": ("unmanaged", None, None),
    "u-unpriced": ("unmanaged", None, None),
    "up-by-response-id": ("gateway-upstream", "chatcmpl-1", "response_id"),
    "up-by-likeness": ("gateway-upstream", "chatcmpl-7", "time_model_tokens"),
}
EXPECTED_FINDINGS = {
    "unlogged_gateway_call:g-unlogged": ("g-unlogged", None, 0.00021, None),
    "cost_mismatch:g-mismatch": ("g-mismatch", "chatcmpl-5", 0.00021, 0.00042),
    "spend_not_captured:chatcmpl-8": (None, "chatcmpl-8", None, 0.001),
}


@pytest.fixture
def world_store(store_url: str) -> Iterator[Store]:
    events, rows = world()
    with Store.open(store_url) as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
        yield store


def results(store: Store) -> dict[str, tuple]:
    database = store.database
    return {row.event_id: (row.classification, row.spend_request_id, row.matched_by)
            for row in ReconciledCallRow.select().execute(database)}


def findings(store: Store) -> dict[str, tuple]:
    return {f["id"]: (f["event_id"], f["spend_request_id"], f["our_cost_usd"], f["logged_cost_usd"])
            for f in Reconciliations(store).findings(None, None)}


def test_every_call_is_classified_and_paired(world_store):
    summary = reconcile(world_store, SETTINGS, since=T0 - timedelta(hours=1), now=NOW)
    assert results(world_store) == EXPECTED_CLASSES
    assert findings(world_store) == EXPECTED_FINDINGS
    assert summary.calls == 12
    assert summary.classes == {"gateway": 7, "gateway-upstream": 2, "unmanaged": 3}
    assert summary.matched_by == {"response_id": 3, "litellm_call_id": 1, "time_model_tokens": 2}
    assert summary.findings == {"unlogged_gateway_call": 1, "cost_mismatch": 1, "spend_not_captured": 1}
    found = {f["id"]: f for f in Reconciliations(world_store).findings(None, None)}
    mismatch = found["cost_mismatch:g-mismatch"]
    assert mismatch["detail"] == "LiteLLM logged $0.000420, offgate estimates $0.000210 (+100.0%)"
    assert found["spend_not_captured:chatcmpl-8"]["detail"] == (
        "LiteLLM logged openai/gpt-4o-mini ($0.001000) that no agent saw")
    assert mismatch["ts"] == T0 + timedelta(seconds=240)


def test_the_recent_call_becomes_a_finding_once_the_grace_period_is_over(world_store):
    reconcile(world_store, SETTINGS, since=T0 - timedelta(hours=1), now=NOW + timedelta(minutes=5))
    assert "unlogged_gateway_call:g-recent" in findings(world_store)


def test_reruns_over_the_same_and_overlapping_windows_change_nothing(world_store):
    reconcile(world_store, SETTINGS, since=None, now=NOW)
    first = results(world_store), findings(world_store)
    reconcile(world_store, SETTINGS, since=None, now=NOW)
    assert (results(world_store), findings(world_store)) == first
    # A window that starts between a call (0.0 s) and its rows (0.1 s), and one that ends there.
    for since in (T0 + timedelta(seconds=0.05), T0 + timedelta(seconds=121), T0 - timedelta(days=3)):
        reconcile(world_store, SETTINGS, since=since, now=NOW)
        assert (results(world_store), findings(world_store)) == first


def test_a_window_holds_off_rows_that_calls_before_it_were_paired_with(world_store):
    reconcile(world_store, SETTINGS, since=None, now=NOW)
    # chatcmpl-3 starts at 122 s, its call is at 120 s: outside this window, which must
    # neither pair the row again nor call it not captured.
    reconcile(world_store, SETTINGS, since=T0 + timedelta(seconds=121), now=NOW)
    assert results(world_store)["g-by-likeness"] == ("gateway", "chatcmpl-3", "time_model_tokens")
    assert "spend_not_captured:chatcmpl-3" not in findings(world_store)


def test_a_first_run_on_a_late_window_sees_rows_it_cannot_place(world_store):
    reconcile(world_store, SETTINGS, since=T0 + timedelta(seconds=121), now=NOW)
    assert "spend_not_captured:chatcmpl-3" in findings(world_store)
    assert set(results(world_store)) == {"g-unlogged", "g-mismatch", "g-failed", "g-recent", "u-script",
                                         "u-estimated", "u-unpriced", "up-by-likeness"}


def test_tolerances_come_from_the_settings(world_store):
    tight = ReconcileSettings(time_tolerance_s=1.0, cost_tolerance=1.5)
    reconcile(world_store, tight, since=None, now=NOW)
    assert results(world_store)["g-by-likeness"] == ("gateway", None, None)
    assert set(findings(world_store)) == {"unlogged_gateway_call:g-unlogged", "unlogged_gateway_call:g-by-likeness",
                                          "spend_not_captured:chatcmpl-8", "spend_not_captured:chatcmpl-3"}


def test_reconcile_command(tmp_path):
    events, rows = world()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
    result = runner.invoke(app, ["--home", str(tmp_path), "reconcile"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "reconciled 12 calls since the beginning against 7 LiteLLM spend rows",
        "  7 gateway, 2 gateway-upstream, 3 unmanaged",
        "  paired by response id 3, by LiteLLM call id 1, by time, model and tokens 2",
        "  findings: 2 unlogged gateway calls, 1 cost mismatches, 1 spend rows no agent saw",
    ]


def test_reconcile_reports_a_store_that_is_down(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFGATE_DATABASE_URL", "postgresql://offgate:secret@127.0.0.1:1/none")
    result = runner.invoke(app, ["--home", str(tmp_path), "reconcile"])
    assert result.exit_code == 1
    assert "PostgreSQL database postgresql://offgate:***@127.0.0.1:1/none" in result.output
    assert "secret" not in result.output


def test_a_row_that_logged_no_cost_is_unknown_never_zero(store_url):
    """A paired row without a cost is no mismatch (0 against our $0.00021 was one), and a
    row no agent saw says its cost is unknown."""
    events, rows = world()
    events.append(gateway_call("g-unpriced-row", 1000, response_id="chatcmpl-10"))
    rows += [spend_row("chatcmpl-10", 1000.1, spend=None), spend_row("chatcmpl-11", 1100, spend=None)]
    with Store.open(store_url) as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
        summary = reconcile(store, SETTINGS, since=None, now=NOW)
        found = {f["id"]: f for f in Reconciliations(store).findings(None, None)}
        assert results(store)["g-unpriced-row"] == ("gateway", "chatcmpl-10", "response_id")
    assert summary.findings == {"unlogged_gateway_call": 1, "cost_mismatch": 1, "spend_not_captured": 2}
    assert "cost_mismatch:g-unpriced-row" not in found
    unseen = found["spend_not_captured:chatcmpl-11"]
    assert (unseen["logged_cost_usd"], unseen["detail"]) == (
        None, "LiteLLM logged openai/gpt-4o-mini (cost unknown) that no agent saw")


def test_finding_rows_name_their_subject(world_store):
    reconcile(world_store, SETTINGS, since=None, now=NOW)
    database = world_store.database
    kinds = {(f.kind, f.event_id is None) for f in FindingRow.select().execute(database)}
    assert kinds == {("unlogged_gateway_call", False), ("cost_mismatch", False), ("spend_not_captured", True)}
