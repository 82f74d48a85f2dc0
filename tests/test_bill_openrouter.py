"""OpenRouter's activity per key, from a stand-in in the documented shapes: every key's days
and models, its label as the hint, through a 429; a re-import changes nothing."""

from __future__ import annotations

from datetime import datetime

from analytics.bill.openrouter import OpenRouterBillSource
from offgate.store import Store
from tests.support.bill_apis import FakeOpenRouterAdmin, import_twice

MANAGEMENT = "sk-or-v1-MANAGEMENTKEYTEST"


def item(day: str, usage: float, prompt: int) -> dict:
    return {"date": day, "model": "openai/gpt-4.1", "model_permaslug": "openai/gpt-4.1-2025-04-14",
            "endpoint_id": "550e8400-e29b-41d4-a716-446655440000", "provider_name": "OpenAI", "usage": usage,
            "byok_usage_inference": 0, "requests": 5, "prompt_tokens": prompt, "completion_tokens": 125,
            "reasoning_tokens": 25}


def test_each_keys_activity_becomes_its_lines_and_a_rerun_changes_nothing(tmp_path):
    api = FakeOpenRouterAdmin(
        key=MANAGEMENT,
        keys=[{"hash": "h1", "name": "ci", "label": "sk-or-v1-0e6...1c96"},
              {"hash": "h2", "name": "bob", "label": "sk-or-v1-b0b...b0b0"}],
        activity={"h1": [item("2026-11-02", 0.015, 50), item("2026-11-03", 0.5, 900), item("2026-09-01", 9.0, 1)],
                  "h2": [item("2026-11-02", 1.25, 4000)]},
        failures=[429])
    with api, Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        def source() -> OpenRouterBillSource:
            return OpenRouterBillSource(MANAGEMENT, since=datetime(2026, 11, 1), until=datetime(2026, 11, 4),
                                        base_url=api.url, retry_delay=0)

        first, again, lines = import_twice(source, store)
    assert (first.changed, again.read, again.changed) == (3, 3, 0)  # September is outside the window
    assert sorted((str(line.day), line.key_hint, line.input_tokens, line.cost_usd) for line in lines) == [
        ("2026-11-02", "sk-or-v1-0e6...1c96", 50, 0.015), ("2026-11-02", "sk-or-v1-b0b...b0b0", 4000, 1.25),
        ("2026-11-03", "sk-or-v1-0e6...1c96", 900, 0.5)]
