"""GitHub Copilot (VS Code, JetBrains, Copilot CLI).

Chat goes to https://api.githubcopilot.com, or to the plan's own host
(api.individual / api.business / api.enterprise.githubcopilot.com), at /chat/completions:
the OpenAI Chat Completions API with Copilot's headers (`Copilot-Integration-Id`,
`Editor-Version`), usage included in the stream. Newer models go through /responses.
Inline completions use the legacy Completions API at
/v1/engines/{model}/completions on copilot-proxy.githubusercontent.com (and the plan
hosts). OpenAI's parsers read all of it.

Sources: xtekky/gpt4free needs_auth/GithubCopilot.py; docs.github.com's Copilot network
allowlist.
"""

from __future__ import annotations

from offgate.catalog.openai import ChatCompletions, Completions, Embeddings, Responses
from offgate.catalog.registry import PathRule, Provider

PROVIDER = Provider(
    name="github-copilot",
    hosts=("*.githubcopilot.com", "copilot-proxy.githubusercontent.com"),
    paths=(
        PathRule.of(r"(?:/v1)?/chat/completions", ChatCompletions),
        PathRule.of(r"(?:/v1)?/responses", Responses),
        PathRule.of(r"(?:/v1)?/embeddings", Embeddings),
        PathRule.of(r"/v1/engines/(?P<model>[^/]+)/completions", Completions),
    ),
    app="github-copilot",
)
