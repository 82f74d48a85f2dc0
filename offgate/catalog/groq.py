"""Groq (api.groq.com/openai/v1).

OpenAI's Chat Completions and Responses APIs. A chat stream reports its usage in the last
chunk under `x_groq.usage` (groq-python `ChatCompletionChunk.x_groq`: "only sent in the
final chunk"), and also as the top-level `usage` when `stream_options.include_usage` is
set; either is read. Groq adds timings (queue_time, prompt_time, ...) to the usage.
"""

from __future__ import annotations

from offgate.catalog import openai
from offgate.catalog.base import as_obj
from offgate.catalog.openai import Responses
from offgate.catalog.registry import PathRule, Provider


class ChatCompletions(openai.ChatCompletions):
    def read_response_fields(self, body: dict[str, object]) -> None:
        super().read_response_fields(body)
        x_groq = as_obj(body.get("x_groq"))
        usage = self.read_usage(x_groq.get("usage")) if x_groq is not None else None
        if usage is not None:
            self.reading.usage = usage


PROVIDER = Provider(
    name="groq",
    hosts=("api.groq.com",),
    paths=(
        PathRule.of(r"/openai/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/openai/v1/responses", Responses),
    ),
)
