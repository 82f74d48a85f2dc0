"""Mistral AI (api.mistral.ai; Codestral's own endpoint codestral.mistral.ai).

POST /v1/chat/completions, /v1/fim/completions (fill in the middle: `prompt` and
`suffix` in, a chat completion out), /v1/agents/completions (`agent_id` instead of
`model`; the answer names the model) and /v1/embeddings. Bodies and usage are OpenAI's
(`UsageInfo`: prompt_tokens, completion_tokens, total_tokens), and a stream is OpenAI's
server-sent events ending with `data: [DONE]`. The last chunk carries `usage` without any
`stream_options` (the SDK types it optional, so a stream without it is estimated).
"""

from __future__ import annotations

from offgate.catalog.base import text_of
from offgate.catalog.openai import ChatCompletions, Embeddings
from offgate.catalog.registry import PathRule, Provider


class FIMCompletions(ChatCompletions):
    endpoint = "fim.completions"

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)  # model and stream; a FIM body has no messages
        self.add_prompt_text(text_of([body.get("prompt"), body.get("suffix")]))


class AgentsCompletions(ChatCompletions):
    endpoint = "agents.completions"


PROVIDER = Provider(
    name="mistral",
    hosts=("api.mistral.ai", "codestral.mistral.ai"),
    paths=(
        PathRule.of(r"/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/v1/fim/completions", FIMCompletions),
        PathRule.of(r"/v1/agents/completions", AgentsCompletions),
        PathRule.of(r"/v1/embeddings", Embeddings),
    ),
)
