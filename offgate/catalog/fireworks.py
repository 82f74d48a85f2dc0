"""Fireworks AI (api.fireworks.ai/inference/v1).

OpenAI's Chat Completions, Completions and Embeddings APIs; models are named as account
resources (`accounts/fireworks/models/llama-v3p3-70b-instruct`). A stream's last chunk
carries `usage` (unverified whether only with `stream_options.include_usage`; a stream
without it is estimated).
"""

from __future__ import annotations

from offgate.catalog.openai import ChatCompletions, Completions, Embeddings
from offgate.catalog.registry import PathRule, Provider

PROVIDER = Provider(
    name="fireworks",
    hosts=("api.fireworks.ai",),
    paths=(
        PathRule.of(r"/inference/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/inference/v1/completions", Completions),
        PathRule.of(r"/inference/v1/embeddings", Embeddings),
    ),
)
