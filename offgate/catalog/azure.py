"""Azure OpenAI.

A resource lives at `{resource}.openai.azure.com`, or for Azure AI Foundry at
`{resource}.cognitiveservices.azure.com` / `{resource}.services.ai.azure.com`. Bodies
and usage are OpenAI's, so OpenAI's parsers read them. Two URL styles:

- deployments: `/openai/deployments/{deployment}/chat/completions?api-version=...`, where
  the deployment name in the path is the model (the body names none); the Responses API
  sits beside them at `/openai/responses?api-version=...`, and the Realtime API's
  WebSocket at `/openai/realtime?api-version=...&deployment=...`;
- the v1 API (GA since August 2025): `/openai/v1/...` with no api-version, the deployment
  named by the body's `model`.
"""

from __future__ import annotations

from offgate.catalog.openai import ChatCompletions, Completions, Embeddings, Responses
from offgate.catalog.openai_realtime import Realtime
from offgate.catalog.registry import PathRule, Provider

# Also served by a LiteLLM gateway, which mimics Azure's deployment URLs.
DEPLOYMENT_PATHS = (
    PathRule.of(r"/openai/deployments/(?P<model>[^/]+)/chat/completions", ChatCompletions),
    PathRule.of(r"/openai/deployments/(?P<model>[^/]+)/completions", Completions),
    PathRule.of(r"/openai/deployments/(?P<model>[^/]+)/embeddings", Embeddings),
)

PROVIDER = Provider(
    name="azure",
    hosts=("*.openai.azure.com", "*.cognitiveservices.azure.com", "*.services.ai.azure.com"),
    paths=(
        *DEPLOYMENT_PATHS,
        PathRule.of(r"/openai/responses", Responses),
        PathRule.of(r"/openai/realtime", Realtime),
        PathRule.of(r"/openai/v1/realtime", Realtime),
        PathRule.of(r"/openai/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/openai/v1/responses", Responses),
        PathRule.of(r"/openai/v1/completions", Completions),
        PathRule.of(r"/openai/v1/embeddings", Embeddings),
    ),
)
