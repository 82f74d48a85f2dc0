"""offgate.pricing.cost_for_key holds equal to litellm.cost_per_token.

Samples are drawn deterministically from the bundled price map: token-priced entries
of mode chat, completion or embedding, chosen at random and then topped up with
entries that have cache prices, long-context prices (tiers or `_above_<N>_tokens`),
reasoning prices and off-peak windows, plus the models offgate sees most. Token counts
run from a handful to past a million, on and around the 128k/200k/256k/272k boundaries.

Audio is compared apart: every token-priced entry with an audio price (chat, completion
and realtime models: gpt-realtime, gpt-4o-audio-preview, gpt-audio, Gemini's native-audio
and Live models, Nova Sonic...), with audio a share of the uncached prompt and of the
visible completion, beside cached and reasoning tokens.

Entries left out, and why:
- github_copilot (20 entries): litellm's lookup starts an OAuth device login over the
  network, and the test must stay offline;
- entries litellm cannot attribute from the key alone and, once told the provider,
  prices as "<provider>/<key>", a different entry of the map (10 entries, such as
  "deepseek-chat", priced as "deepseek/deepseek-chat", which is compared itself): the
  comparison would not be of the same entry;
- gemini-exp-1206 among the audio entries: litellm prices it at 0 whatever the tokens.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import litellm
import pytest

from offgate.pricing import cost_for_key
from offgate.pricing import current_price_map as price_map  # litellm knows only these
from tests.support.litellm_reference import litellm_cost

# litellm's provider modules, loaded lazily, warn about their own ReadOnly TypedDicts.
pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

SEED = 20260301
MODES = {"chat", "completion", "embedding"}
PRICE_FIELDS = ("input_cost_per_token", "output_cost_per_token", "tiered_pricing")
NEEDS_LOGIN = {"github_copilot"}
MOMENTS = (
    datetime(2026, 3, 4, 2, 30, tzinfo=UTC),  # Wednesday, peak for DeepSeek's off-peak windows
    datetime(2026, 3, 4, 12, 0, tzinfo=UTC),  # Wednesday, off-peak
    datetime(2026, 3, 7, 8, 0, tzinfo=UTC),  # Saturday, off-peak all day
)
PROMPT_SIZES = (1, 12, 999, 8_000, 128_000, 128_001, 200_000, 200_001, 256_000, 256_001, 272_001, 1_000_000)
COMMON_MODELS = (
    "gpt-4o",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1",
    "gpt-5",
    "o3",
    "text-embedding-3-small",
    "azure/gpt-4o",
    "azure/gpt-5",
    "claude-sonnet-4-5",
    "claude-haiku-4-5-20251001",
    "gemini/gemini-2.5-flash",
    "gemini/gemini-2.5-pro",
    "gemini-2.5-pro",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "deepseek/deepseek-chat",
    "deepseek/deepseek-v4-pro",
)


def _compared(key: str, entry: dict[str, Any]) -> bool:
    provider = entry.get("litellm_provider")
    priced = any(field in entry for field in PRICE_FIELDS)
    return (
        entry.get("mode") in MODES and priced and provider not in NEEDS_LOGIN and not _shadowed(key, provider)
    )


def _shadowed(key: str, provider: str | None) -> bool:
    """litellm needs to be told the provider and then prices "<provider>/<key>" instead."""
    if f"{provider}/{key}" not in price_map():
        return False
    try:
        litellm.get_llm_provider(model=key)
    except Exception:  # litellm cannot tell the provider from the key
        return True
    return False


def _has_long_context_prices(entry: dict[str, Any]) -> bool:
    return "tiered_pricing" in entry or any(
        "_above_" in field and field.endswith("_tokens") for field in entry
    )


def _has_cache_prices(entry: dict[str, Any]) -> bool:
    return "cache_read_input_token_cost" in entry or "cache_creation_input_token_cost" in entry


def _sample_keys(rng: random.Random) -> list[str]:
    compared = sorted(key for key, entry in price_map().items() if _compared(key, entry))

    def having(test) -> list[str]:
        return [key for key in compared if test(price_map()[key])]

    chosen = rng.sample(compared, 100)
    chosen += rng.sample(having(_has_cache_prices), 40)
    chosen += rng.sample(having(_has_long_context_prices), 40)
    chosen += rng.sample(having(lambda entry: "output_cost_per_reasoning_token" in entry), 20)
    chosen += having(lambda entry: "off_peak_pricing" in entry)
    assert set(COMMON_MODELS) <= set(compared)
    chosen += COMMON_MODELS
    return list(dict.fromkeys(chosen))


def _samples() -> list[tuple[str, int, int, int, int, int, datetime]]:
    rng = random.Random(SEED)
    samples = []
    for key in _sample_keys(rng):
        for _ in range(2):
            prompt = rng.choice(PROMPT_SIZES)
            completion = rng.choice((0, 1, rng.randint(2, 64_000)))
            cached = rng.choice((0, prompt // 3))
            cache_write = rng.choice((0, prompt // 10))
            reasoning = rng.choice((0, completion // 2))
            samples.append((key, prompt, completion, cached, cache_write, reasoning, rng.choice(MOMENTS)))
    return samples


SAMPLES = _samples()


def test_the_sample_covers_the_cases_that_matter():
    entries = [price_map()[key] for key, *_ in SAMPLES]
    assert len(SAMPLES) >= 200
    assert sum(_has_cache_prices(entry) for entry in entries) >= 40
    assert sum("tiered_pricing" in entry for entry in entries) >= 5
    assert sum(_has_long_context_prices(entry) for entry in entries) >= 40
    assert sum("output_cost_per_reasoning_token" in entry for entry in entries) >= 20
    assert sum("off_peak_pricing" in entry for entry in entries) >= 10
    assert sum(prompt > 200_000 for _, prompt, *_ in SAMPLES) >= 50
    assert {entry["litellm_provider"] for entry in entries} >= {
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "vertex_ai-language-models",
        "bedrock",
        "bedrock_converse",
    }


AUDIO_MODES = MODES | {"realtime"}
LITELLM_PRICES_AT_ZERO = {"gemini-exp-1206"}


def _audio_keys() -> list[str]:
    return sorted(
        key for key, entry in price_map().items()
        if ("input_cost_per_audio_token" in entry or "output_cost_per_audio_token" in entry)
        and entry.get("mode") in AUDIO_MODES and any(field in entry for field in PRICE_FIELDS)
        and entry.get("litellm_provider") not in NEEDS_LOGIN and not _shadowed(key, entry.get("litellm_provider"))
        and key not in LITELLM_PRICES_AT_ZERO
    )


def _audio_samples() -> list[tuple[str, int, int, int, int, int, int]]:
    """(key, prompt, completion, cached, reasoning, audio prompt, audio completion)."""
    rng = random.Random(SEED + 1)
    samples = []
    for key in _audio_keys():
        prompt = rng.choice(PROMPT_SIZES[1:])
        completion = rng.choice((1, rng.randint(2, 16_000)))
        cached = rng.choice((0, prompt // 4))
        reasoning = rng.choice((0, completion // 3))
        audio_prompt = rng.choice((prompt - cached, (prompt - cached) // 2))
        audio_completion = rng.choice((0, completion - reasoning, (completion - reasoning) // 2))
        samples.append((key, prompt, completion, cached, reasoning, audio_prompt, audio_completion))
    return samples


AUDIO_SAMPLES = _audio_samples()


def test_the_audio_sample_covers_the_audio_models_that_matter():
    keys = {key for key, *_ in AUDIO_SAMPLES}
    assert len(keys) >= 100
    assert {"gpt-realtime", "gpt-4o-audio-preview-2024-12-17", "gpt-4o-mini-realtime-preview-2024-12-17",
            "gpt-audio", "azure/gpt-realtime", "gemini/gemini-2.5-flash-native-audio-latest",
            "gemini-live-2.5-flash-native-audio", "gemini/gemini-3.1-flash-live-preview"} <= keys
    # Entries priced per audio token above 200k prompt tokens, reached by some samples.
    assert any(prompt > 200_000 and "input_cost_per_audio_token_above_200k_tokens" in price_map()[key]
               for key, prompt, *_ in AUDIO_SAMPLES)


@pytest.mark.parametrize(
    ("key", "prompt", "completion", "cached", "reasoning", "audio_prompt", "audio_completion"),
    AUDIO_SAMPLES,
    ids=[f"{s[0]}-{s[1]}/{s[2]}/{s[3]}/{s[4]}/audio{s[5]}/{s[6]}" for s in AUDIO_SAMPLES],
)
def test_audio_cost_equals_litellm(key, prompt, completion, cached, reasoning, audio_prompt, audio_completion):
    ours = cost_for_key(key, prompt, completion, cached, 0, reasoning, audio_prompt, audio_completion, at=MOMENTS[0])
    theirs = litellm_cost(key, prompt, completion, cached, 0, reasoning, MOMENTS[0], audio_prompt=audio_prompt,
                          audio_completion=audio_completion)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-15)
    text_only = cost_for_key(key, prompt, completion, cached, 0, reasoning, at=MOMENTS[0])
    if audio_prompt and price_map()[key].get("input_cost_per_audio_token", 0) > price_map()[key].get(
            "input_cost_per_token", 0):
        assert ours > text_only  # the audio rate applied, not the text one


@pytest.mark.parametrize(
    ("key", "prompt", "completion", "cached", "cache_write", "reasoning", "moment"),
    SAMPLES,
    ids=[f"{s[0]}-{s[1]}/{s[2]}/{s[3]}/{s[4]}/{s[5]}-{s[6]:%a%H%M}" for s in SAMPLES],
)
def test_cost_equals_litellm(key, prompt, completion, cached, cache_write, reasoning, moment):
    ours = cost_for_key(key, prompt, completion, cached, cache_write, reasoning, at=moment)
    theirs = litellm_cost(key, prompt, completion, cached, cache_write, reasoning, moment)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-15)
