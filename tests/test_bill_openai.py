"""OpenAI's organization usage and costs, from a stand-in answering in the documented shapes:
every page read through 429s, costs shared among keys, the keys' hints joined, and a
re-import changes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from analytics.bill.http import get_json
from analytics.bill.openai import OpenAiBillSource
from analytics.bill.source import BillSourceError
from offgate.store import Store
from tests.support.bill_apis import FakeOpenAiAdmin, import_twice

ADMIN = "sk-admin-TESTADMINKEY"
D1, D2 = date(2026, 11, 2), date(2026, 11, 3)


def usage(key: str, model: str, tokens: int, cached: int = 0) -> dict:
    return {"input_tokens": tokens, "output_tokens": tokens // 10, "input_cached_tokens": cached,
            "num_model_requests": 3, "project_id": "proj_a", "user_id": None, "api_key_id": key,
            "model": model, "batch": False}


def cost(value: float, line_item: str) -> dict:
    return {"amount": {"value": value, "currency": "usd"}, "line_item": line_item, "project_id": "proj_a"}


def fake() -> FakeOpenAiAdmin:
    return FakeOpenAiAdmin(
        key=ADMIN,
        usage={D1: [usage("key_gw", "gpt-4o-mini-2024-07-18", 30_000),
                    usage("key_al", "gpt-4o-mini-2024-07-18", 10_000)],
               D2: [usage("key_gw", "gpt-4o-2024-08-06", 1000, cached=500)]},
        costs={D1: [cost(0.006, "gpt-4o-mini-2024-07-18, input"), cost(0.002, "gpt-4o-mini-2024-07-18, output")],
               D2: [cost(0.5, "gpt-4o-2024-08-06, input")]},
        api_keys={"proj_a": [{"id": "key_gw", "name": "gateway", "redacted_value": "sk-proj-GAT...0001"},
                             {"id": "key_al", "name": "alice", "redacted_value": "sk-proj-ALI...0002"}]},
        failures=[429, 429, 503])


def test_an_import_reads_every_page_through_rate_limits_and_a_rerun_changes_nothing(tmp_path):
    with fake() as api, Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        def source() -> OpenAiBillSource:
            return OpenAiBillSource(ADMIN, since=datetime(2026, 11, 2), until=datetime(2026, 11, 4),
                                    base_url=api.url, retry_delay=0)

        first, again, lines = import_twice(source, store)
    assert (first.read, first.changed, again.read, again.changed) == (3, 3, 3, 0)
    # Each import read usage's and costs' second page, after the 429s and the 503 were retried.
    assert sum(1 for path in api.requests if "page=" in path) == 4
    by_key = {(line.day, line.key_hint): line for line in lines}
    gateway, alice = by_key[(D1, "sk-proj-GAT...0001")], by_key[(D1, "sk-proj-ALI...0002")]
    # One model, one day: the $0.008 billed is shared by tokens at list price, 3 to 1.
    assert (round(gateway.cost_usd, 9), round(alice.cost_usd, 9)) == (0.006, 0.002)
    cached = by_key[(D2, "sk-proj-GAT...0001")]
    assert (cached.input_tokens, cached.cache_read_tokens, cached.cost_usd) == (500, 500, 0.5)


def test_a_key_that_is_no_admin_key_fails_at_once_with_openais_message(tmp_path):
    with fake() as api:
        source = OpenAiBillSource("sk-proj-notadmin", since=datetime(2026, 11, 2), until=datetime(2026, 11, 4),
                                  base_url=api.url, retry_delay=0)
        with pytest.raises(BillSourceError, match="refused the key .401: Incorrect API key provided"):
            list(source.lines(lambda done, total: None))
        assert len(api.requests) == 1


def test_a_provider_that_keeps_failing_is_given_up_on_saying_so():
    import httpx

    with fake() as api, httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        api.failures = [500] * 10
        gave_up = r"answered 500 to /v1/organization/projects: .* \(gave up after 3 attempts\)"
        with pytest.raises(BillSourceError, match=gave_up):
            get_json(client, "/v1/organization/projects", {}, describe="OpenAI", retries=2, retry_delay=0)
