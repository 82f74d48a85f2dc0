"""Together AI (api.together.xyz/v1).

OpenAI's Chat Completions, Completions and Embeddings APIs, with Hugging Face style model
ids (`meta-llama/Llama-3.3-70B-Instruct-Turbo`). A stream's last chunk carries `usage`
(unverified whether only with `stream_options.include_usage`; a stream without it is
estimated).
"""

from __future__ import annotations

from offgate.catalog.openai import ChatCompletions, Completions, Embeddings
from offgate.catalog.registry import PathRule, Provider

PROVIDER = Provider(
    name="together",
    hosts=("api.together.xyz", "api.together.ai"),
    paths=(
        PathRule.of(r"/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/v1/completions", Completions),
        PathRule.of(r"/v1/embeddings", Embeddings),
    ),
)
