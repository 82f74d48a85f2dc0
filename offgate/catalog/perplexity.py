"""Perplexity API (api.perplexity.ai).

OpenAI's Chat Completions API at /chat/completions for the Sonar models (answers add
`citations` and `search_results`), and the Responses API at /v1/responses. Usage is
OpenAI's plus `reasoning_tokens` (inside `completion_tokens`, as LiteLLM reads it),
`citation_tokens`, `num_search_queries` and a `cost` object whose `total_cost` (USD)
includes the search fees offgate cannot price itself. A stream repeats the usage in its
chunks, so the last one counts; whether `data: [DONE]` follows is unverified, so the chunk
that finishes the answer ends the stream too.
"""

from __future__ import annotations

from offgate.catalog import openai
from offgate.catalog.base import Usage, array, as_int, as_obj, obj
from offgate.catalog.openai import as_usd, completion_usage
from offgate.catalog.registry import PathRule, Provider


def perplexity_usage(usage: object) -> Usage | None:
    read = completion_usage(usage)
    if read is not None and read.reasoning_tokens is None:
        read.reasoning_tokens = as_int(obj(usage).get("reasoning_tokens"))
    return read


def perplexity_reported_cost(usage: dict[str, object]) -> float | None:
    cost = usage.get("cost")
    breakdown = as_obj(cost)
    return as_usd(breakdown.get("total_cost") if breakdown is not None else cost)


class ChatCompletions(openai.ChatCompletions):
    read_usage = staticmethod(perplexity_usage)
    read_reported_cost = staticmethod(perplexity_reported_cost)

    def on_json(self, body: object) -> None:
        super().on_json(body)
        response = as_obj(body)
        choices = array(response.get("choices") or []) if response is not None else []
        if any(obj(choice).get("finish_reason") for choice in choices):
            self.finished_stream = True


class Responses(openai.Responses):
    read_reported_cost = staticmethod(perplexity_reported_cost)


PROVIDER = Provider(
    name="perplexity",
    hosts=("api.perplexity.ai",),
    paths=(
        PathRule.of(r"/chat/completions", ChatCompletions),
        PathRule.of(r"/v1/responses", Responses),
    ),
)
