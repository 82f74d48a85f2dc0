"""The gateway's half of the policy, in a real LiteLLM proxy: offgate's pre-call hook named in
its config.yaml, the fake provider behind it, offgate's store in the home the hook reads.

A call whose estimated cost passes a ceiling is refused with an approval request id; once
`offgate approvals approve` says so, the next one passes; after the approval expires it is
refused again. A team whose unmanaged spend (calls around the gateway) fills its monthly budget
is held at the gateway. With the hook's table stale (its settings no longer load), calls pass
and the hook says so in LiteLLM's log.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from offgate.cli import app
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.approvals import ApprovalStore
from tests.support.litellm_gateway import gateway_environment, running_litellm, write_gateway_config
from tests.support.openai_responder import openai_responder
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-offgate-governance-" + secrets.token_hex(8)
STALE_AFTER_S = 3
POLICY = f"""\
[policy]
refresh_s = 0.2
stale_after_s = {STALE_AFTER_S}
[policy.teams]
data = ["bob"]

[[policy.rules]]
name = "big calls"
action = "require_approval"
model = "gpt-4o-mini"
max_cost_per_request = 0.005

[[policy.rules]]
name = "data budget"
action = "require_approval"
team = "data"
monthly_budget_usd = 1.0
budget_for = "team"
"""
BIG = 20_000  # max_tokens: 20,000 x $0.60 per million = $0.012, over the $0.005 ceiling
SMALL = 100
REQUEST_ID = re.compile(r"Approval request (ap-[0-9a-f]{10})")
runner = CliRunner(env={"COLUMNS": "250"})


@dataclass
class Gateway:
    url: str
    home: Path
    log: Path

    def call(self, user: str, max_tokens: int) -> httpx.Response:
        body = {"model": "gpt-4o-mini", "user": user, "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": "usage 21 7"}]}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, timeout=60,
                          headers={"Authorization": f"Bearer {MASTER_KEY}"})

    def offgate(self, *args: str) -> str:
        result = runner.invoke(app, ["--home", str(self.home), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream: FakeUpstream) -> Iterator[Gateway]:
    upstream.responder = openai_responder
    home = tmp_path_factory.mktemp("home")
    (home / "config.toml").write_text(POLICY)
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:  # bob's calls around the gateway: $1.50
        store.add([UsageEvent(ts=datetime.now(UTC), host="api.openai.com", method="POST", path="/v1/chat/completions",
                              provider="openai", model="gpt-4o", user="bob", cost_usd=0.75) for _ in range(2)])
    config_dir = tmp_path_factory.mktemp("litellm")
    write_gateway_config(config_dir, f"http://127.0.0.1:{upstream.port}/v1", "sk-fake-provider-key", MASTER_KEY,
                         "governance.litellm_hook.offgate_governance")
    environment = gateway_environment(home)
    with running_litellm(config_dir, environment) as url:
        yield Gateway(url, home, config_dir / "litellm.log")


def test_a_call_over_the_ceiling_waits_for_an_approval_that_then_expires(gateway: Gateway) -> None:
    assert gateway.call("alice", SMALL).status_code == 200
    refused = gateway.call("alice", BIG)
    assert refused.status_code == 403, refused.text
    message = refused.json()["error"]["message"]
    assert "offgate policy rule 'big calls': estimated cost $0.012" in message
    assert "is over the $0.005000 per-request ceiling" in message
    found = REQUEST_ID.search(message)
    assert found, message
    request_id = found.group(1)
    assert gateway.call("alice", BIG).json()["error"]["message"] == message  # asking again: the same request

    pending = _eventually(lambda: _requests(gateway.home), lambda requests: len(requests) == 1)
    assert (pending[0].id, pending[0].status, pending[0].user, pending[0].rule) == (
        request_id, "pending", "alice", "big calls")
    assert request_id in gateway.offgate("approvals")

    approved = gateway.offgate("approvals", "approve", request_id, "--for", "6s", "--reason", "quarter-end report")
    assert f"approved {request_id} (rule 'big calls', alice)" in approved
    _eventually(lambda: gateway.call("alice", BIG).status_code, lambda status: status == 200)
    assert gateway.call("bob-the-other", BIG).status_code == 403  # the approval is alice's
    _eventually(lambda: gateway.call("alice", BIG).status_code, lambda status: status == 403)  # expired

    again = _eventually(lambda: next(r for r in _requests(gateway.home) if r.id == request_id),
                        lambda request: request.status == "pending")
    audit = _audit(gateway.home, request_id)
    assert [(entry.action, entry.actor) for entry in audit] == [
        ("requested", "gateway hook"), ("approved", audit[1].actor), ("requested", "gateway hook")]
    assert "quarter-end report" in (audit[1].detail or "")
    # twice before the approval (maybe again while it reached the table), once after it
    assert again.times_requested >= 3


def test_a_team_whose_unmanaged_spend_filled_its_budget_is_held(gateway: Gateway) -> None:
    held = gateway.call("bob", SMALL)
    assert held.status_code == 429, held.text
    message = held.json()["error"]["message"]
    assert ("offgate policy rule 'data budget': team data's AI spend this month, $1.50 through the gateway and "
            "around it, reached the $1.00 budget") in message
    assert REQUEST_ID.search(message)
    assert gateway.call("carol", SMALL).status_code == 200  # not in the team


def test_with_the_table_stale_calls_pass_and_a_warning_is_logged(gateway: Gateway) -> None:
    config = gateway.home / "config.toml"
    config.write_text(POLICY + "\nthis is not toml\n")
    try:
        _eventually(lambda: gateway.call("dave", BIG).status_code, lambda status: status == 200,
                    timeout=STALE_AFTER_S * 10)
        log = gateway.log.read_text()
        assert "could not refresh the policy table" in log
        assert "the policy table is stale" in log and "letting calls through (policy.fail_open)" in log
    finally:
        config.write_text(POLICY)
    _eventually(lambda: gateway.call("dave", BIG).status_code, lambda status: status == 403)


def _requests(home: Path) -> list:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return ApprovalStore(store).requests()


def _audit(home: Path, request_id: str) -> list:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return ApprovalStore(store).audit(request_id)


def _eventually[T](read: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0) -> T:
    """read() until done(value): the hook's table refreshes in the background."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            assert done(value), value
            return value
        time.sleep(0.1)
