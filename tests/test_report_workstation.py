"""The report's pricing bases and its workstation part, in every format: what the unmanaged
costs stand for (list price, a plan's API-equivalent, a retired model's last listed price, no
price), the AI tools run in a shell, the keys typed there and the apps seen, with the report's
--device, --user and --since filters.

The costs are the capture paths' own: an agent's log priced by workstation.agent_logs (on a
plan), the retired model priced by offgate.pricing; the shell histories and the inventory are
read by the real scanners from homes written here."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.report.model import build_report
from offgate import pricing
from offgate.catalog.base import Usage
from offgate.cli import app
from offgate.fingerprint import key_fingerprint, load_salt
from offgate.pricing_basis import APP_EQUIVALENT_NOTE, SUBSCRIPTION_NOTE
from offgate.store import Store
from tests.support import reconcile_data
from tests.support.dashboard_world import use_store
from tests.support.reconcile_data import direct_call, gateway_call
from tests.support.shell_homes import bash_home
from workstation.agent_logs.calls import AgentCall, AgentSetup, event_from
from workstation.home import home_owner
from workstation.inventory import scan_inventory
from workstation.shell_history import scan_shell_history

runner = CliRunner(env={"COLUMNS": "200"})
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY2 = (T0 + timedelta(days=1)).isoformat()
SINCE = "2026-03-01T00:00:00"
OPENAI_KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno345"
ANTHROPIC_KEY = "sk-ant-api03-ZYXwvu987654321TSRqpo_nml-kji"
CLAUDE_ON_A_PLAN = AgentSetup("claude-code", "anthropic", "https://api.anthropic.com", "/v1/messages",
                              subscription=True)
RETIRED = "claude-sonnet-4-20250514"  # dropped by LiteLLM's map; last listed at $3 / $15 per million tokens


def on_a_plan(key: str, model: str, input_tokens: int, output_tokens: int):
    call = AgentCall(key=key, ts=T0 + timedelta(minutes=5), model=model, input_tokens=input_tokens,
                     output_tokens=output_tokens)
    return event_from(call, CLAUDE_ON_A_PLAN, [], device="ws-17", user="alice")


def calls():
    retired_cost, retired_note = pricing.cost_usd(RETIRED, "anthropic",
                                                  Usage(prompt_tokens=1000, completion_tokens=100))
    captured = [
        direct_call("u-api", 100),  # $0.0006, at gpt-4o-mini's list price
        direct_call("u-chatgpt", 200, provider="chatgpt", app="chatgpt", host="chatgpt.com", model="gpt-4o",
                    cost_usd=0.002, cost_note=f"{APP_EQUIVALENT_NOTE} openai/gpt-4o"),
        direct_call("u-retired", 300, provider="anthropic", host="api.anthropic.com", model=RETIRED,
                    prompt_tokens=1000, completion_tokens=100, cost_usd=retired_cost, cost_note=retired_note),
        direct_call("u-unpriced", 400, model="mystery-model", cost_usd=None,
                    cost_note="no price for model mystery-model"),
        gateway_call("g-managed", 500, cost_note=f"{APP_EQUIVALENT_NOTE} openai/gpt-4o"),  # managed: not in the bases
    ]
    return [*(event.model_copy(update={"ts": event.ts + (T0 - reconcile_data.T0)}) for event in captured),
            on_a_plan("msg-1", "claude-sonnet-4-5", 1000, 200),  # 1000 * $3/M + 200 * $15/M = $0.006
            on_a_plan("msg-2", RETIRED, 2000, 100)]  # $0.006 + $0.0015 = $0.0075: a plan's call on a retired model


@pytest.fixture
def home(tmp_path: Path, store_url: str) -> Path:
    use_store(tmp_path, store_url)
    salt = load_salt(tmp_path)
    homes = tmp_path / "homes"
    ws17 = bash_home(homes, "alice", [
        (T0, "claude"), (T0, f"export OPENAI_API_KEY={OPENAI_KEY}"), (T0, "ls ~/src/payroll"),
        (T0 + timedelta(days=1), 'claude -p "why does the payroll test fail"'),
        (T0 + timedelta(days=1), "codex exec 'rotate the staging keys'"),
        (T0 - timedelta(days=20), "claude"),  # before the window
    ])
    ws18 = bash_home(homes, "bob", [(T0 + timedelta(days=1), f"ANTHROPIC_API_KEY={ANTHROPIC_KEY} gemini")])
    cursor = ws17 / ".cursor/extensions/saoudrizwan.claude-dev-3.4.0"
    cursor.mkdir(parents=True)
    (ws18 / ".local/share/applications").mkdir(parents=True)
    (ws18 / ".local/share/applications/lmstudio-0.3.desktop").write_text("[Desktop Entry]\nName=LM Studio\n")
    with Store.open(store_url) as store:
        store.add(calls())
        scan_shell_history(ws17, store, T0 + timedelta(days=2), salt=salt, device="ws-17")
        scan_shell_history(ws18, store, T0 + timedelta(days=2), salt=salt, device="ws-18")
        for seen in (T0 - timedelta(days=30), T0 + timedelta(days=1)):  # cline: long known, still there
            scan_inventory(ws17, store, seen, device="ws-17", system="linux", system_desktop_dirs=[], processes=[])
        scan_inventory(ws18, store, T0 + timedelta(days=1), device="ws-18", system="linux", system_desktop_dirs=[],
                       processes=[])
    return tmp_path


def offgate(home: Path, *args: str) -> str:
    result = runner.invoke(app, ["--home", str(home), "report", "--since", SINCE, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def report_json(home: Path, *args: str) -> dict:
    return json.loads(offgate(home, "--format", "json", *args))


PLAN_NOTE = ("$0.015500 of the unmanaged spend is the API-equivalent of subscription-plan usage (claude-code: "
             "2 calls, $0.013500; chatgpt: 1 call, $0.002000), not billed per token: a plan costs a seat.")
RETIRED_NOTE = ("Priced at the last listed price of models LiteLLM's current price map dropped: "
                "claude-sonnet-4-20250514 (litellm 1.100.0, 2026-09-06; 2 calls, $0.012000).")


def test_the_unmanaged_spend_by_pricing_basis(home: Path) -> None:
    document = report_json(home)
    part = document["pricing"]
    assert [(b["basis"], b["calls"]) for b in part["bases"]] == [
        ("api", 1), ("plan_equivalent", 3), ("retired_price", 1), ("unpriced", 1)]
    assert [b["cost_usd"] for b in part["bases"]] == [pytest.approx(0.0006), pytest.approx(0.0155),
                                                      pytest.approx(0.0045), None]
    assert [(a["app"], a["calls"], a["cost_usd"]) for a in part["plan_apps"]] == [
        ("claude-code", 2, pytest.approx(0.0135)), ("chatgpt", 1, pytest.approx(0.002))]
    assert [(m["model"], m["last_listed_in"], m["last_listed"], m["calls"], m["cost_usd"])
            for m in part["retired_models"]] == [(RETIRED, "litellm 1.100.0", "2026-09-06", 2, pytest.approx(0.012))]
    assert part["notes"] == [PLAN_NOTE, RETIRED_NOTE]
    # The bases add up to the unmanaged totals; the managed gateway call is in none of them.
    totals = document["totals"]
    assert sum(b["calls"] for b in part["bases"]) == totals["unmanaged_calls"] == 6
    assert sum(b["cost_usd"] or 0.0 for b in part["bases"]) == pytest.approx(totals["unmanaged_cost_usd"], rel=1e-12)

    text = offgate(home)
    assert ("What the unmanaged costs stand for: list price $0.000600 (1 call); a plan's API-equivalent $0.015500 "
            "(3 calls); a retired model's last listed price $0.004500 (1 call); no price: 1 call\n"
            f"  {PLAN_NOTE}\n  {RETIRED_NOTE}\n") in text

    bases = list(csv.reader(io.StringIO(offgate(home, "--format", "csv"))))
    start = bases.index(["pricing_basis", "calls", "cost_usd"])
    assert bases[start + 1:start + 5] == [["api", "1", repr(part["bases"][0]["cost_usd"])],
                                          ["plan_equivalent", "3", repr(part["bases"][1]["cost_usd"])],
                                          ["retired_price", "1", repr(part["bases"][2]["cost_usd"])],
                                          ["unpriced", "1", ""]]

    html = offgate(home, "--format", "html")
    assert ('<tr data-key="plan_equivalent"><td>a plan&#x27;s API-equivalent</td>'
            '<td class="number" data-field="calls" data-value="3">3</td>'
            f'<td class="number" data-field="cost_usd" data-value="{part["bases"][1]["cost_usd"]!r}">$0.015500</td>'
            "</tr>") in html
    assert "<li>$0.015500 of the unmanaged spend is the API-equivalent of subscription-plan usage" in html


def test_the_pricing_bases_follow_the_device_filter(home: Path) -> None:
    part = report_json(home, "--device", "ws-17")["pricing"]
    assert [(b["basis"], b["calls"]) for b in part["bases"]] == [
        ("api", 0), ("plan_equivalent", 2), ("retired_price", 0), ("unpriced", 0)]
    assert part["notes"][0].startswith("$0.013500 of the unmanaged spend is the API-equivalent")


def test_the_workstation_part(home: Path) -> None:
    owner = home_owner(home / "homes" / "alice")
    salt = load_salt(home)
    part = report_json(home)["workstation"]
    assert [(r["day"], r["tool"], r["runs"]) for r in part["tool_runs"]] == [
        ("2026-03-02", "claude-code", 1), ("2026-03-03", "claude-code", 1), ("2026-03-03", "codex-cli", 1),
        ("2026-03-03", "gemini-cli", 1)]
    seen = (T0 + timedelta(days=2)).isoformat()
    assert part["shell_keys"] == [
        {"device": "ws-17", "user": owner, "provider": "openai", "key_fingerprint": key_fingerprint(OPENAI_KEY, salt),
         "times": 1, "first_seen": seen, "last_seen": seen, "message": "a raw OpenAI key was used in a shell on ws-17"},
        {"device": "ws-18", "user": owner, "provider": "anthropic",
         "key_fingerprint": key_fingerprint(ANTHROPIC_KEY, salt), "times": 1, "first_seen": seen, "last_seen": seen,
         "message": "a raw Anthropic key was used in a shell on ws-18"}]
    assert [(a["app"], a["kind"], a["devices"], a["found_in"], a["first_seen"], a["new"]) for a in part["apps"]] == [
        ("lm-studio", "desktop-app", 1, ["desktop-entry"], (T0 + timedelta(days=1)).isoformat(), True),
        ("cline", "ide-extension", 1, ["cursor"], (T0 - timedelta(days=30)).isoformat(), False)]

    text = offgate(home)
    assert f"  a raw OpenAI key was used in a shell on ws-17 (key {key_fingerprint(OPENAI_KEY, salt)}, typed 1 time, " \
           "last 2026-03-04 09:00:00)\n" in text
    assert "AI command-line tools run in a shell" in text and "AI apps and agents seen" in text
    html = offgate(home, "--format", "html")
    assert '<td class="number" data-field="runs" data-value="1">1</td>' in html
    assert "<td>a raw Anthropic key was used in a shell on ws-18</td>" in html
    assert '<tr data-key="cline"><td>cline</td>' in html
    *_, tool_runs, shell_keys, apps, coaching = offgate(home, "--format", "csv").split("\n\n")
    assert coaching.startswith("coaching_week_app,")  # the coaching part comes last
    assert [tool_runs, shell_keys, apps] == [
        "tool_run_day,tool,runs\n2026-03-02,claude-code,1\n2026-03-03,claude-code,1\n2026-03-03,codex-cli,1\n"
        "2026-03-03,gemini-cli,1",
        "shell_key_device,user,provider,key_fingerprint,times,first_seen,last_seen,message\n"
        f"ws-17,{owner},openai,{key_fingerprint(OPENAI_KEY, salt)},1,{seen},{seen},"
        "a raw OpenAI key was used in a shell on ws-17\n"
        f"ws-18,{owner},anthropic,{key_fingerprint(ANTHROPIC_KEY, salt)},1,{seen},{seen},"
        "a raw Anthropic key was used in a shell on ws-18",
        "app_seen,kind,devices,found_in,first_seen,last_seen,new\n"
        f"lm-studio,desktop-app,1,desktop-entry,{DAY2},{DAY2},yes\n"
        f"cline,ide-extension,1,cursor,{(T0 - timedelta(days=30)).isoformat()},{DAY2},"]


def test_the_workstation_part_follows_the_filters_and_the_window(home: Path) -> None:
    owner = home_owner(home / "homes" / "alice")
    ws18 = report_json(home, "--device", "ws-18")["workstation"]
    assert [(r["day"], r["tool"]) for r in ws18["tool_runs"]] == [("2026-03-03", "gemini-cli")]
    assert [k["device"] for k in ws18["shell_keys"]] == ["ws-18"]
    assert [a["app"] for a in ws18["apps"]] == ["lm-studio"]
    assert report_json(home, "--user", str(owner))["workstation"] == report_json(home)["workstation"]
    nobody = report_json(home, "--user", "nobody-here")["workstation"]
    assert nobody == {"tool_runs": [], "shell_keys": [], "apps": []}
    assert "The workstation scans (offgate scan): nothing found in this window\n" in offgate(
        home, "--user", "nobody-here")
    # Since noon of the last day of history: that whole day's runs; the keys seen since, no app.
    later = report_json(home, "--since", "2026-03-03T12:00:00")["workstation"]
    assert [(r["day"], r["tool"]) for r in later["tool_runs"]] == [
        ("2026-03-03", "claude-code"), ("2026-03-03", "codex-cli"), ("2026-03-03", "gemini-cli")]
    assert len(later["shell_keys"]) == 2
    assert [a["app"] for a in later["apps"]] == []
    # Going back further, the run before the window counts, and cline is new again.
    earlier = report_json(home, "--since", "2026-01-01T00:00:00")["workstation"]
    assert earlier["tool_runs"][0] == {"day": "2026-02-10", "tool": "claude-code", "runs": 1}
    assert [(a["app"], a["new"]) for a in earlier["apps"]] == [("lm-studio", True), ("cline", True)]


def test_a_plan_call_the_proxy_recorded_first_counts_as_the_plan_s(store_url: str) -> None:
    """The proxy cannot tell a plan from an API key; the agent's log, read later, can. The one
    record kept (the proxy's) takes the plan's note, so the report counts a seat, not money."""
    logged = on_a_plan("msg-1", "claude-sonnet-4-5", 1000, 200)
    logged = logged.model_copy(update={"response_id": "msg_01XFDUDYJgAACzvnptvVoYEL"})
    proxied = logged.model_copy(update={"id": "proxy-1", "source": "proxy", "cost_note": None,
                                        "ts": logged.ts - timedelta(seconds=4)})
    with Store.open(store_url) as store:
        assert store.add([proxied]) == 1
        assert store.add([logged]) == 0
        assert store.add([logged]) == 0  # read again: noted once
        (kept,) = store.events()
        document = build_report(store, None, T0 + timedelta(days=1), "provider")
    assert (kept.id, kept.witnesses, kept.cost_note) == ("proxy-1", "agent-log,proxy", SUBSCRIPTION_NOTE)
    assert [(b["basis"], b["calls"]) for b in document.model_dump()["pricing"]["bases"]] == [
        ("api", 0), ("plan_equivalent", 1), ("retired_price", 0), ("unpriced", 0)]
