"""The policy at the real proxy: with `[policy] enforce_block = true`, a direct call under a
block rule is answered by the proxy in the provider's own error shape (HTTP 403) and never
leaves the machine, so the OpenAI and Anthropic SDKs raise their own errors with offgate's
message; it is recorded as blocked. A gateway call under the same rule passes; a call under
coach passes, marked."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.support.proxy_harness import RunningProxy, proxying_to
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

POLICY = """
[policy]
enforce_block = true

[[policy.rules]]
name = "coach-gemini"
action = "coach"
provider = "gemini"
message = "Gemini goes through the gateway too."

[[policy.rules]]
name = "direct-calls"
action = "block"
message = "Ask #ai-help for a gateway key."
alternative_url = "https://ai.example.com/start"
"""
GATEWAY_MESSAGE = ("offgate: direct calls to {provider} are blocked by the company's AI policy (rule 'direct-calls'). "
                   "Ask #ai-help for a gateway key. Send your calls through the company's LiteLLM gateway at "
                   "{gateway}. `offgate route <tool>` prints the settings that do it. "
                   "See https://ai.example.com/start.")
CHAT_REPLY = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}
GEMINI_REPLY = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
                "modelVersion": "gemini-2.0-flash"}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream: FakeUpstream):
    home = tmp_path_factory.mktemp("home")
    (home / "config.toml").write_text(POLICY, encoding="utf-8")
    yield from proxying_to(home, upstream.port, [gateway(upstream)])


def gateway(upstream: FakeUpstream) -> str:
    return f"http://127.0.0.1:{upstream.port}"


def client(proxy: RunningProxy) -> httpx.Client:
    return httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30)


def received_paths(upstream: FakeUpstream) -> list[str]:
    return [received.path for received in upstream.received]


def test_the_openai_sdk_raises_its_permission_error_with_offgates_message(proxy, upstream):
    before = received_paths(upstream)
    with openai.OpenAI(api_key="sk-test-block", max_retries=0, http_client=openai.DefaultHttpxClient(
            proxy=proxy.url, verify=proxy.ssl_context(), timeout=30)) as sdk, \
            pytest.raises(openai.PermissionDeniedError) as raised:
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    assert raised.value.status_code == 403
    message = GATEWAY_MESSAGE.format(provider="openai", gateway=gateway(upstream))
    assert str(raised.value) == f"Error code: 403 - {message}"  # what the person sees
    assert raised.value.body == {"message": message, "type": "permission_error", "param": None,
                                 "code": "blocked_by_policy"}
    assert received_paths(upstream) == before  # it never left the machine
    [event] = proxy.wait_for_events(lambda e: e.provider == "openai" and e.route == "direct")
    assert (event.status_code, event.model, event.policy_outcome, event.policy_rule) == (
        403, "gpt-4o-mini", "blocked", "direct-calls")


def test_the_anthropic_sdk_raises_its_permission_error_with_offgates_message(proxy, upstream):
    before = received_paths(upstream)
    with anthropic.Anthropic(api_key="sk-ant-test", max_retries=0, http_client=anthropic.DefaultHttpxClient(
            proxy=proxy.url, verify=proxy.ssl_context(), timeout=30)) as sdk, \
            pytest.raises(anthropic.PermissionDeniedError) as raised:
        sdk.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hello"}])
    message = GATEWAY_MESSAGE.format(provider="anthropic", gateway=gateway(upstream))
    assert raised.value.status_code == 403
    assert raised.value.response.headers["content-type"] == "application/json"
    assert raised.value.body == {"type": "error", "error": {"type": "permission_error", "message": message}}
    assert message in str(raised.value)  # what the person sees
    assert received_paths(upstream) == before
    [event] = proxy.wait_for_events(lambda e: e.provider == "anthropic")
    assert (event.status_code, event.model, event.policy_outcome, event.policy_rule) == (
        403, "claude-sonnet-4-5", "blocked", "direct-calls")


def test_a_gateway_call_under_the_same_rule_passes(proxy, upstream):
    headers = upstream.add("gateway-chat", Scenario(headers={"content-type": "application/json"},
                                                    chunks=[json.dumps(CHAT_REPLY).encode()]))
    with client(proxy) as http:
        response = http.post(f"{gateway(upstream)}/v1/chat/completions", headers=headers,
                             json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200 and response.json() == CHAT_REPLY
    [event] = proxy.wait_for_events(lambda e: e.route == "gateway")
    assert (event.status_code, event.policy_outcome, event.policy_rule) == (200, None, None)


def test_a_call_under_coach_passes_and_is_recorded_as_coached(proxy, upstream):
    headers = upstream.add("gemini", Scenario(headers={"content-type": "application/json"},
                                              chunks=[json.dumps(GEMINI_REPLY).encode()]))
    with client(proxy) as http:
        response = http.post("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
                             headers={**headers, "x-goog-api-key": "AIza-test"},
                             json={"contents": [{"role": "user", "parts": [{"text": "hello"}]}]})
    assert response.status_code == 200 and response.json() == GEMINI_REPLY
    assert received_paths(upstream)[-1] == "/v1beta/models/gemini-2.0-flash:generateContent"
    [event] = proxy.wait_for_events(lambda e: e.provider == "gemini")
    assert (event.status_code, event.prompt_tokens, event.policy_outcome, event.policy_rule) == (
        200, 4, "coached", "coach-gemini")
