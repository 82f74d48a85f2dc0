"""LiteLLM's own cost function, the reference offgate's prices are held to.

Imported by tests only: the proxy and the native host never import litellm.
"""

from __future__ import annotations

import os
from datetime import datetime

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before litellm is imported: no fetch

import litellm
from litellm._internal_context import pinned_billing_time
from litellm.types.utils import Usage as LiteLLMUsage

from offgate.pricing import price_map

litellm.suppress_debug_info = True


def litellm_cost(key: str, prompt: int, completion: int, cached: int | None = 0, cache_write: int | None = 0,
                 reasoning: int | None = 0, moment: datetime | None = None, *, audio_prompt: int | None = 0,
                 audio_completion: int | None = 0) -> float:
    """litellm.cost_per_token for one price-map key, summed (prompt + completion)."""
    cached, cache_write, reasoning = cached or 0, cache_write or 0, reasoning or 0
    # The usage object carries the reasoning and audio tokens, which cost_per_token has no
    # arguments for; the token details go in only when there is audio, as OpenAI sends them.
    usage = LiteLLMUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        reasoning_tokens=reasoning or None,
        prompt_tokens_details={"audio_tokens": audio_prompt} if audio_prompt else None,
        completion_tokens_details={"audio_tokens": audio_completion} if audio_completion else None,
        cache_read_input_tokens=cached,
        cache_creation_input_tokens=cache_write,
    )
    arguments = dict(
        model=key,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cache_read_input_tokens=cached,
        cache_creation_input_tokens=cache_write,
        usage_object=usage,
    )
    if key not in litellm.model_cost:  # a model LiteLLM's map dropped: its last listed entry (retired_prices.json)
        litellm.register_model({key: price_map()[key]})
    with pinned_billing_time(moment) if moment else _nothing():
        try:
            prompt_cost, completion_cost = litellm.cost_per_token(**arguments)
        except Exception:  # litellm cannot tell every provider from the key alone
            provider = price_map()[key]["litellm_provider"]
            prompt_cost, completion_cost = litellm.cost_per_token(custom_llm_provider=provider, **arguments)
    return prompt_cost + completion_cost


def litellm_token_count(model: str, **kwargs: object) -> int:
    """litellm.token_counter, with tiktoken pointed at the encodings litellm bundles."""
    return litellm.token_counter(model=model, **kwargs)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
