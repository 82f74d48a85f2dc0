"""What LLM traffic looks like: the providers offgate recognises and how to read them.

`DEFAULT_CATALOG` knows the providers; `build_catalog` adds the company's LiteLLM
gateways, given by their base URLs.
"""

from __future__ import annotations

from collections.abc import Iterable

from offgate.catalog import (
    anthropic,
    azure,
    bedrock,
    chatgpt,
    claude_web,
    cohere,
    cursor,
    deepseek,
    deepseek_web,
    fireworks,
    gemini,
    gemini_web,
    github_copilot,
    grok_web,
    groq,
    huggingchat,
    huggingface,
    jetbrains_ai,
    le_chat,
    lmstudio,
    meta_ai,
    microsoft_copilot,
    mistral,
    ollama,
    openai,
    openrouter,
    perplexity,
    perplexity_web,
    poe,
    together,
    vertex,
    windsurf,
    xai,
    zed,
)
from offgate.catalog.litellm_gateway import GATEWAY_PROVIDER
from offgate.catalog.registry import Catalog, Gateway

PROVIDERS = (
    openai.PROVIDER, azure.PROVIDER, anthropic.PROVIDER, gemini.PROVIDER,
    bedrock.PROVIDER, vertex.PROVIDER, mistral.PROVIDER, cohere.PROVIDER, groq.PROVIDER, together.PROVIDER,
    fireworks.PROVIDER, deepseek.PROVIDER, xai.PROVIDER, perplexity.PROVIDER, openrouter.PROVIDER, huggingface.PROVIDER,
    microsoft_copilot.PROVIDER,
    chatgpt.PROVIDER, claude_web.PROVIDER, gemini_web.PROVIDER, perplexity_web.PROVIDER, le_chat.PROVIDER,
    deepseek_web.PROVIDER, grok_web.PROVIDER, meta_ai.PROVIDER, poe.PROVIDER, huggingchat.PROVIDER,
    github_copilot.PROVIDER, jetbrains_ai.PROVIDER, zed.PROVIDER, cursor.PROVIDER, windsurf.PROVIDER,
    ollama.PROVIDER, lmstudio.PROVIDER,
)


def build_catalog(gateway_urls: Iterable[str] = ()) -> Catalog:
    """The catalog with these gateway base URLs; a bad URL raises ValueError naming it."""
    gateways = [Gateway.from_url(url) for url in gateway_urls]
    return Catalog(PROVIDERS, gateways, gateway_provider=GATEWAY_PROVIDER)


DEFAULT_CATALOG = build_catalog()

__all__ = ["DEFAULT_CATALOG", "GATEWAY_PROVIDER", "PROVIDERS", "build_catalog"]
