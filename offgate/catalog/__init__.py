"""What LLM traffic looks like: the providers offgate recognises and how to read them.

`DEFAULT_CATALOG` knows the providers; `build_catalog` adds the company's LiteLLM
gateways, given by their base URLs.
"""

from __future__ import annotations

from collections.abc import Iterable

from offgate.catalog import anthropic, azure, gemini, openai
from offgate.catalog.litellm_gateway import GATEWAY_PROVIDER
from offgate.catalog.registry import Catalog, Gateway

PROVIDERS = (openai.PROVIDER, azure.PROVIDER, anthropic.PROVIDER, gemini.PROVIDER)


def build_catalog(gateway_urls: Iterable[str] = ()) -> Catalog:
    """The catalog with these gateway base URLs; a bad URL raises ValueError naming it."""
    gateways = [Gateway.from_url(url) for url in gateway_urls]
    return Catalog(PROVIDERS, gateways, gateway_provider=GATEWAY_PROVIDER)


DEFAULT_CATALOG = build_catalog()

__all__ = ["DEFAULT_CATALOG", "GATEWAY_PROVIDER", "PROVIDERS", "build_catalog"]
