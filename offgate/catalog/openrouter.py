"""OpenRouter (openrouter.ai/api/v1).

OpenAI's Chat Completions, Completions and Responses APIs in front of many providers;
models are named `vendor/model` (`anthropic/claude-sonnet-4.5`). Usage is OpenAI's plus
`cost`, what OpenRouter charged in credits (one credit is one US dollar), kept as the
provider's own cost beside offgate's estimate. Its docs put the usage "in the last SSE
message" of a stream, while others say only with `stream_options.include_usage`; either
way it is read wherever it comes. Streams may hold `: OPENROUTER PROCESSING` comments.
"""

from __future__ import annotations

from offgate.catalog import openai
from offgate.catalog.openai import as_usd
from offgate.catalog.registry import PathRule, Provider


def openrouter_reported_cost(usage: dict[str, object]) -> float | None:
    return as_usd(usage.get("cost"))


class ChatCompletions(openai.ChatCompletions):
    read_reported_cost = staticmethod(openrouter_reported_cost)


class Completions(openai.Completions):
    read_reported_cost = staticmethod(openrouter_reported_cost)


class Responses(openai.Responses):
    read_reported_cost = staticmethod(openrouter_reported_cost)


PROVIDER = Provider(
    name="openrouter",
    hosts=("openrouter.ai",),
    paths=(
        PathRule.of(r"/api/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/api/v1/completions", Completions),
        PathRule.of(r"/api/v1/responses", Responses),
    ),
)
