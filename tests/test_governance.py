"""Governance in process: approval requests and their audit in the store (SQLite and
PostgreSQL), the hook's table loaded from managed and unmanaged spend, the decisions it makes,
the approvers' commands, and the hook failing closed when asked to."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from peewee import Table as SqlTable
from typer.testing import CliRunner

from governance.decisions import refusal_for
from governance.estimate import estimated_cost_usd
from governance.table import Table, load_table
from offgate.cli import app
from offgate.events import UsageEvent
from offgate.policy import CallFacts, PolicyRule, PolicySettings
from offgate.pricing import cost_for_key
from offgate.store import Store
from offgate.store.alerts import AlertStore
from offgate.store.approvals import APPROVED, DENIED, PENDING, ApprovalStore, Hold, UnknownRequestError
from offgate.store.people import People, Person
from offgate.store.schema import MIGRATIONS, key_approval_requests_by_request, tell_requesters_of_decisions
from offgate.store.spend import SpendLog, SpendRecord
from offgate.tokens import estimate_prompt

runner = CliRunner(env={"COLUMNS": "250"})
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
CEILING = PolicyRule(name="big calls", action="require_approval", model=("gpt-4o*",), max_cost_per_request=0.01)
TEAM_BUDGET = PolicyRule(name="data budget", action="require_approval", team=("data",), monthly_budget_usd=10,
                         budget_for="team")
HOLD = Hold(rule="big calls", reason="too big", user="alice", team=None, model="gpt-4o")


def test_asking_again_is_the_same_request_and_every_decision_is_audited(store_url: str) -> None:
    with Store.open(store_url) as store:
        approvals = ApprovalStore(store)
        assert approvals.ask([HOLD, HOLD], "gateway hook", NOW) == [HOLD.request_id]
        assert approvals.ask([HOLD], "gateway hook", NOW + timedelta(minutes=1)) == []
        [request] = approvals.requests(PENDING)
        assert (request.id, request.times_requested, request.user) == (HOLD.request_id, 3, "alice")

        approved = approvals.approve(HOLD.request_id, "carol", timedelta(hours=1), 2.5, "launch", now=NOW)
        assert approved.status == APPROVED and approved.lets_through(NOW + timedelta(minutes=59))
        assert not approved.lets_through(NOW + timedelta(hours=1))
        # Refused again after it expired: pending again, and the approvers are to be told again.
        assert approvals.ask([HOLD], "gateway hook", NOW + timedelta(hours=2)) == [HOLD.request_id]
        denied = approvals.deny(HOLD.request_id, "carol", "not this month", now=NOW + timedelta(hours=3))
        assert (denied.status, denied.note) == (DENIED, "not this month")
        assert approvals.ask([HOLD], "gateway hook", NOW + timedelta(hours=4)) == []  # stays denied
        with pytest.raises(UnknownRequestError, match="no approval request 'ap-nope'"):
            approvals.approve("ap-nope", "carol", None, None)
        audit = approvals.audit(HOLD.request_id)
    assert [(entry.action, entry.actor) for entry in audit] == [
        ("requested", "gateway hook"), ("approved", "carol"), ("requested", "gateway hook"), ("denied", "carol")]
    assert audit[1].detail == "until 2026-12-07 13:00:00 UTC, up to $2.50, launch"


def test_each_decision_is_told_to_the_requester_once_and_a_new_decision_again(store_url: str) -> None:
    no_model = Hold(rule="data budget", reason="spent", user="bob", team="data", model=None)
    with Store.open(store_url) as store:
        People(store).replace([Person("bob", litellm_user_id="bob@example.com")], "people.csv")
        approvals = ApprovalStore(store)
        approvals.ask([HOLD, no_model], "gateway hook", NOW)
        assert approvals.raise_decision_alerts(NOW) == []  # nothing decided yet
        approvals.approve(no_model.request_id, "carol", None, None, now=NOW)
        approvals.deny(HOLD.request_id, "dan", None, now=NOW)
        told = approvals.raise_decision_alerts(NOW + timedelta(minutes=1))
        assert approvals.raise_decision_alerts(NOW + timedelta(minutes=2)) == []
        approvals.approve(HOLD.request_id, "carol", timedelta(hours=1), 0.004, now=NOW + timedelta(minutes=3))
        [retold] = approvals.raise_decision_alerts(NOW + timedelta(minutes=4))
        [expired] = approvals.raise_decision_alerts(NOW + timedelta(hours=2))
        assert approvals.raise_decision_alerts(NOW + timedelta(hours=3)) == []
    assert sorted((alert.kind, alert.entity, alert.message, alert.details["requester_email"]) for alert in told) == [
        ("approval_decided", "alice", f"Your gateway call with gpt-4o (rule 'big calls', request {HOLD.request_id}) "
         "was denied by dan", None),
        ("approval_decided", "bob", f"Your gateway call (rule 'data budget', request {no_model.request_id}) "
         "was approved by carol without expiry", "bob@example.com")]
    assert retold.message == (f"Your gateway call with gpt-4o (rule 'big calls', request {HOLD.request_id}) was "
                              "approved by carol until 2026-12-07 13:03 UTC, up to under $0.01")
    assert (expired.kind, expired.message) == ("approval_expired", (
        f"Your gateway call with gpt-4o (rule 'big calls', request {HOLD.request_id}): carol's approval expired at "
        "2026-12-07 13:03 UTC; the gateway holds such calls again"))


def test_two_of_one_person_s_requests_decided_in_one_second_are_two_notices(store_url: str) -> None:
    other = Hold(rule="data budget", reason="spent", user="alice", team="data", model="gpt-4o")
    with Store.open(store_url) as store:
        approvals = ApprovalStore(store)
        approvals.ask([HOLD, other], "gateway hook", NOW)
        for hold in (HOLD, other):
            approvals.deny(hold.request_id, "carol", None, now=NOW)
        told = approvals.raise_decision_alerts(NOW)
    assert sorted(alert.details["request_id"] for alert in told) == sorted([HOLD.request_id, other.request_id])


def test_two_of_one_person_s_calls_held_in_one_second_are_two_notices_to_the_approvers(store_url: str) -> None:
    other = Hold(rule="data budget", reason="spent", user="alice", team="data", model="gpt-4o")
    with Store.open(store_url) as store:
        approvals = ApprovalStore(store)
        approvals.ask([HOLD, other], "gateway hook", NOW)
        told = approvals.raise_request_alerts(NOW)
        stored = AlertStore(store).alerts()
    assert sorted(alert.details["request_id"] for alert in told) == sorted([HOLD.request_id, other.request_id])
    assert sorted(alert.id for alert in stored) == sorted(alert.id for alert in told)


def test_an_approvers_notice_stored_before_the_upgrade_keeps_its_delivery_under_its_new_id(store_url: str) -> None:
    before = MIGRATIONS[:MIGRATIONS.index(key_approval_requests_by_request)]
    at = NOW.replace(tzinfo=None)
    old_key = "approval_request|user|alice|approval"
    old_id = hashlib.sha256(f"{old_key}|{at.isoformat(timespec='seconds')}".encode()).hexdigest()[:10]
    alert = {"id": old_id, "key": old_key, "kind": "approval_request", "severity": "warning", "dimension": "user",
             "entity": "alice", "metric": "approval", "ts": at, "message": "The gateway held alice's call",
             "details": json.dumps({"request_id": HOLD.request_id}), "raised_at": at, "last_seen_at": at,
             "occurrences": 1}
    with Store.open(store_url, migrations=before) as old:
        SqlTable("alert", list(alert)).bind(old.database).insert([alert]).execute()
        SqlTable("notification", ["id", "alert_id", "channel", "status", "attempts", "last_attempt_at"]).bind(
            old.database).insert([[f"{old_id}:email", old_id, "email", "sent", 1, at]]).execute()
    with Store.open(store_url) as upgraded:
        [kept] = AlertStore(upgraded).alerts()
        delivered = SqlTable("notification", ["id", "alert_id"]).bind(upgraded.database).select().tuples()
        assert list(delivered) == [(f"{kept.id}:email", kept.id)]
    assert kept.id != old_id and kept.details == {"request_id": HOLD.request_id}


def test_a_requester_s_address_is_their_gateway_name_or_the_one_the_people_mapping_gives(store_url: str) -> None:
    with Store.open(store_url) as store:
        people = People(store)
        people.replace([Person("bob", litellm_user_id="bob@example.com"),
                        Person("dan", device="laptop", litellm_user_id="dan@example.com"),
                        Person("dan", device="desktop", litellm_user_id="daniel@example.com"),
                        Person("erin", litellm_user_id="erin")], "people.csv")
        found = {name: people.address_of(name) for name in (
            "alice@example.com", "Bob", "dan", "erin", "frank", "a@b.com, eve@example.com", "x@y\nBcc: eve@e.com")}
    assert found == {"alice@example.com": "alice@example.com", "Bob": "bob@example.com",
                     "dan": None,  # two addresses: which one?
                     "erin": None, "frank": None, "a@b.com, eve@example.com": None, "x@y\nBcc: eve@e.com": None}


def test_decisions_taken_and_approvals_expired_before_the_upgrade_are_not_told_after_it(store_url: str) -> None:
    before = MIGRATIONS[:MIGRATIONS.index(tell_requesters_of_decisions)]
    at = NOW.replace(tzinfo=None)
    asked = {"rule": HOLD.rule, "reason": HOLD.reason, "user": HOLD.user, "requested_at": at,
             "last_requested_at": at, "times_requested": 1, "decided_by": "carol", "decided_at": at}
    rows = [{"id": HOLD.request_id, **asked, "status": DENIED, "expires_at": None},
            {"id": "ap-expired", **asked, "status": APPROVED, "expires_at": at + timedelta(hours=1)}]
    with Store.open(store_url, migrations=before) as old:
        SqlTable("approval_request", list(rows[0])).bind(old.database).insert(rows).execute()
    with Store.open(store_url) as upgraded:
        approvals = ApprovalStore(upgraded)
        assert approvals.raise_decision_alerts(NOW + timedelta(days=1)) == []
        approvals.approve(HOLD.request_id, "carol", None, None, now=NOW + timedelta(days=2))
        [told] = approvals.raise_decision_alerts(NOW + timedelta(days=2))
    assert told.message.endswith("was approved by carol without expiry")


def test_the_table_adds_managed_and_unmanaged_spend_per_person_and_team(tmp_path: Path) -> None:
    policy = PolicySettings(teams={"data": ("alice", "bob")})
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        this_month, last_month = datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
        call: dict[str, Any] = {"host": "api.openai.com", "method": "POST", "path": "/v1/chat/completions"}
        store.add([UsageEvent(ts=this_month, user="alice", cost_usd=1.25, **call),
                   UsageEvent(ts=this_month, user="Bob", cost_usd=2.0, **call),
                   UsageEvent(ts=last_month, user="alice", cost_usd=100.0, **call),  # another month
                   UsageEvent(ts=this_month, user="alice", cost_usd=50.0, route="gateway", **call)])  # managed
        SpendLog(store).add([
            SpendRecord(request_id="r1", start_time=this_month.replace(tzinfo=None), spend=3.0, prompt_tokens=1,
                        completion_tokens=1, total_tokens=2, raw={}, end_user="alice"),
            SpendRecord(request_id="r2", start_time=this_month.replace(tzinfo=None), spend=4.0, prompt_tokens=1,
                        completion_tokens=1, total_tokens=2, raw={}, user="carol", team_id="web")], "callback")
        table = load_table(store, policy, loaded_at=0.0, now=NOW)
    assert table.user_spend == {"alice": 4.25, "bob": 2.0, "carol": 4.0}
    assert table.team_spend == {"data": 6.25, "web": 4.0}


def table(*rules: PolicyRule, team_spend: dict[str, float] | None = None, approvals: tuple = ()) -> Table:
    return Table(PolicySettings(rules=rules), time.monotonic(), {}, team_spend or {},
                 {approval.id: approval for approval in approvals})


def test_a_cost_ceiling_holds_only_calls_over_it_and_an_approval_up_to_an_amount_lets_some_through(
        tmp_path: Path) -> None:
    alice = CallFacts(model="gpt-4o", user="alice")
    assert refusal_for(table(CEILING), alice, 0.009, NOW) is None
    refusal = refusal_for(table(CEILING), alice, 0.02, NOW)
    assert refusal is not None and refusal.status_code == 403
    assert refusal.message == (
        "offgate policy rule 'big calls': estimated cost $0.020000 is over the $0.010000 per-request ceiling. "
        f"Approval request {refusal.hold.request_id}: ask an approver to run "
        f"`offgate approvals approve {refusal.hold.request_id}`")
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        approvals = ApprovalStore(store)
        approvals.ask([refusal.hold], "gateway hook", NOW)
        approval = approvals.approve(refusal.hold.request_id, "carol", timedelta(hours=1), 0.05, now=NOW)
    assert refusal_for(table(CEILING, approvals=(approval,)), alice, 0.04, NOW) is None
    assert refusal_for(table(CEILING, approvals=(approval,)), alice, 0.06, NOW) is not None  # over its amount
    assert refusal_for(table(CEILING, approvals=(approval,)), alice, 0.04, NOW + timedelta(hours=2)) is not None


def test_a_spent_team_budget_holds_with_429_and_an_allow_rule_above_it_wins() -> None:
    bob = CallFacts(model="gpt-4o-mini", user="bob", team="data")
    assert refusal_for(table(TEAM_BUDGET, team_spend={"data": 9.99}), bob, None, NOW) is None
    refusal = refusal_for(table(TEAM_BUDGET, team_spend={"data": 10.0}), bob, None, NOW)
    assert refusal is not None and refusal.status_code == 429
    assert "team data's AI spend this month, $10.00 through the gateway and around it, reached the $10.00 budget" in (
        refusal.message)
    allow_bob = PolicyRule(name="bob is fine", action="allow", user=("bob",))
    assert refusal_for(table(allow_bob, TEAM_BUDGET, team_spend={"data": 10.0}), bob, None, NOW) is None
    every_call = PolicyRule(name="opus", action="require_approval", model=("claude-opus-*",))
    held = refusal_for(table(every_call), CallFacts(model="claude-opus-4-1", user="bob"), None, NOW)
    assert held is not None and held.hold.reason == "calls to claude-opus-4-1 need approval"


def test_the_estimate_is_the_prompt_at_the_input_price_plus_the_longest_answer() -> None:
    request = {"model": "gpt-4o", "max_tokens": 1000,
               "messages": [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": [{"type": "text", "text": "Summarise this quarter."}]}]}
    prompt = estimate_prompt("gpt-4o", ["Be brief.", "Summarise this quarter."], 2)
    assert estimated_cost_usd("gpt-4o", request) == pytest.approx(cost_for_key("gpt-4o", prompt, 1000), rel=1e-12)
    assert estimated_cost_usd("no-such-model", request) is None


def test_only_the_policy_s_approvers_may_decide(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[policy]\napprovers = ["someone-else"]\n')
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        ApprovalStore(store).ask([HOLD], "gateway hook", NOW)
    result = runner.invoke(app, ["--home", str(tmp_path), "approvals", "approve", HOLD.request_id])
    assert result.exit_code != 0
    assert "is not among the policy's approvers (someone-else)" in result.stderr
    (tmp_path / "config.toml").write_text("")
    denied = runner.invoke(app, ["--home", str(tmp_path), "approvals", "deny", HOLD.request_id, "--reason", "no"])
    assert denied.exit_code == 0 and f"denied {HOLD.request_id} (rule 'big calls', alice)" in denied.stdout
    listed = runner.invoke(app, ["--home", str(tmp_path), "approvals", "--all"])
    assert "denied" in listed.stdout and "requests: 1" in listed.stdout


def test_approvals_list_shows_the_requests_and_with_audit_every_decision(tmp_path: Path) -> None:
    """`offgate approvals list`, as docs/governance.md names it (it was no command: only the bare group listed)."""
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        approvals = ApprovalStore(store)
        approvals.ask([HOLD], "gateway hook", NOW)
        approvals.deny(HOLD.request_id, "carol", "not this month", now=NOW + timedelta(minutes=5))
    pending = runner.invoke(app, ["--home", str(tmp_path), "approvals", "list"])
    assert pending.exit_code == 0, pending.output
    assert HOLD.request_id not in pending.stdout and "pending requests: 0" in pending.stdout
    listed = runner.invoke(app, ["--home", str(tmp_path), "approvals", "list", "--all", "--audit"])
    assert listed.exit_code == 0, listed.output
    [row] = [line.split("│") for line in listed.stdout.splitlines() if line.startswith(f"│ {HOLD.request_id}")]
    assert [cell.strip() for cell in row[1:3]] == [HOLD.request_id, DENIED]
    audit = [[cell.strip() for cell in line.split("│")[1:-1]] for line in listed.stdout.splitlines()
             if line.startswith("│ 2026-12-07")]
    assert audit == [["2026-12-07 12:00:00", HOLD.request_id, "gateway hook", "requested", "too big"],
                     ["2026-12-07 12:05:00", HOLD.request_id, "carol", "denied", "not this month"]]
    assert "requests: 1" in listed.stdout and "audit rows: 2" in listed.stdout


def test_with_fail_open_off_a_stale_table_refuses_calls_with_503() -> None:
    from fastapi import HTTPException

    from governance.hook import GovernanceHook
    from governance.keeper import TableKeeper

    class StaleKeeper(TableKeeper):
        def started(self) -> bool:
            return True

    keeper = StaleKeeper()
    keeper.table = Table(PolicySettings(fail_open=False, stale_after_s=5), time.monotonic() - 10)
    with pytest.raises(HTTPException) as refused:
        asyncio.run(GovernanceHook(keeper).async_pre_call_hook(None, None, {"model": "gpt-4o"}, "completion"))
    assert refused.value.status_code == 503
