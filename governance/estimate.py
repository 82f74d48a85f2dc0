"""A gateway request's cost before it is sent: the prompt's tokens, estimated with the same
estimator the proxy uses (offgate.tokens), at the model's input price, plus the most it may
answer (the request's max_tokens, else the model's own output limit) at its output price.
It is a ceiling, not a forecast: a call passes a cost rule only if even its longest answer does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offgate.pricing import cost_for_key, find_price_key, price_map
from offgate.tokens import estimate_prompt


def estimated_cost_usd(model: str | None, request: Mapping[str, Any]) -> float | None:
    """USD at most for `request` (an OpenAI-shaped body) on `model`; None when the model has no price."""
    if not model:
        return None
    key = find_price_key(model, None)
    if key is None:
        return None
    texts, messages = prompt_texts(request)
    prompt_tokens = estimate_prompt(model, texts, messages)
    return cost_for_key(key, prompt_tokens, max_output_tokens(key, request))


def prompt_texts(request: Mapping[str, Any]) -> tuple[list[str], int]:
    """The prompt's text pieces and how many chat messages hold them (0 for a plain prompt)."""
    messages = request.get("messages")
    if isinstance(messages, list):
        texts: list[str] = []
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            texts.extend(_texts(content))
        return texts, len(messages)
    return _texts(request.get("prompt")) + _texts(request.get("input")), 0


def max_output_tokens(price_key: str, request: Mapping[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = request.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    entry = price_map()[price_key]
    limit = entry.get("max_output_tokens") or entry.get("max_tokens")
    return limit if isinstance(limit, int) else 0


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [text for part in content for text in _texts(part.get("text") if isinstance(part, dict) else part)]
    return []
