"""Which requests the default catalog recognises, and how gateways are added."""

from __future__ import annotations

import re

import pytest

from offgate.catalog import DEFAULT_CATALOG, build_catalog
from offgate.catalog.anthropic import Messages
from offgate.catalog.gemini import StreamGenerateContent
from offgate.catalog.openai import ChatCompletions, Embeddings, Responses


def found(host: str, path: str, port: int = 443, catalog=DEFAULT_CATALOG):
    match = catalog.lookup(host, port, path)
    return None if match is None else (match.provider, match.endpoint, match.path_model, match.route)


@pytest.mark.parametrize(("host", "path", "expected"), [
    ("api.openai.com", "/v1/chat/completions", ("openai", "chat.completions", None, "direct")),
    ("API.OpenAI.com.", "/v1/responses", ("openai", "responses", None, "direct")),
    ("api.openai.com", "/v1/completions", ("openai", "completions", None, "direct")),
    ("api.openai.com", "/v1/embeddings", ("openai", "embeddings", None, "direct")),
    ("contoso.openai.azure.com", "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
     ("azure", "chat.completions", "gpt-4o-mini", "direct")),
    ("contoso.openai.azure.com", "/openai/deployments/embed-small/embeddings",
     ("azure", "embeddings", "embed-small", "direct")),
    ("contoso.openai.azure.com", "/openai/responses?api-version=2025-04-01-preview",
     ("azure", "responses", None, "direct")),
    ("eu.contoso.cognitiveservices.azure.com", "/openai/v1/chat/completions",
     ("azure", "chat.completions", None, "direct")),
    ("contoso.services.ai.azure.com", "/openai/v1/responses", ("azure", "responses", None, "direct")),
    ("api.anthropic.com", "/v1/messages?beta=true", ("anthropic", "messages", None, "direct")),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent",
     ("gemini", "generateContent", "gemini-2.5-flash", "direct")),
    ("generativelanguage.googleapis.com", "/v1/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
     ("gemini", "streamGenerateContent", "gemini-2.5-pro", "direct")),
    ("generativelanguage.googleapis.com", "/v1beta/openai/chat/completions",
     ("gemini", "chat.completions", None, "direct")),
    # Web apps and tools whose paths third-party clients spell two ways, or name since.
    ("www.perplexity.ai", "/rest/sse/perplexity_ask", ("perplexity-web", "perplexity_ask", None, "direct")),
    ("www.perplexity.ai", "/rest/sse/perplexity.ask", ("perplexity-web", "perplexity_ask", None, "direct")),
    ("chat.mistral.ai", "/api/trpc/message.newChat?batch=1", ("le-chat", "message.newChat", None, "direct")),
    ("server.self-serve.windsurf.com", "/exa.api_server_pb.ApiServerService/GetDevstralStream",
     ("windsurf", "exa.api_server_pb.ApiServerService/GetDevstralStream", None, "direct")),
])
def test_known_endpoints(host, path, expected):
    assert found(host, path) == expected


@pytest.mark.parametrize(("host", "path"), [
    ("example.com", "/v1/chat/completions"),            # unknown host
    ("openai.azure.com.evil.example", "/openai/v1/chat/completions"),
    ("notopenai.azure.com", "/openai/v1/chat/completions"),  # not a subdomain of openai.azure.com
    ("api.openai.com", "/v1/models"),                   # known host, not an LLM call
    ("api.openai.com", "/v1/chat/completions/extra"),
    ("api.anthropic.com", "/v1/messages/count_tokens"),
    ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:countTokens"),
    ("www.perplexity.ai", "/rest/sse/perplexityXask"),
    ("chat.mistral.ai", "/api/trpc/message.newChatX"),
    ("chat.mistral.ai", "/api/trpc/chat.list"),
    ("tch.poe.com.evil.example", "/up/chan51-8888/updates"),
])
def test_other_requests_are_not_matched(host, path):
    assert found(host, path) is None


def test_parsers_are_shared_across_providers():
    assert DEFAULT_CATALOG.lookup("x.openai.azure.com", 443, "/openai/v1/embeddings").parser is Embeddings
    assert DEFAULT_CATALOG.lookup("generativelanguage.googleapis.com", 443,
                                  "/v1beta/openai/chat/completions").parser is ChatCompletions
    assert DEFAULT_CATALOG.lookup("generativelanguage.googleapis.com", 443,
                                  "/v1beta/models/m:streamGenerateContent").parser is StreamGenerateContent


