"""A small world of captured calls and LiteLLM spend rows with one example of every case
reconciliation tells apart (tests/test_reconcile.py and tests/test_report.py use it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.spend.rows import record_from_row
from offgate.events import UsageEvent
from offgate.store.spend import SpendRecord

T0 = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
GATEWAY_HOST = "litellm.example.com"


def gateway_call(id: str, seconds: float, **fields: object) -> UsageEvent:
    return UsageEvent(**{
        "id": id, "ts": T0 + timedelta(seconds=seconds), "route": "gateway", "provider": "litellm",
        "endpoint": "chat.completions", "host": GATEWAY_HOST, "path": "/v1/chat/completions",
        "model": "gpt-4o-mini", "status_code": 200, "prompt_tokens": 1000, "completion_tokens": 100,
        "cost_usd": 0.00021, "process_name": "python3", "user": "alice", "device": "alice-laptop",
        "app": None, "key_fingerprint": "aaaaaaaaaaaa", **fields})


def direct_call(id: str, seconds: float, **fields: object) -> UsageEvent:
    return UsageEvent(**{
        "id": id, "ts": T0 + timedelta(seconds=seconds), "route": "direct", "provider": "openai",
        "endpoint": "chat.completions", "host": "api.openai.com", "path": "/v1/chat/completions",
        "model": "gpt-4o-mini-2024-07-18", "status_code": 200, "prompt_tokens": 2000, "completion_tokens": 500,
        "cost_usd": 0.0006, "process_name": "python3", "user": "bob", "device": "bob-desktop",
        "key_fingerprint": "bbbbbbbbbbbb", **fields})


def spend_row(request_id: str, seconds: float, **columns: object) -> SpendRecord:
    return record_from_row({
        "request_id": request_id, "startTime": (T0 + timedelta(seconds=seconds)).isoformat(),
        "model": "openai/gpt-4o-mini", "model_group": "gpt-4o-mini", "api_base": "https://api.openai.com/v1",
        "spend": 0.00021, "prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
        "status": "success", "call_type": "acompletion", **columns})


def world() -> tuple[list[UsageEvent], list[SpendRecord]]:
    events = [
        gateway_call("g-by-response-id", 0, response_id="chatcmpl-1"),
        gateway_call("g-by-call-id", 60, litellm_call_id="call-2"),
        gateway_call("g-by-likeness", 120, model="gpt-4o-mini-2024-07-18"),
        gateway_call("g-unlogged", 180, response_id="chatcmpl-lost"),
        gateway_call("g-mismatch", 240, response_id="chatcmpl-5"),
        gateway_call("g-failed", 300, status_code=429, prompt_tokens=None, completion_tokens=None, cost_usd=None),
        gateway_call("g-recent", 86400 - 60, response_id="chatcmpl-not-yet"),
        direct_call("u-script", 400),
        direct_call("u-estimated", 500, process_name="node", app="claude-code", provider="anthropic",
                    host="api.anthropic.com", model="claude-sonnet-4-20250514", tokens_estimated=True,
                    prompt_tokens=300, completion_tokens=40, cost_usd=0.0015),
        direct_call("u-unpriced", 600, model="mystery-model", cost_usd=None, user="carol", device="carol-mac"),
        direct_call("up-by-response-id", 0.2, response_id="chatcmpl-1", process_name="litellm",
                    user="svc-litellm", device="gateway-1", prompt_tokens=1000, completion_tokens=100,
                    cost_usd=0.00021),
        direct_call("up-by-likeness", 700.3, process_name="litellm", user="svc-litellm", device="gateway-1",
                    prompt_tokens=3000, completion_tokens=300, cost_usd=0.00063),
    ]
    rows = [
        spend_row("chatcmpl-1", 0.1),
        spend_row("chatcmpl-2", 60.1, litellm_call_id="call-2"),
        spend_row("chatcmpl-3", 122),
        spend_row("chatcmpl-5", 240.1, spend=0.00042),
        spend_row("chatcmpl-7", 700, prompt_tokens=3000, completion_tokens=300, total_tokens=3300, spend=0.00063),
        spend_row("chatcmpl-8", 800, spend=0.001, end_user="dave"),
        spend_row("chatcmpl-9", 900, status="failure", spend=0.0, prompt_tokens=0, completion_tokens=0),
    ]
    return events, rows
