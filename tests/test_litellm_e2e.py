"""End to end with a real LiteLLM proxy: offgate's CustomLogger in its config.yaml, the fake
provider behind it, offgate's interceptor in front of everything.

    client --interceptor--> LiteLLM (gateway) --interceptor--> "api.openai.com" (the fake)
    client --interceptor--> "api.openai.com" (the fake)

The interceptor sees three kinds of calls: the clients' calls to the gateway, the gateway's
own calls upstream (LiteLLM runs on the agent's machine and uses it as its HTTPS proxy),
and the clients' direct calls. `offgate reconcile` and `offgate report --format json` must
find the direct calls unmanaged at LiteLLM's own price, and every gateway call, from both
sides, paired with the spend row the CustomLogger wrote.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from offgate.cli import app
from offgate.fingerprint import key_hint
from offgate.pricing import rates_for
from offgate.store.schema import ReconciledCallRow, SpendLogRow
from offgate.store.spend import SpendLog
from tests.support.bill_apis import FakeOpenAiAdmin
from tests.support.litellm_gateway import running_litellm, write_gateway_config
from tests.support.litellm_reference import litellm_cost
from tests.support.openai_responder import RESPONSE_MODEL_SUFFIX, openai_responder
from tests.support.ports import free_port
from tests.support.proxy_harness import RunningProxy
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

CALLBACK = Path(__file__).parents[1] / "analytics" / "litellm_callback.py"
MASTER_KEY = "sk-offgate-e2e-" + secrets.token_hex(8)
GATEWAY_KEY = "sk-proj-GATEWAYupstreamKEY" + secrets.token_hex(8)  # the gateway's own provider key
ALICE_KEY = "sk-proj-ALICEworkstationKEY" + secrets.token_hex(8)
NOBODY_KEY = "sk-proj-NOBODYwatchedTHIS" + secrets.token_hex(8)
ADMIN_KEY = "sk-admin-E2EADMIN" + secrets.token_hex(8)
runner = CliRunner(env={"COLUMNS": "200"})

GATEWAY_CALLS = [  # (prompt, completion, stream, include_usage)
    (21, 7, False, False), (1200, 300, False, False), (50, 10, False, False), (33, 9, True, True),
    (64, 12, True, False),
]
DIRECT_CALLS = [(1000, 500, False, False), (400, 80, True, True)]


@pytest.fixture(scope="module")
def world(tmp_path_factory, upstream: FakeUpstream) -> Iterator[tuple[RunningProxy, str]]:
    upstream.responder = openai_responder
    home = tmp_path_factory.mktemp("home")
    port = free_port()
    gateway = f"http://127.0.0.1:{port}"
    proxy = RunningProxy(home, gateways=[gateway],
                         set_options=[f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"]).start()
    config_dir = tmp_path_factory.mktemp("litellm")
    shutil.copy(CALLBACK, config_dir / "litellm_callback.py")
    write_gateway_config(config_dir, "https://api.openai.com/v1", GATEWAY_KEY, MASTER_KEY,
                         "litellm_callback.offgate_spend_logger")
    environment = {**os.environ, "OFFGATE_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                   # LiteLLM reaches the provider through the interceptor, trusting its CA.
                   "HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1,localhost", "SSL_CERT_FILE": str(proxy.ca_file)}
    try:
        with running_litellm(config_dir, environment, port):
            yield proxy, gateway
    finally:
        proxy.stop()


def test_direct_calls_are_unmanaged_and_every_gateway_call_has_its_spend_row(world):
    proxy, gateway = world
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=60) as client:
        via_gateway = [_call(client, f"{gateway}/v1/chat/completions", call, MASTER_KEY) for call in GATEWAY_CALLS]
        direct = [_call(client, "https://api.openai.com/v1/chat/completions", call, "sk-someone-s-own-key")
                  for call in DIRECT_CALLS]
    total = 2 * len(GATEWAY_CALLS) + len(DIRECT_CALLS)  # each gateway call is seen twice: in and out
    assert len(proxy.wait_for_events(lambda e: True, count=total, timeout=60)) == total
    _wait_for_spend_rows(proxy, len(GATEWAY_CALLS))

    reconciled = runner.invoke(app, ["--home", str(proxy.home), "reconcile"], catch_exceptions=False)
    assert reconciled.exit_code == 0, reconciled.output
    assert "5 gateway, 5 gateway-upstream, 2 unmanaged" in reconciled.stdout
    assert "paired by response id 10, by LiteLLM call id 0, by time, model and tokens 0" in reconciled.stdout
    report = runner.invoke(app, ["--home", str(proxy.home), "report", "--since", "1h", "--format", "json"],
                           catch_exceptions=False)
    assert report.exit_code == 0, report.output
    document = json.loads(report.stdout)
    totals = document["totals"]

    model = "gpt-4o-mini" + RESPONSE_MODEL_SUFFIX
    direct_cost = sum(litellm_cost(model, prompt, completion) for prompt, completion, *_ in DIRECT_CALLS)
    assert totals["unmanaged_calls"] == len(DIRECT_CALLS)
    assert totals["unmanaged_cost_usd"] == pytest.approx(direct_cost, rel=1e-9)
    assert totals["unmanaged_prompt_tokens"] == sum(call[0] for call in DIRECT_CALLS)

    store = proxy.store()
    try:
        database = store.database
        spend = {row.request_id: row for row in SpendLogRow.select().execute(database)}
        results = {row.event_id: row for row in ReconciledCallRow.select().execute(database)}
        events = store.events()
        assert SpendLog(store).count() == len(GATEWAY_CALLS)
    finally:
        store.close()
    assert sorted(spend) == sorted(via_gateway)  # LiteLLM's request_id is the provider's response id
    for row, (prompt, completion, *_) in zip((spend[i] for i in via_gateway), GATEWAY_CALLS, strict=True):
        assert (row.prompt_tokens, row.completion_tokens, row.source) == (prompt, completion, "callback")
        assert row.spend == pytest.approx(litellm_cost("gpt-4o-mini", prompt, completion), rel=1e-9)
    for event in events:
        result = results[event.id]
        if event.route == "gateway":
            assert (result.classification, result.spend_request_id, result.matched_by) == (
                "gateway", event.response_id, "response_id")
        elif event.process_name == "litellm":
            assert (result.classification, result.spend_request_id) == ("gateway-upstream", event.response_id)
        else:
            assert (result.classification, result.spend_request_id) == ("unmanaged", None)
            assert event.response_id in direct
    assert totals["gateway_calls"] == totals["gateway_calls_matched"] == len(GATEWAY_CALLS)
    assert totals["gateway_upstream_calls"] == len(GATEWAY_CALLS)
    assert totals["spend_rows"] == len(GATEWAY_CALLS)
    assert totals["managed_cost_usd"] == pytest.approx(sum(row.spend for row in spend.values()), rel=1e-12)
    managed, unmanaged = totals["managed_cost_usd"], totals["unmanaged_cost_usd"]
    assert totals["coverage"] == managed / (managed + unmanaged)
    assert document["findings"] == []
    # The one gateway call streamed without usage: its tokens were estimated, LiteLLM's were counted.
    assert [e.tokens_estimated for e in events if e.route == "gateway"].count(True) == 1


def test_the_bill_against_the_gateway_and_the_agents_three_columns_and_three_findings(world, tmp_path):
    """A bill with the gateway's calls (plus cache reads LiteLLM did not log), a workstation's
    direct calls, a call made around the gateway with the gateway's own key, and a key nobody
    watched: the report's three columns and the three findings, exact."""
    proxy, gateway = world
    store = proxy.store()
    try:
        rows_before = SpendLog(store).count()
    finally:
        store.close()
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=60) as client:
        for call in GATEWAY_CALLS[:2]:
            _call(client, f"{gateway}/v1/chat/completions", call, MASTER_KEY)
        for call in DIRECT_CALLS:
            _call(client, "https://api.openai.com/v1/chat/completions", call, ALICE_KEY)
        _call(client, "https://api.openai.com/v1/chat/completions", (300, 30, False, False), GATEWAY_KEY)
    proxy.wait_for_events(lambda e: e.key_hint == key_hint(GATEWAY_KEY) and e.process_name != "litellm", timeout=60)
    proxy.wait_for_events(lambda e: e.key_hint == key_hint(ALICE_KEY), count=len(DIRECT_CALLS), timeout=60)
    _wait_for_spend_rows(proxy, rows_before + 2)
    assert runner.invoke(app, ["--home", str(proxy.home), "reconcile"], catch_exceptions=False).exit_code == 0

    store = proxy.store()
    try:
        rows = list(SpendLogRow.select().execute(store.database))
        logged = sum(row.spend for row in rows)
        direct = [e for e in store.events() if e.route == "direct" and e.process_name != "litellm"]
    finally:
        store.close()
    # What the bill's reconciliation joins LiteLLM's rows by: the upstream provider and model.
    assert {(row.custom_llm_provider, row.model, row.start_time.date()) for row in rows} == {
        ("openai", "openai/gpt-4o-mini", datetime.now(UTC).date())}
    alice = sum(e.cost_usd or 0.0 for e in direct if e.key_hint == key_hint(ALICE_KEY))
    copied = sum(e.cost_usd or 0.0 for e in direct if e.key_hint == key_hint(GATEWAY_KEY))
    assert alice > 0 and copied > 0
    rates = rates_for("gpt-4o-mini", "openai")
    assert rates is not None
    cache_reads = 3_000_000
    cache_cost = cache_reads * rates.cache_read
    day = datetime.now(UTC).date()
    model = "gpt-4o-mini" + RESPONSE_MODEL_SUFFIX

    def usage(project: str, key_id: str, cached: int = 0) -> dict:
        return {"input_tokens": 5000 + cached, "output_tokens": 500, "input_cached_tokens": cached,
                "num_model_requests": 4, "project_id": project, "user_id": None, "api_key_id": key_id,
                "model": model, "batch": False}

    def cost(project: str, value: float) -> dict:
        return {"amount": {"value": value, "currency": "usd"}, "line_item": f"{model}, input", "project_id": project}

    keys = {"proj_gw": ("key_gw", GATEWAY_KEY), "proj_al": ("key_al", ALICE_KEY), "proj_nb": ("key_nb", NOBODY_KEY)}
    api = FakeOpenAiAdmin(
        key=ADMIN_KEY,
        usage={day: [usage("proj_gw", "key_gw", cached=cache_reads), usage("proj_al", "key_al"),
                     usage("proj_nb", "key_nb")]},
        costs={day: [cost("proj_gw", logged + copied + cache_cost), cost("proj_al", alice), cost("proj_nb", 7.25)]},
        api_keys={project: [{"id": key_id, "name": key_id, "redacted_value": key_hint(key)}]
                  for project, (key_id, key) in keys.items()})
    config = tmp_path / "litellm-config.yaml"
    config.write_text("model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
                      f"      api_key: {GATEWAY_KEY}\n", encoding="utf-8")
    settings = proxy.home / "config.toml"
    before = settings.read_text(encoding="utf-8") if settings.exists() else ""
    settings.write_text(f'{before}\n[reconcile]\nlitellm_config = "{config}"\n', encoding="utf-8")
    key_file = tmp_path / "admin-key"
    key_file.write_text(ADMIN_KEY, encoding="utf-8")
    with api:
        imported = runner.invoke(app, ["--home", str(proxy.home), "bill", "import", "--from", "openai", "--key-file",
                                       str(key_file), "--since", "2d", "--url", api.url], catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    report = runner.invoke(app, ["--home", str(proxy.home), "report", "--since", "1h", "--format", "json"],
                           catch_exceptions=False)
    bill = json.loads(report.stdout)["bill"]
    assert [(key["key"], key["gateway_key"]) for key in bill["keys"] if key["gateway_key"]] == [
        (key_hint(GATEWAY_KEY), True)], (settings.read_text(encoding="utf-8"), bill["keys"])
    assert bill["billed_usd"] == pytest.approx(logged + copied + cache_cost + alice + 7.25, rel=1e-9)
    assert bill["explained_by_gateway_usd"] == pytest.approx(logged, rel=1e-9)
    assert bill["explained_by_agents_usd"] == pytest.approx(alice + copied, rel=1e-9)
    assert bill["unexplained_usd"] == pytest.approx(cache_cost + 7.25, rel=1e-9)
    assert [(f["kind"], f["key"], f["token_class"]) for f in bill["findings"]] == [
        ("billed_not_seen", key_hint(NOBODY_KEY), None),
        ("gateway_key_off_gateway", key_hint(GATEWAY_KEY), None),
        ("gateway_mispriced", key_hint(GATEWAY_KEY), "cache reads"),
    ]
    assert bill["findings"][0]["billed_usd"] == 7.25


def _call(client: httpx.Client, url: str, call: tuple[int, int, bool, bool], key: str) -> str:
    """Make one chat completion; returns the response id the client got."""
    prompt, completion, stream, include_usage = call
    body: dict = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"usage {prompt} {completion}"}]}
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    response = client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    if not stream:
        return response.json()["id"]
    first = next(line for line in response.text.splitlines() if line.startswith("data: {"))
    return json.loads(first.removeprefix("data: "))["id"]


def _wait_for_spend_rows(proxy: RunningProxy, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    store = proxy.store()
    try:
        while SpendLog(store).count() < count:
            assert time.monotonic() < deadline, "LiteLLM's callback did not write its spend rows"
            time.sleep(0.1)
    finally:
        store.close()