@pytest.mark.parametrize(("host", "path", "expected"), [
    ("api.openai.com", "/v1/realtime?model=gpt-realtime", ("openai", "realtime", None, "direct")),
    ("api.openai.com", "/v1/responses", ("openai", "responses", None, "direct")),
    ("contoso.openai.azure.com", "/openai/realtime?api-version=2025-04-01-preview&deployment=voice",
     ("azure", "realtime", None, "direct")),
    ("contoso.openai.azure.com", "/openai/v1/realtime?model=voice", ("azure", "realtime", None, "direct")),
    ("generativelanguage.googleapis.com",
     "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=k",
     ("gemini", "BidiGenerateContent", None, "direct")),
    ("generativelanguage.googleapis.com",
     "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained",
     ("gemini", "BidiGenerateContent", None, "direct")),
    ("us-central1-aiplatform.googleapis.com", "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent",
     ("vertex", "BidiGenerateContent", None, "direct")),
    ("copilot.microsoft.com", "/c/api/chat?api-version=2", ("microsoft-copilot", "chat", None, "direct")),
])
def test_websocket_endpoints_are_found_only_on_the_upgrade(host, path, expected):
    match = DEFAULT_CATALOG.lookup(host, 443, path, websocket=True)
    assert (match.provider, match.endpoint, match.path_model, match.route) == expected
    assert match.parser.websocket
    plain = DEFAULT_CATALOG.lookup(host, 443, path)
    assert plain is None or not plain.parser.websocket


GATEWAY = build_catalog(["https://llm.corp.example/litellm/", "http://10.0.0.5:4000"])


@pytest.mark.parametrize(("host", "port", "path", "expected"), [
    ("llm.corp.example", 443, "/litellm/v1/chat/completions", ("litellm", "chat.completions", None)),
    ("llm.corp.example", 443, "/litellm/chat/completions", ("litellm", "chat.completions", None)),
    ("llm.corp.example", 443, "/litellm/responses", ("litellm", "responses", None)),
    ("llm.corp.example", 443, "/litellm/v1/embeddings", ("litellm", "embeddings", None)),
    ("llm.corp.example", 443, "/litellm/completions", ("litellm", "completions", None)),
    ("10.0.0.5", 4000, "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
     ("litellm", "chat.completions", "gpt-4o")),
    ("10.0.0.5", 4000, "/v1/messages", ("litellm", "messages", None)),
    ("10.0.0.5", 4000, "/anthropic/v1/messages", ("litellm", "messages", None)),
])
def test_gateway_paths(host, port, path, expected):
    assert found(host, path, port, GATEWAY) == (*expected, "gateway")


def test_gateway_realtime_session_is_a_gateway_call():
    match = GATEWAY.lookup("llm.corp.example", 443, "/litellm/v1/realtime", websocket=True)
    assert (match.provider, match.endpoint, match.route) == ("litellm", "realtime", "gateway")


def test_gateway_parsers_are_the_providers_own():
    assert GATEWAY.lookup("10.0.0.5", 4000, "/v1/messages").parser is Messages
    assert GATEWAY.lookup("10.0.0.5", 4000, "/responses").parser is Responses


@pytest.mark.parametrize(("host", "port", "path"), [
    ("llm.corp.example", 443, "/v1/chat/completions"),      # outside the base path
    ("llm.corp.example", 443, "/litellm/health/liveliness"),
    ("llm.corp.example", 8443, "/litellm/v1/chat/completions"),  # another port
    ("10.0.0.5", 4000, "/spend/logs"),
])
def test_gateway_other_requests_are_not_matched(host, port, path):
    assert found(host, path, port, GATEWAY) is None


def test_providers_still_found_beside_gateways():
    assert found("api.openai.com", "/v1/chat/completions", catalog=GATEWAY)[0] == "openai"


@pytest.mark.parametrize("url", ["llm.corp.example", "ftp://llm.corp.example", "https://", "http://host:99999"])
def test_bad_gateway_url_is_refused_by_name(url):
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        build_catalog([url])


def test_decrypt_patterns_name_only_catalog_hosts():
    patterns = [re.compile(p) for p in GATEWAY.decrypt_patterns()]

    def decrypted(address: str) -> bool:
        return any(p.search(address) for p in patterns)

    for address in ("api.openai.com:443", "myres.openai.azure.com:443", "a.b.cognitiveservices.azure.com:443",
                    "api.anthropic.com:443", "generativelanguage.googleapis.com:443",
                    "llm.corp.example:443", "10.0.0.5:4000"):
        assert decrypted(address), address
    for address in ("example.com:443", "api.openai.com.evil.example:443", "evilopenai.azure.com:443",
                    "llm.corp.example:8443", "10.0.0.5:443"):
        assert not decrypted(address), address
