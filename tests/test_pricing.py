"""offgate.pricing on real entries of LiteLLM's bundled price map (rates quoted beside
each case are the map's, USD per token)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from offgate.catalog.base import Usage
from offgate.pricing import cost_for_key, cost_usd, find_price_key, price_map


def test_openai_input_and_output():
    # gpt-4o: input 2.5e-6, output 1e-5
    assert cost_usd("gpt-4o", "openai", Usage(prompt_tokens=1000, completion_tokens=500)) == (
        pytest.approx(0.0025 + 0.005, rel=1e-12),
        None,
    )


def test_anthropic_cache_reads_and_writes_are_taken_out_of_the_prompt():
    # claude-sonnet-4-5: input 3e-6, cache read 3e-7, cache write 3.75e-6, output 1.5e-5.
    # 3500 prompt tokens = 1000 uncached + 2000 read from cache + 500 written to it.
    usage = Usage(prompt_tokens=3500, completion_tokens=300, cached_tokens=2000, cache_write_tokens=500)
    cost, note = cost_usd("claude-sonnet-4-5-20250929", "anthropic", usage)
    assert cost == pytest.approx(1000 * 3e-6 + 2000 * 3e-7 + 500 * 3.75e-6 + 300 * 1.5e-5, rel=1e-12)
    assert cost == pytest.approx(0.009975, rel=1e-12)
    assert note is None


def test_gemini_thoughts_count_as_completion():
    # gemini/gemini-2.5-flash: input 3e-7, cache read 3e-8, output and reasoning 2.5e-6.
    # 800 completion tokens = 300 of answer + 500 of thoughts.
    usage = Usage(prompt_tokens=1200, completion_tokens=800, cached_tokens=200, reasoning_tokens=500)
    cost, note = cost_usd("gemini-2.5-flash", "gemini", usage)
    assert cost == pytest.approx(1000 * 3e-7 + 200 * 3e-8 + 300 * 2.5e-6 + 500 * 2.5e-6, rel=1e-12)
    assert cost == pytest.approx(0.002306, rel=1e-12)
    assert note is None


def test_audio_tokens_use_the_audio_rates():
    # gpt-realtime: text in 4e-6, audio in 3.2e-5, cache read 4e-7, text out 1.6e-5, audio out 6.4e-5.
    # 1200 prompt tokens = 200 read from cache + 900 of audio + 100 of text; 300 completion
    # tokens = 250 of audio + 50 of text.
    usage = Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=200, audio_prompt_tokens=900,
                  audio_completion_tokens=250)
    cost, note = cost_usd("gpt-realtime", "openai", usage)
    assert cost == pytest.approx(100 * 4e-6 + 900 * 3.2e-5 + 200 * 4e-7 + 50 * 1.6e-5 + 250 * 6.4e-5, rel=1e-12)
    assert cost == pytest.approx(0.04608, rel=1e-12)
    assert note is None
    # Without the breakdown every token is priced as text: a third of the cost.
    assert cost_usd("gpt-realtime", "openai", Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=200))[
        0] == pytest.approx(1000 * 4e-6 + 200 * 4e-7 + 300 * 1.6e-5, rel=1e-12)


def test_audio_is_never_counted_beyond_its_share():
    # Audio is part of the uncached prompt and of the visible completion: a count past them
    # (a server's inconsistency) is held to them. gpt-realtime rates as above.
    assert cost_for_key("gpt-realtime", 1000, 100, cached_tokens=400, reasoning_tokens=30, audio_prompt_tokens=5000,
                        audio_completion_tokens=5000) == pytest.approx(
        600 * 3.2e-5 + 400 * 4e-7 + 70 * 6.4e-5 + 30 * 1.6e-5, rel=1e-12)


def test_audio_rates_above_200k_tokens_apply_past_the_threshold():
    # Vertex gemini-2.5-flash: text in 3e-7, audio in 1e-6, above 200k audio in 3e-7 (text unchanged).
    assert cost_for_key("gemini-2.5-flash", 200_000, 0, audio_prompt_tokens=50_000) == pytest.approx(
        150_000 * 3e-7 + 50_000 * 1e-6, rel=1e-12)
    assert cost_for_key("gemini-2.5-flash", 200_001, 0, audio_prompt_tokens=50_000) == pytest.approx(
        200_001 * 3e-7, rel=1e-12)


def test_reasoning_tokens_use_their_own_price():
    # dashscope/qwen-plus-2025-07-14: input 4e-7, output 1.2e-6, reasoning 4e-6
    cost = cost_for_key("dashscope/qwen-plus-2025-07-14", 1000, 600, reasoning_tokens=400)
    assert cost == pytest.approx(1000 * 4e-7 + 200 * 1.2e-6 + 400 * 4e-6, rel=1e-12)


def test_rates_above_200k_tokens_apply_past_the_threshold():
    # gemini/gemini-2.5-pro: 1.25e-6 / cache read 1.25e-7 / output 1e-5,
    # above 200k: 2.5e-6 / 2.5e-7 / 1.5e-5
    key = "gemini/gemini-2.5-pro"
    assert cost_for_key(key, 200_000, 2000) == pytest.approx(200_000 * 1.25e-6 + 2000 * 1e-5, rel=1e-12)
    assert cost_for_key(key, 250_000, 2000, cached_tokens=50_000) == pytest.approx(
        200_000 * 2.5e-6 + 50_000 * 2.5e-7 + 2000 * 1.5e-5, rel=1e-12
    )


def test_xai_long_context_rates_start_at_the_threshold():
    # xai/grok-4.20-0309-reasoning: input 1.25e-6, output 2.5e-6; from 200k: 2.5e-6, 5e-6
    key = "xai/grok-4.20-0309-reasoning"
    assert cost_for_key(key, 199_999, 10) == pytest.approx(199_999 * 1.25e-6 + 10 * 2.5e-6, rel=1e-12)
    assert cost_for_key(key, 200_000, 10) == pytest.approx(200_000 * 2.5e-6 + 10 * 5e-6, rel=1e-12)


def test_tiered_pricing_bills_the_whole_call_at_one_tier():
    # dashscope/qwen-flash: (0, 256k] 5e-8 / 4e-7, (256k, 1M] 2.5e-7 / 2e-6
    key = "dashscope/qwen-flash"
    assert cost_for_key(key, 256_000, 1000) == pytest.approx(256_000 * 5e-8 + 1000 * 4e-7, rel=1e-12)
    assert cost_for_key(key, 256_001, 1000) == pytest.approx(256_001 * 2.5e-7 + 1000 * 2e-6, rel=1e-12)


def test_off_peak_rates_depend_on_the_time_of_the_call():
    # deepseek-v4-pro: 1.32e-6 / 3.96e-6; off-peak 6.6e-7 / 1.98e-6 on weekdays
    # 00-01, 04-06 and 10-24 UTC and all weekend.
    key = "deepseek-v4-pro"
    wednesday_peak = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)
    wednesday_off_peak = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    saturday = datetime(2026, 3, 7, 2, 30, tzinfo=UTC)
    peak_cost = 1000 * 1.32e-6 + 100 * 3.96e-6
    off_peak_cost = 1000 * 6.6e-7 + 100 * 1.98e-6
    assert cost_for_key(key, 1000, 100, at=wednesday_peak) == pytest.approx(peak_cost, rel=1e-12)
    assert cost_for_key(key, 1000, 100, at=wednesday_off_peak) == pytest.approx(off_peak_cost, rel=1e-12)
    assert cost_for_key(key, 1000, 100, at=saturday) == pytest.approx(off_peak_cost, rel=1e-12)
    usage = Usage(prompt_tokens=1000, completion_tokens=100)
    assert cost_usd("deepseek-v4-pro", "deepseek", usage, at=wednesday_peak)[0] == pytest.approx(peak_cost)


def test_fireworks_bills_cache_reads_at_half_the_input_rate_without_a_cache_price():
    # fireworks_ai/accounts/fireworks/models/deepseek-r1: input 3e-6, output 8e-6, no cache price
    cost = cost_for_key("fireworks_ai/accounts/fireworks/models/deepseek-r1", 1000, 10, cached_tokens=400)
    assert cost == pytest.approx(600 * 3e-6 + 400 * 1.5e-6 + 10 * 8e-6, rel=1e-12)


def test_unknown_model_has_no_price():
    assert cost_usd("foo-9000", "openai", Usage(prompt_tokens=10, completion_tokens=1)) == (
        None,
        "no price for model foo-9000",
    )
    assert find_price_key("foo-9000", None) is None


def test_missing_model_or_tokens_give_no_cost():
    assert cost_usd(None, "openai", Usage(prompt_tokens=10, completion_tokens=1)) == (None, "model unknown")
    assert cost_usd("gpt-4o", "openai", None) == (None, "tokens unknown")
    assert cost_usd("gpt-4o", "openai", Usage()) == (None, "tokens unknown")


def test_a_missing_side_is_priced_as_zero_and_noted():
    assert cost_usd("gpt-4o", "openai", Usage(prompt_tokens=1000)) == (
        pytest.approx(0.0025, rel=1e-12),
        "completion tokens unknown",
    )
    assert cost_usd("gpt-4o", "openai", Usage(completion_tokens=100)) == (
        pytest.approx(0.001, rel=1e-12),
        "prompt tokens unknown",
    )


def test_a_model_priced_per_second_has_no_token_price():
    # whisper-1 is priced per second of audio only
    assert cost_usd("whisper-1", "openai", Usage(prompt_tokens=10, completion_tokens=0)) == (
        None,
        "no token price for model whisper-1",
    )


@pytest.mark.parametrize(
    ("model", "provider", "key"),
    [
        ("gemini-2.5-flash", "gemini", "gemini/gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini", "gemini/gemini-2.5-flash"),
        ("gpt-4o", "azure", "azure/gpt-4o"),
        ("gpt-4o-2024-08-06", "azure", "azure/gpt-4o-2024-08-06"),
        ("gpt-4o-mini-2024-07-18", "openai", "gpt-4o-mini-2024-07-18"),
        ("GPT-4o", "openai", "gpt-4o"),
        ("claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5-20250929"),
        # A release the map does not list yet is priced as its undated alias.
        ("claude-sonnet-4-5-20991231", "anthropic", "claude-sonnet-4-5"),
        # A gateway's names carry their own provider prefix, or none.
        ("openai/gpt-4o", "litellm", "gpt-4o"),
        ("gemini/gemini-2.5-flash", "litellm", "gemini/gemini-2.5-flash"),
        ("gemini-2.5-flash", "litellm", "gemini-2.5-flash"),
    ],
)
def test_find_price_key(model, provider, key):
    assert find_price_key(model, provider) == key


def test_the_proxy_path_never_imports_litellm():
    code = (
        "import sys, offgate.pricing, offgate.tokens\n"
        "from offgate.catalog.base import Usage\n"
        "cost, note = offgate.pricing.cost_usd('gpt-4o', 'openai', Usage(1000, 500))\n"
        "assert abs(cost - 0.0075) < 1e-12 and note is None, (cost, note)\n"
        "assert offgate.tokens.count_text('gpt-4o', 'hello world') == 2\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_cost_s_basis_is_read_back_from_what_pricing_noted() -> None:
    from offgate.pricing_basis import APP_EQUIVALENT_NOTE, SUBSCRIPTION_NOTE, pricing_basis, retired_listing

    usage = Usage(prompt_tokens=1000, completion_tokens=100)
    listed, retired = cost_usd("gpt-4o-mini", "openai", usage), cost_usd("claude-sonnet-4-20250514", "anthropic", usage)
    partial = cost_usd("claude-sonnet-4-20250514", "anthropic", Usage(prompt_tokens=1000))
    unknown = cost_usd("mystery-model", "openai", usage)
    assert pricing_basis(listed[0] is not None, listed[1]) == "api"
    assert pricing_basis(retired[0] is not None, retired[1]) == "retired_price"
    assert retired_listing(retired[1]) == ("litellm 1.100.0", "2026-09-06")
    assert partial[1] is not None and partial[1].startswith("completion tokens unknown; retired model")
    assert (pricing_basis(True, partial[1]), retired_listing(partial[1])) == ("retired_price",
                                                                               ("litellm 1.100.0", "2026-09-06"))
    assert pricing_basis(unknown[0] is not None, unknown[1]) == "unpriced"
    # A plan comes first: its money is a seat, whatever price stood in for it.
    assert pricing_basis(True, f"{SUBSCRIPTION_NOTE}; {retired[1]}") == "plan_equivalent"
    assert pricing_basis(True, f"{APP_EQUIVALENT_NOTE} openai/gpt-4o") == "plan_equivalent"
    assert pricing_basis(True, "prompt tokens unknown") == "api"
    assert retired_listing(listed[1]) is None


def test_the_price_map_keeps_only_what_pricing_and_limits_read():
    # The proxy prices every call, so the map stays loaded all day (issue 17: its memory):
    # an entry keeps its prices, tiers, provider and output limit, not its feature flags.
    entry = price_map()["gpt-4o-mini"]
    assert {"input_cost_per_token", "output_cost_per_token", "litellm_provider", "max_output_tokens"} <= set(entry)
    assert [field for field in entry if field.startswith("supports_")] == []
    assert "max_input_tokens" not in entry
    tiered = next(entry for entry in price_map().values() if "tiered_pricing" in entry)
    assert all("range" in tier and "input_cost_per_token" in tier for tier in tiered["tiered_pricing"])
    assert cost_usd("gpt-4o-mini", "openai", Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000))[0] == (
        pytest.approx(0.15 + 0.60))


def test_the_price_map_is_held_in_under_3_mb():
    # The proxy holds it all day from its first priced call (issue 17: its memory); as dicts
    # its 5,000 entries and their lower-case index took 4 MB. A fresh process: none loaded yet.
    code = ("import tracemalloc; import offgate.pricing as pricing; tracemalloc.start(); "
            "pricing.price_map(); pricing.find_price_key('gpt-4o-mini', 'openai'); "
            "print(tracemalloc.get_traced_memory()[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert int(done.stdout) < 3_000_000
