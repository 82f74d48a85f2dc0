"""xAI (api.x.ai/v1).

OpenAI's Chat Completions (now called legacy) and Responses APIs, and Anthropic's
Messages API at /v1/messages.

xAI counts chat reasoning tokens beside the completion tokens, not inside them: its
`total_tokens` is prompt + completion + reasoning. LiteLLM folds them into the completion
count when the total says so, and so does this. xAI also reports what the call cost, as
`usage.cost_in_usd_ticks` (ten-billionths of a dollar, docs.x.ai cost tracking).
"""

from __future__ import annotations

from offgate.catalog import openai
from offgate.catalog.anthropic import Messages
from offgate.catalog.base import Usage, as_int, obj
from offgate.catalog.openai import completion_usage
from offgate.catalog.registry import PathRule, Provider

USD_TICKS_PER_DOLLAR = 10_000_000_000


def xai_chat_usage(usage: object) -> Usage | None:
    read = completion_usage(usage)
    if read is None or not read.reasoning_tokens or read.prompt_tokens is None or read.completion_tokens is None:
        return read
    if as_int(obj(usage).get("total_tokens")) == read.prompt_tokens + read.completion_tokens + read.reasoning_tokens:
        read.completion_tokens += read.reasoning_tokens
    return read


def xai_reported_cost(usage: dict[str, object]) -> float | None:
    ticks = as_int(usage.get("cost_in_usd_ticks"))
    return None if ticks is None else ticks / USD_TICKS_PER_DOLLAR


class ChatCompletions(openai.ChatCompletions):
    read_usage = staticmethod(xai_chat_usage)
    read_reported_cost = staticmethod(xai_reported_cost)


class Responses(openai.Responses):
    read_reported_cost = staticmethod(xai_reported_cost)


PROVIDER = Provider(
    name="xai",
    hosts=("api.x.ai",),
    paths=(
        PathRule.of(r"/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/v1/responses", Responses),
        PathRule.of(r"/v1/messages", Messages),
    ),
)
