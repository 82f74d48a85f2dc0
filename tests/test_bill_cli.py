"""`offgate bill import` from OpenAI's stand-in, then `offgate report`: the bill's three
columns and three findings exact, the admin key read from a file and stored nowhere, and a
re-import that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from offgate.cli import app
from offgate.events import UsageEvent
from offgate.fingerprint import key_fingerprint, key_hint, load_salt
from offgate.pricing import rates_for
from offgate.store import Store
from offgate.store.spend import SpendLog, SpendRecord
from tests.support.bill_apis import FakeOpenAiAdmin

runner = CliRunner(env={"COLUMNS": "200"})
ADMIN = "sk-admin-BILLTESTADMINKEY0000"
GATEWAY_KEY = "sk-proj-GATEWAYgatewaygatewaygateway0001"
ALICE_KEY = "sk-proj-ALICEalicealicealicealice0002"
NOBODY_KEY = "sk-proj-NOBODYnobodynobodynobody0003"
MODEL = "gpt-4o-mini-2024-07-18"
CACHE_READS = 2_000_000


def offgate(home, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def usage(project: str, key_id: str, tokens: int, cached: int = 0) -> dict:
    return {"input_tokens": tokens + cached, "output_tokens": tokens // 10, "input_cached_tokens": cached,
            "num_model_requests": 5, "project_id": project, "user_id": None, "api_key_id": key_id,
            "model": MODEL, "batch": False}


def cost(project: str, value: float) -> dict:
    return {"amount": {"value": value, "currency": "usd"}, "line_item": f"{MODEL}, input", "project_id": project}


def test_the_bill_splits_into_three_columns_and_three_findings(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "litellm-config.yaml"
    config.write_text("model_list:\n  - model_name: mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
                      "      api_key: os.environ/GATEWAY_OPENAI_KEY\n", encoding="utf-8")
    monkeypatch.setenv("GATEWAY_OPENAI_KEY", GATEWAY_KEY)
    (home / "config.toml").write_text(f'[reconcile]\nlitellm_config = "{config}"\n', encoding="utf-8")
    key_file = tmp_path / "openai-admin-key"
    key_file.write_text(ADMIN + "\n", encoding="utf-8")
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    noon = datetime.combine(day, datetime.min.time()).replace(hour=12, tzinfo=UTC)
    rates = rates_for("gpt-4o-mini", "openai")
    assert rates is not None
    cache_cost = CACHE_READS * rates.cache_read
    salt = load_salt(home)
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        # LiteLLM logged the gateway's calls at 4.00 USD, its cache reads at $0.
        SpendLog(store).add([SpendRecord(request_id=f"r{i}", start_time=noon.replace(tzinfo=None), spend=1.0,
                                         prompt_tokens=10, completion_tokens=1, total_tokens=11, raw={},
                                         model="gpt-4o-mini", custom_llm_provider="openai") for i in range(4)], "file")
        store.add([UsageEvent(id=f"alice-{i}", ts=noon, provider="openai", host="api.openai.com",
                              path="/v1/chat/completions", model="gpt-4o-mini", cost_usd=0.5,
                              key_fingerprint=key_fingerprint(ALICE_KEY, salt), key_hint=key_hint(ALICE_KEY))
                   for i in range(3)])
        store.add([UsageEvent(id="copied", ts=noon, provider="openai", host="api.openai.com",
                              path="/v1/chat/completions", model="gpt-4o-mini", cost_usd=0.0,
                              key_fingerprint=key_fingerprint(GATEWAY_KEY, salt), key_hint=key_hint(GATEWAY_KEY))])
    api = FakeOpenAiAdmin(
        key=ADMIN,
        usage={day: [usage("proj_gw", "key_gw", 1000, cached=CACHE_READS), usage("proj_al", "key_al", 1000),
                     usage("proj_nb", "key_nb", 1000)]},
        costs={day: [cost("proj_gw", 4.0 + cache_cost), cost("proj_al", 1.5), cost("proj_nb", 7.25)]},
        api_keys={project: [{"id": key_id, "name": key_id, "redacted_value": key_hint(key)}]
                  for project, key_id, key in (("proj_gw", "key_gw", GATEWAY_KEY), ("proj_al", "key_al", ALICE_KEY),
                                               ("proj_nb", "key_nb", NOBODY_KEY))},
        failures=[429])
    with api:
        imported = offgate(home, "bill", "import", "--from", "openai", "--key-file", str(key_file), "--since", "7d",
                           "--url", api.url)
        again = offgate(home, "bill", "import", "--from", "openai", "--key-file", str(key_file), "--since", "7d",
                        "--url", api.url)
    assert imported.exit_code == 0, imported.output
    assert "imported 3 bill lines" in imported.output and "3 new or changed" in imported.output
    assert "0 new or changed, 3 unchanged" in again.output

    report = offgate(home, "report", "--format", "json", "--since", "7d")
    assert report.exit_code == 0, report.output
    bill = json.loads(report.output)["bill"]
    assert round(bill["billed_usd"], 9) == round(4.0 + cache_cost + 1.5 + 7.25, 9)
    assert (bill["explained_by_gateway_usd"], bill["explained_by_agents_usd"]) == (4.0, 1.5)
    assert round(bill["unexplained_usd"], 9) == round(cache_cost + 7.25, 9)
    assert [(f["kind"], f["key"], f["token_class"]) for f in bill["findings"]] == [
        ("billed_not_seen", key_hint(NOBODY_KEY), None),
        ("gateway_key_off_gateway", key_hint(GATEWAY_KEY), None),
        ("gateway_mispriced", key_hint(GATEWAY_KEY), "cache reads"),
    ]
    assert [(key["key"], key["gateway_key"]) for key in bill["keys"]] == [
        (key_hint(NOBODY_KEY), False), (key_hint(GATEWAY_KEY), True), (key_hint(ALICE_KEY), False)]

    shown = offgate(home, "bill", "show", "--since", "7d")
    assert "billed_not_seen" in shown.output and "unexplained" in shown.output
    table = offgate(home, "report", "--since", "7d").output
    assert "The providers' bills: billed" in table and "gateway_mispriced" in table
    csv_text = offgate(home, "report", "--format", "csv", "--since", "7d").output
    assert f"openai,{key_hint(NOBODY_KEY)},False,7.25,0.0,0.0,7.25,0.0" in csv_text
    # The HTML report (and so the dashboard, which shows its body) carries the same figures.
    html = offgate(home, "report", "--format", "html", "--since", "7d").output
    assert f'data-metric="explained_by_agents_usd" data-value="{1.5!r}"' in html
    assert html.count('data-kind="gateway_mispriced"') == 1 and 'data-table="bill-keys"' in html
    # Neither the admin key nor any upstream key is in any byte of the store.
    stored = b"".join(path.read_bytes() for path in home.glob("offgate.db*"))
    for secret in (ADMIN, GATEWAY_KEY, ALICE_KEY, NOBODY_KEY, "BILLTESTADMIN", "gatewaygateway"):
        assert secret.encode() not in stored
