"""LM Studio's local server (http://localhost:1234 by default).

Seen through mitmproxy's reverse mode, like Ollama (docs/local-models.md). It serves
the OpenAI-compatible /v1/chat/completions, /v1/completions, /v1/embeddings and
/v1/responses (with `usage`), the Anthropic-compatible /v1/messages, the older native
/api/v0/chat/completions (OpenAI-shaped, plus `stats`) and the native v1 chat:

POST /api/v1/chat `{model, input, system_prompt, stream}`; `input` is a string or a
list of `{type: "message", content}` items. The answer `{model_instance_id, output:
[{type: "message" | "reasoning", content}], stats: {input_tokens,
total_output_tokens, ...}, response_id}`. With `"stream": true` it is server-sent
events; the last one carries that whole answer as `result`.

Sources: lmstudio.ai/docs (REST API v0 and v1, OpenAI and Anthropic compatibility). The
v1 stats and stream event names are from the docs' summaries, unverified against a
capture.
"""

from __future__ import annotations

import json

from offgate.catalog.base import CallParser, Usage, as_int, as_obj, as_str, objects, text_of
from offgate.catalog.ollama import OPENAI_COMPATIBLE_PATHS
from offgate.catalog.openai import ChatCompletions, Completions, Embeddings
from offgate.catalog.registry import PathRule, Provider


class NativeChat(CallParser):
    endpoint = "chat"

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream") is True
        self.add_prompt_text(text_of(body.get("system_prompt")))
        items = body.get("input")
        contents = [items] if isinstance(items, str) else [item.get("content") for item in objects(items)]
        self.reading.prompt_messages = len(contents) + (1 if body.get("system_prompt") else 0)
        for content in contents:
            self.add_prompt_text(text_of(content))

    def on_json(self, body: object) -> None:
        answer = as_obj(body)
        if answer is None:
            return
        self.set_model(answer.get("model_instance_id"))
        response_id = as_str(answer.get("response_id"))
        if response_id is not None:
            self.reading.response_id = response_id
        for item in objects(answer.get("output")):
            self.add_completion_text(text_of(item.get("content")))
        stats = as_obj(answer.get("stats"))
        if stats is not None:
            self.reading.usage = Usage(prompt_tokens=as_int(stats.get("input_tokens")),
                                       completion_tokens=as_int(stats.get("total_output_tokens")),
                                       reasoning_tokens=as_int(stats.get("reasoning_output_tokens")))

    def on_event(self, event: str, data: str) -> None:
        result = as_obj((as_obj(json.loads(data)) or {}).get("result"))
        if result is not None:
            self.on_json(result)  # the whole answer, counts included
            self.finished_stream = True


PROVIDER = Provider(
    name="lmstudio",
    hosts=("localhost:1234", "127.0.0.1:1234"),
    paths=(
        *OPENAI_COMPATIBLE_PATHS,
        PathRule.of(r"/api/v0/chat/completions", ChatCompletions),
        PathRule.of(r"/api/v0/completions", Completions),
        PathRule.of(r"/api/v0/embeddings", Embeddings),
        PathRule.of(r"/api/v1/chat", NativeChat),
    ),
    app="lmstudio",
)
