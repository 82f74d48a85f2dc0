"""Richer gateway logs, the parts without a gateway: what the proxy sends in x-offgate-*
headers, and what the LiteLLM hook accepts of them (the headers are untrusted: a value not as
the proxy sends it is left out) and writes into LiteLLM's request metadata."""

from __future__ import annotations

from typing import Any

import pytest

from governance.client_context import add_client_context
from offgate.gateway_context import MAX_VALUE_CHARS, context_of, header_value


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
