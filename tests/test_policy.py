"""The policy in config.toml: validation that names the line, matching, and `offgate policy check`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offgate.cli import app
from offgate.config import ConfigError, load_settings
from offgate.events import UsageEvent
from offgate.policy import CallFacts, PolicySettings, rule_lines
from offgate.store import Store

runner = CliRunner(env={"COLUMNS": "250"})

POLICY = """\
[proxy]
listen_port = 8080

[policy]
approvers = ["carol"]
[policy.teams]
data = ["alice", "Bob"]

[[policy.rules]]
name = "sanctioned chat"
action = "allow"
app = "company-chat"

[[policy.rules]]
name = "big calls"
action = "require_approval"
model = ["gpt-4o*", "claude-*"]
max_cost_per_request = 0.5

[[policy.rules]]
name = "data budget"
action = "require_approval"
team = "data"
monthly_budget_usd = 100
budget_for = "team"

[[policy.rules]]
name = "coach chatgpt"
action = "coach"
app = "chatgpt"
message = "Use the company's chat"
alternative_url = "https://chat.example.com"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OFFGATE_"):
            monkeypatch.delenv(name)


def policy_in(home: Path, text: str = POLICY) -> PolicySettings:
    (home / "config.toml").write_text(text, encoding="utf-8")
    return load_settings(home).policy


def test_rules_load_in_order_and_match_case_insensitively(tmp_path: Path) -> None:
    policy = policy_in(tmp_path)
    assert [rule.name for rule in policy.rules] == ["sanctioned chat", "big calls", "data budget", "coach chatgpt"]
    assert policy.team_of("bob") == "data" and policy.team_of("carol") is None
    assert [r.name for r in policy.gateway_rules(CallFacts(model="GPT-4o-mini", user="bob", team="data"))] == [
        "big calls", "data budget"]
    assert [r.name for r in policy.gateway_rules(CallFacts(model="gemini-2.5-pro", user="carol"))] == []
    # An allow rule above stops the gateway's rules below it.
    assert policy.gateway_rules(CallFacts(app="company-chat", model="gpt-4o", team="data")) == []
    coached = policy.deciding_rule(CallFacts(app="ChatGPT", user="alice"))
    assert coached is not None and coached.name == "coach chatgpt"
    # A call that does not know its team matches no rule naming one.
    assert not policy.rules[2].matches(CallFacts(model="gpt-4o"))


@pytest.mark.parametrize(("change", "line", "says"), [
    ('action = "coach"\n', 'action = "nudge"\n', 'line 29: policy.rules.3.action: Input should be'),
    ("max_cost_per_request = 0.5", "max_cost_per_request = -1", "line 18: policy.rules.1.max_cost_per_request: "
                                                               "Input should be greater than 0"),
    ('message = "Use the company\'s chat"\n', "", "line 27: policy.rules.3: a coach rule needs a message"),
    ('budget_for = "team"', 'budget_for = "team"\nmodle = "x"', "line 26: policy.rules.2.modle: unknown setting"),
    ('name = "data budget"', 'name = "big calls"', "policy.rules: two rules are named 'big calls'"),
])
def test_a_bad_rule_is_an_error_naming_its_line(tmp_path: Path, change: str, line: str, says: str) -> None:
    assert change in POLICY
    with pytest.raises(ConfigError) as raised:
        policy_in(tmp_path, POLICY.replace(change, line))
    assert says in str(raised.value)
    assert str(tmp_path / "config.toml") in str(raised.value)


def test_rule_lines_are_the_tables_headers() -> None:
    assert rule_lines(POLICY) == [9, 14, 20, 27]


def test_policy_check_prints_what_each_rule_matches(tmp_path: Path) -> None:
    policy_in(tmp_path)
    now = datetime.now(UTC)
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add([
            UsageEvent(ts=now, host="chatgpt.com", method="POST", path="/backend-api/conversation", app="chatgpt",
                       user="alice", cost_usd=0.25, source="extension"),
            UsageEvent(ts=now, host="chatgpt.com", method="POST", path="/backend-api/conversation", app="chatgpt",
                       user="dave", cost_usd=0.5, source="extension"),
            UsageEvent(ts=now, host="api.openai.com", method="POST", path="/v1/chat/completions", provider="openai",
                       model="gpt-4o", user="bob", cost_usd=2.0),
        ])
    result = runner.invoke(app, ["--home", str(tmp_path), "policy", "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[2].strip(): [cell.strip() for cell in line.split("│")[1:-1]]
            for line in result.stdout.splitlines() if line.startswith("│")}
    assert rows["coach chatgpt"] == ["27", "coach chatgpt", "coach", "app chatgpt", "2", "$0.750000", "0",
                                     "$0.000000", "2"]
    assert rows["big calls"][4:6] == ["1", "$2.00"]
    assert rows["data budget"][3:6] == ["team data", "2", "$2.25"]  # alice and bob
    assert "policy ok: 4 rules" in result.stdout


def test_policy_check_stops_on_a_bad_rule(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(POLICY.replace("monthly_budget_usd = 100", "monthly_budget_usd = 0"))
    result = runner.invoke(app, ["--home", str(tmp_path), "policy", "check"])
    assert result.exit_code != 0
    assert "line 24: policy.rules.2.monthly_budget_usd: Input should be greater than 0" in result.stderr
