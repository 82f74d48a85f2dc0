"""Richer gateway logs, the parts without a gateway: what the proxy sends in x-offgate-*
headers (a client's own never pass as the proxy's), and what the LiteLLM hook accepts of them
(the headers are untrusted: a value not as the proxy sends it is left out) and writes into
LiteLLM's request metadata."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from governance.client_context import add_client_context
from interceptor.attribution import ProcessCache
from interceptor.calls import InterceptedCall
from interceptor.decrypt_policy import DecryptPolicy
from interceptor.fail_open import FailOpen
from interceptor.gateway_context import GatewayContext
from interceptor.home_config import HomeConfig
from offgate.catalog.registry import Catalog
from offgate.gateway_context import MAX_VALUE_CHARS, context_of, header_value
from offgate.metering import ResponseMeter

GATEWAY = "https://litellm.example.com"
CHAT = "/v1/chat/completions"


def request(headers: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "proxy_server_request": {"url": "http://gw/v1/chat/completions",
                                                             "headers": headers}, **data}


def test_the_proxy_sends_values_a_header_and_a_tag_hold() -> None:
    assert header_value("laptop-7.corp") == "laptop-7.corp"
    assert header_value(" Code Helper (Renderer) ") == "Code Helper _Renderer_"
    assert header_value("café,\"x\"\n") == "caf___x_"
    assert header_value("a" * 200) == "a" * MAX_VALUE_CHARS
    assert header_value("  ") is None


@pytest.mark.parametrize("bad", ["a,b", "x\ny", "é", "a" * (MAX_VALUE_CHARS + 1), "", "a\\b", 7, None])
def test_the_hook_leaves_out_a_value_the_proxy_would_not_send(bad: object) -> None:
    assert context_of({"X-Offgate-Device": "laptop-7", "x-offgate-user": bad}) == {"device": "laptop-7"}


def test_the_hook_moves_the_context_into_litellms_tags_and_spend_log_metadata() -> None:
    data = request({"x-offgate-device": "laptop-7", "x-offgate-app": "python3", "x-offgate-user": "alice",
                    "user-agent": "OpenAI/Python"},
                   metadata={"tags": ["team-x", "offgate-user:ceo"], "spend_logs_metadata": {"ticket": "T-1"}})
    add_client_context(data)
    assert data["metadata"]["tags"] == ["team-x", "offgate-device:laptop-7", "offgate-app:python3",
                                        "offgate-user:alice"]  # a tag of offgate's prefix from the body is dropped
    assert data["metadata"]["spend_logs_metadata"] == {"ticket": "T-1", "offgate_device": "laptop-7",
                                                       "offgate_app": "python3", "offgate_user": "alice"}


def test_without_offgate_headers_the_request_is_left_as_it_was() -> None:
    data = request({"user-agent": "curl"}, metadata={"tags": ["offgate-user:ceo"]})
    add_client_context(data)
    assert data["metadata"] == {"tags": ["offgate-user:ceo"]}
    bare: dict[str, Any] = {"model": "gpt-4o-mini"}
    add_client_context(bare)
    assert bare == {"model": "gpt-4o-mini"}


def gateway_call(catalog: Catalog, headers: dict[str, str]) -> http.HTTPFlow:
    fields = [(name.encode(), value.encode()) for name, value in headers.items()]
    flow = tflow.tflow(req=tutils.treq(host="litellm.example.com", port=443, scheme=b"https", path=CHAT.encode(),
                                       headers=http.Headers(fields), content=b'{"model": "gpt-4o-mini"}'))
    match = catalog.lookup("litellm.example.com", 443, CHAT)
    assert match is not None and match.route == "gateway"
    flow.metadata["offgate"] = InterceptedCall(match=match, parser=match.new_parser(), client_id=flow.client_conn.id,
                                               host="litellm.example.com", path=CHAT, method="POST",
                                               meter=ResponseMeter(started=0.0))
    return flow


@pytest.mark.parametrize(("enabled", "sent"), [
    # The calling process is unknown here: a client's own claims of it are removed, the device is offgate's.
    (True, {"x-offgate-device": "laptop-7", "x-test": "kept"}),
    (False, {"x-offgate-device": "forged", "x-offgate-user": "ceo", "x-offgate-app": "payroll", "x-test": "kept"}),
])
def test_the_proxy_replaces_a_clients_own_context_headers_on_gateway_calls(enabled: bool, sent: dict[str, str]
                                                                          ) -> None:
    decrypt, context = DecryptPolicy(), GatewayContext(ProcessCache(), FailOpen())
    with taddons.context(HomeConfig(), decrypt, context) as tctx:  # HomeConfig: the offgate_device option
        tctx.configure(decrypt, offgate_gateways=[GATEWAY])
        tctx.options.update(offgate_device="laptop-7", offgate_gateway_context=enabled)
        flow = gateway_call(decrypt.catalog, {"x-offgate-device": "forged", "x-offgate-user": "ceo",
                                              "x-offgate-app": "payroll", "x-test": "kept"})
        asyncio.run(context.request(flow))
        assert {name: value for name, value in flow.request.headers.items() if name.startswith("x-")} == sent
