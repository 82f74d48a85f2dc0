"""DeepSeek (api.deepseek.com).

OpenAI's Chat Completions API at /chat/completions (also under /v1), fill-in-the-middle
completions at /beta/completions, and Anthropic's Messages API at /anthropic/v1/messages.
Reasoning models stream their thinking as `reasoning_content`.

Usage is OpenAI's plus `prompt_cache_hit_tokens` and `prompt_cache_miss_tokens`, which
add up to `prompt_tokens`: the hits are the cached tokens (newer answers also give
`prompt_tokens_details.cached_tokens`, read first). DeepSeek honours
`stream_options.include_usage`; a stream without it is estimated.
"""

from __future__ import annotations

from offgate.catalog import openai
from offgate.catalog.anthropic import Messages
from offgate.catalog.base import Usage, as_int, obj
from offgate.catalog.openai import completion_usage
from offgate.catalog.registry import PathRule, Provider


def deepseek_usage(value: object) -> Usage | None:
    read = completion_usage(value)
    if read is None:
        return None
    usage = obj(value)  # completion_usage read it as an object
    hits = as_int(usage.get("prompt_cache_hit_tokens"))
    misses = as_int(usage.get("prompt_cache_miss_tokens"))
    if read.cached_tokens is None:
        read.cached_tokens = hits
    if read.prompt_tokens is None and hits is not None and misses is not None:
        read.prompt_tokens = hits + misses
    return read


class ChatCompletions(openai.ChatCompletions):
    read_usage = staticmethod(deepseek_usage)


class FIMCompletions(openai.Completions):
    endpoint = "fim.completions"
    read_usage = staticmethod(deepseek_usage)

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)  # the prompt
        suffix = body.get("suffix")
        if isinstance(suffix, str):
            self.add_prompt_text([suffix])


PROVIDER = Provider(
    name="deepseek",
    hosts=("api.deepseek.com",),
    paths=(
        PathRule.of(r"(?:/v1)?/chat/completions", ChatCompletions),
        PathRule.of(r"/beta/completions", FIMCompletions),
        PathRule.of(r"/anthropic/v1/messages", Messages),
    ),
)
