"""A LiteLLM proxy the company runs (its URLs come from the settings, not from here).

LiteLLM serves the OpenAI API with or without the /v1 prefix (the Realtime API's
WebSocket too), Azure-style deployment URLs, and Anthropic's Messages API (native at /v1/messages, pass-through under
/anthropic). It answers in the upstream API's own shapes, so the providers' parsers read
it. The paths below are matched after the gateway's base path is taken off.
"""

from __future__ import annotations

from offgate.catalog.anthropic import Messages
from offgate.catalog.azure import DEPLOYMENT_PATHS
from offgate.catalog.openai import ChatCompletions, Completions, Embeddings, Responses
from offgate.catalog.openai_realtime import Realtime
from offgate.catalog.registry import PathRule, Provider

GATEWAY_PROVIDER = Provider(
    name="litellm",
    hosts=(),
    paths=(
        PathRule.of(r"(?:/v1)?/chat/completions", ChatCompletions),
        PathRule.of(r"(?:/v1)?/completions", Completions),
        PathRule.of(r"(?:/v1)?/embeddings", Embeddings),
        PathRule.of(r"(?:/v1)?/responses", Responses),
        PathRule.of(r"(?:/v1)?/realtime", Realtime),
        *DEPLOYMENT_PATHS,
        PathRule.of(r"(?:/anthropic)?/v1/messages", Messages),
    ),
)
