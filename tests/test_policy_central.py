"""The central policy's parts that need no collector: a policy file validated as config.toml
is (a bad rule names its line), the precedence of the central policy over the local one, the
central and the agent's tables on both backends, and the native host's coaching answer once
an enrolled agent keeps a central policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from native_host.host import Host
from offgate.config import ConfigError, load_policy_file
from offgate.policy import CallFacts, PolicySettings, policy_document, with_central
from offgate.store import Store
from offgate.store.policies import NO_POLICY_VERSION, AgentPolicy, CentralPolicies, policy_in_force

LOCAL = PolicySettings.model_validate({
    "enforce_block": True, "refresh_s": 5,
    "teams": {"data": ["alice"]},
    "rules": [{"name": "local coach", "action": "coach", "provider": "openai", "message": "local"}]})
CENTRAL_FILE = """
[policy]
teams = { web = ["alice"] }

[[policy.rules]]
name = "central block"
action = "block"
provider = "openai"
message = "Use the gateway."
"""


def central_file(tmp_path: Path, text: str = CENTRAL_FILE) -> Path:
    path = tmp_path / "company-policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_what_the_central_policy_sets_wins_and_what_it_leaves_out_stays_local(tmp_path: Path) -> None:
    document = policy_document(load_policy_file(central_file(tmp_path)))
    assert json.loads(document) == {"teams": {"web": ["alice"]}, "rules": [
        {"name": "central block", "action": "block", "provider": ["openai"], "message": "Use the gateway."}]}
    in_force = with_central(LOCAL, document)
    assert [rule.name for rule in in_force.rules] == ["central block"]  # the central rules replace the local ones
    assert in_force.team_of("alice") == "web"
    assert (in_force.enforce_block, in_force.refresh_s) == (True, 5)  # not set centrally: the local ones
    deciding = in_force.deciding_rule(CallFacts(provider="openai"))
    assert deciding is not None and deciding.name == "central block"
    assert with_central(LOCAL, None) is LOCAL
    not_enforced = with_central(LOCAL, '{"enforce_block": false}')
    assert (not_enforced.enforce_block, [rule.name for rule in not_enforced.rules]) == (False, ["local coach"])
    with pytest.raises(ValidationError):
        with_central(LOCAL, '{"rules": [{"name": "x", "action": "coach"}]}')  # a coach rule needs a message


def test_a_bad_rule_in_a_policy_file_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = central_file(tmp_path, CENTRAL_FILE + """
[[policy.rules]]
name = "too cheap"
action = "require_approval"
max_cost_per_request = -1
""")
    with pytest.raises(ConfigError) as raised:
        load_policy_file(path)
    assert str(raised.value) == (f"invalid policy:\n  {path}, line 14: policy.rules.1.max_cost_per_request: "
                                 "Input should be greater than 0")


@pytest.mark.parametrize(("text", "says"), [
    ("[proxy]\ngateways = []\n", "a policy file holds only [policy] (and its [[policy.rules]]), not proxy"),
    ("approvers = ['carol']\n", "a policy file holds only [policy] (and its [[policy.rules]]), not approvers"),
    ("", "no [policy] section"),
    ("[policy\n", "not valid TOML"),
])
def test_a_policy_file_holds_a_policy_section_and_nothing_else(tmp_path: Path, text: str, says: str) -> None:
    path = central_file(tmp_path, text)
    with pytest.raises(ConfigError, match=r"^" + str(path).replace(".", r"\.") + ": " + says.replace("[", r"\[")
                       .replace("(", r"\(").replace(")", r"\)")):
        load_policy_file(path)


def test_the_central_table_keeps_every_version_and_the_agent_keeps_one(store_url: str) -> None:
    with Store.open(store_url) as store:
        central = CentralPolicies(store)
        assert (central.current(), central.current_version()) == (None, NO_POLICY_VERSION)
        first = central.set('{"enforce_block": true}', "carol")
        again = central.set('{"enforce_block": true}', "carol")
        assert again.version != first.version  # set again: agents fetch it again
        assert central.current_version() == again.version
        cleared = central.set(None, "dan")
        current = central.current()
        assert current is not None and (current.version, current.document, current.by) == (cleared.version, None, "dan")
        assert policy_in_force(store, LOCAL, central=True) is LOCAL

        agent = AgentPolicy(store)
        assert agent.kept() is None and policy_in_force(store, LOCAL) is LOCAL
        agent.keep(first.version, '{"enforce_block": false}')
        agent.keep(cleared.version, '{"refresh_s": 60}')
        kept = agent.kept()
        assert kept is not None and (kept.version, kept.document) == (cleared.version, '{"refresh_s": 60}')
        assert policy_in_force(store, LOCAL).refresh_s == 60


def test_the_native_host_coaches_by_the_central_policy_an_enrolled_agent_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[[policy.rules]]\nname = "local"\naction = "coach"\napp = "chatgpt"\n'
                                      'message = "local"\n')
    host = Host(home)
    try:
        ask = {"type": "coaching", "id": "q1"}
        assert [rule["rule"] for rule in host.handle(json.dumps(ask).encode())["rules"]] == ["local"]
        with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
            AgentPolicy(store).keep("v2", policy_document(PolicySettings.model_validate({"rules": [
                {"name": "central", "action": "block", "app": "chatgpt", "message": "Use chat.company.test"}]})))
        assert host.handle(json.dumps(ask).encode())["rules"] == [
            {"app": "chatgpt", "rule": "central", "action": "block", "message": "Use chat.company.test",
             "alternative_url": None}]
    finally:
        host.close()


def test_the_gateways_hook_follows_the_central_policy_in_force_on_its_database(tmp_path: Path) -> None:
    from governance.keeper import TableKeeper
    from offgate.config import Settings

    url = f"sqlite:///{tmp_path / 'central.db'}"
    local = Settings(policy=LOCAL)
    keeper = TableKeeper(settings=lambda: (local, tmp_path), store_url=url)
    with Store.open(url) as store:
        CentralPolicies(store).set(policy_document(PolicySettings.model_validate({"rules": [
            {"name": "central ceiling", "action": "require_approval", "max_cost_per_request": 0.5}]})), "carol")
    try:
        assert keeper.start().wait(30)
        table = keeper.table
        assert table is not None
        assert [rule.name for rule in table.policy.rules] == ["central ceiling"]
        assert table.policy.refresh_s == 5  # not set centrally: the gateway's own
    finally:
        keeper.stop()
