"""Anthropic's usage and cost reports, from a stand-in answering in the documented shapes:
cache reads and writes apart, cents to dollars, the keys' partial hints joined, pages and
429s read through, and a re-import that changes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from analytics.bill.anthropic import AnthropicBillSource
from analytics.bill.source import BillSourceError
from offgate.store import Store
from tests.support.bill_apis import FakeAnthropicAdmin, import_twice

ADMIN = "sk-ant-admin01-TESTADMIN"
D1, D2 = date(2026, 11, 2), date(2026, 11, 3)
MODEL = "claude-sonnet-4-5-20250929"


def usage(key: str, uncached: int, read: int = 0, write_5m: int = 0, tier: str = "standard") -> dict:
    return {"api_key_id": key, "workspace_id": "wrkspc_1", "model": MODEL, "service_tier": tier,
            "context_window": "0-200k", "uncached_input_tokens": uncached, "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 100, "server_tool_use": {"web_search_requests": 0}}


def cost(cents: str, token_type: str) -> dict:
    return {"currency": "USD", "amount": cents, "workspace_id": "wrkspc_1", "description": f"{MODEL} {token_type}",
            "cost_type": "tokens", "context_window": "0-200k", "model": MODEL, "service_tier": "standard",
            "token_type": token_type}


def fake() -> FakeAnthropicAdmin:
    return FakeAnthropicAdmin(
        key=ADMIN,
        usage={D1: [usage("apikey_gw", 1000, read=50_000, write_5m=2000)], D2: [usage("apikey_bob", 3000)]},
        costs={D1: [cost("30.0", "uncached_input_tokens"), cost("1.5", "cache_read_input_tokens")],
               D2: [cost("120.25", "uncached_input_tokens")]},
        api_keys=[{"id": "apikey_gw", "name": "gateway", "partial_key_hint": "sk-ant-api03-GAT...gw01",
                   "workspace_id": "wrkspc_1"},
                  {"id": "apikey_bob", "name": "bob", "partial_key_hint": "sk-ant-api03-BOB...bob2",
                   "workspace_id": "wrkspc_1"}],
        failures=[429])


def source(api: FakeAnthropicAdmin, key: str = ADMIN) -> AnthropicBillSource:
    return AnthropicBillSource(key, since=datetime(2026, 11, 2), until=datetime(2026, 11, 4), base_url=api.url,
                               retry_delay=0)


def test_the_reports_become_lines_per_day_model_and_key_and_a_rerun_changes_nothing(store_url):
    with fake() as api, Store.open(store_url) as store:
        first, again, lines = import_twice(lambda: source(api), store)
    assert (first.changed, again.read, again.changed) == (2, 2, 0)
    gateway, bob = lines
    assert (gateway.day, gateway.key_hint, gateway.input_tokens, gateway.cache_read_tokens,
            gateway.cache_write_tokens, gateway.cost_usd) == (D1, "sk-ant-api03-GAT...gw01", 1000, 50_000, 2000, 0.315)
    assert (bob.day, bob.key_hint, bob.cost_usd) == (D2, "sk-ant-api03-BOB...bob2", 1.2025)


def test_a_wrong_admin_key_fails_with_anthropics_message():
    with fake() as api, pytest.raises(BillSourceError, match=r"refused the key \(401: invalid x-api-key\)"):
        list(source(api, "sk-ant-api03-not-admin").lines(lambda done, total: None))
