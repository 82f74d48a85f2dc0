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
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from offgate.cli import app
from offgate.store.schema import ReconciledCallRow, SpendLogRow
from offgate.store.spend import SpendLog
from tests.support.litellm_gateway import running_litellm
from tests.support.litellm_reference import litellm_cost
from tests.support.openai_responder import RESPONSE_MODEL_SUFFIX, openai_responder
from tests.support.ports import free_port
from tests.support.proxy_harness import RunningProxy
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

CALLBACK = Path(__file__).parents[1] / "analytics" / "litellm_callback.py"
MASTER_KEY = "sk-offgate-e2e-" + secrets.token_hex(8)
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
    (config_dir / "config.yaml").write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        "      api_base: https://api.openai.com/v1\n"
        "      api_key: sk-fake-provider-key\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
        "litellm_settings:\n"
        "  callbacks: litellm_callback.offgate_spend_logger\n"
    )
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
