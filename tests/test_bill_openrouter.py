"""OpenRouter's activity per key, from a stand-in in the documented shapes: every key's days
and models, its label as the hint, through a 429; a re-import changes nothing. And each
captured or logged OpenRouter call's own billed cost (its generation), fetched once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from analytics.bill.importing import GenerationImportSummary, import_generations
from analytics.bill.openrouter import OpenRouterBillSource
from offgate.cli import app
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.bill import logged_costs, unmanaged_costs
from offgate.store.generations import GenerationLog
from offgate.store.spend import SpendLog, SpendRecord
from tests.support.bill_apis import FakeOpenRouterAdmin, import_twice
from tests.support.fixture_files import FIXTURES_DIR

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


GENERATION = json.loads((FIXTURES_DIR / "bills" / "openrouter-generation.json").read_text(encoding="utf-8"))["data"]
NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)


def generation(generation_id: str, total_cost: float) -> dict:
    return {**GENERATION, "id": generation_id, "total_cost": total_cost, "usage": total_cost}


def openrouter_call(response_id: str, estimate: float) -> UsageEvent:
    return UsageEvent(id=response_id, ts=NOON, provider="openrouter", host="openrouter.ai",
                      path="/api/v1/chat/completions", model="openai/gpt-4.1", response_id=response_id,
                      cost_usd=estimate)


def test_each_openrouter_call_is_billed_at_its_generations_cost_fetched_once(store_url):
    api = FakeOpenRouterAdmin(
        key=MANAGEMENT, keys=[], activity={},
        generations={"gen-A": GENERATION | {"id": "gen-A"}, "gen-B": generation("gen-B", 0.0125),
                     "gen-LOGGED": generation("gen-LOGGED", 0.0031)},
        failures=[429])
    window = (datetime(2026, 11, 1), datetime(2026, 11, 4))
    with api, Store.open(store_url) as store:
        # Estimated by offgate at 0.002, 0.01 and 0.04; "gen-LATER" is not known to OpenRouter yet.
        store.add([openrouter_call("gen-A", 0.002), openrouter_call("gen-B", 0.01), openrouter_call("gen-LATER", 0.04),
                   UsageEvent(id="other", ts=NOON, provider="openai", host="api.openai.com",
                              path="/v1/chat/completions", response_id="gen-NOT-OPENROUTER", cost_usd=1.0)])
        SpendLog(store).add([SpendRecord(request_id="gen-LOGGED", start_time=NOON.replace(tzinfo=None), spend=0.003,
                                         prompt_tokens=10, completion_tokens=1, total_tokens=11, raw={},
                                         model="openai/gpt-4.1", custom_llm_provider="openrouter")], "file")

        def fetch() -> GenerationImportSummary:
            source = OpenRouterBillSource(MANAGEMENT, since=window[0], until=window[1], base_url=api.url,
                                          retry_delay=0).generations(interval=0)
            return import_generations(source, GenerationLog(store), *window, lambda done, total: None)

        first = fetch()
        asked_first = [path for path in api.requests if path.startswith("/api/v1/generation")]
        again = fetch()
        asked_again = [path for path in api.requests if path.startswith("/api/v1/generation")][len(asked_first):]
        days = (window[0].date(), window[1].date())
        captured = unmanaged_costs(store, *days).rows()
        logged = logged_costs(store, *days).rows()

    assert (first.wanted, first.imported, first.unknown) == (4, 3, ["gen-LATER"])
    # The 429 is retried; then each id once, and on the rerun only the one OpenRouter did not know.
    assert asked_first == ["/api/v1/generation?id=gen-A", "/api/v1/generation?id=gen-A",
                           "/api/v1/generation?id=gen-B", "/api/v1/generation?id=gen-LATER",
                           "/api/v1/generation?id=gen-LOGGED"]
    assert (again.wanted, again.imported, again.unknown, asked_again) == (
        1, 0, ["gen-LATER"], ["/api/v1/generation?id=gen-LATER"])
    # Billed per generation where fetched (0.0015 from the documentation's example, 0.0125), else estimated.
    assert [(cost.provider, cost.calls, round(cost.cost_usd, 9)) for cost in captured
            if cost.provider == "openrouter"] == [("openrouter", 3, 0.054)]
    assert [(cost.provider, cost.calls, cost.cost_usd) for cost in logged] == [("openrouter", 1, 0.0031)]


def test_bill_import_from_openrouter_fetches_the_captured_calls_generations(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    key_file = tmp_path / "openrouter-management-key"
    key_file.write_text(MANAGEMENT + "\n", encoding="utf-8")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        store.add([openrouter_call("gen-A", 0.002).model_copy(update={"ts": yesterday}),
                   openrouter_call("gen-LATER", 0.04).model_copy(update={"ts": yesterday})])
    api = FakeOpenRouterAdmin(key=MANAGEMENT, keys=[], activity={}, generations={"gen-A": GENERATION})
    with api:
        imported = CliRunner().invoke(app, ["--home", str(home), "bill", "import", "--from", "openrouter", "--key-file",
                                            str(key_file), "--since", "7d", "--url", api.url], catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    assert ("imported the billed cost of 1 of 2 OpenRouter calls not imported before; 1 OpenRouter does not know "
            "(yet)") in imported.output
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        assert [(cost.calls, round(cost.cost_usd, 9)) for cost in unmanaged_costs(store, None, None).rows()] == [
            (2, 0.0415)]
