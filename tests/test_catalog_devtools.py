"""Developer tools and local model servers: Copilot, JetBrains AI, Zed, Cursor and
Windsurf (counted), Ollama and LM Studio found by host and port, and the tools named by
their User-Agent."""

from __future__ import annotations

import json
import re

import pytest

from offgate.catalog import DEFAULT_CATALOG, build_catalog
from offgate.catalog.apps import app_for
from offgate.recording import build_event
from tests.support.fixture_files import chunked, fixture_names, load_fixture, read_call
from tests.support.litellm_reference import litellm_cost


def event_of(name: str, reading=None, **facts):
    fixture = load_fixture(name)
    match = DEFAULT_CATALOG.lookup(fixture.host, fixture.port, fixture.path)
    return build_event(match, reading or read_call(fixture), status_code=fixture.status,
                       host=fixture.host, path=fixture.path, **facts)


def test_each_tool_endpoint_and_stream_format_has_a_fixture():
    assert set(fixture_names()) >= {
        "github-copilot/chat_stream", "jetbrains-ai/chat_stream", "zed/completion_anthropic",
        "cursor/stream_unified_chat", "windsurf/get_chat_message", "ollama/chat_stream", "ollama/generate",
        "ollama/openai_chat", "lmstudio/native_chat", "lmstudio/openai_chat_stream",
    }


# -- counted, not read: Connect-RPC protobuf ---------------------------------------------------

@pytest.mark.parametrize("name", ["cursor/stream_unified_chat", "windsurf/get_chat_message"])
def test_connect_rpc_calls_are_counted_without_tokens(name):
    fixture = load_fixture(name)
    event = event_of(name, request_bytes=len(fixture.request_body), response_bytes=len(fixture.response_body))
    assert event.endpoint == fixture.path.removeprefix("/")  # the RPC method names the endpoint
    assert (event.parse_status, event.parse_error) == ("ok", None)
    assert (event.prompt_tokens, event.completion_tokens, event.cost_usd) == (None, None, None)
    assert event.cost_note == f"counted only: {event.provider} sends protobuf in a private schema; no tokens are read"
    assert event.app == event.provider
    assert (event.request_bytes, event.response_bytes) == (len(fixture.request_body), len(fixture.response_body))
    assert event.streamed is (name == "cursor/stream_unified_chat")  # connect+proto is a stream


def test_connect_rpc_body_is_never_buffered():
    fixture = load_fixture("cursor/stream_unified_chat")
    match = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path)
    parser = match.new_parser()
    parser.read_request(fixture.request_body)
    parser.start_response(200, {"content-type": "application/connect+proto", "content-encoding": "gzip"})
    for _ in range(1000):
        parser.feed(b"\x00" * 65536)  # 64 MiB of (not even valid gzip) bytes pass by unread
    assert parser.finish().status == "ok"


@pytest.mark.parametrize(("host", "path"), [
    ("api2.cursor.sh", "/aiserver.v1.ChatService/WarmStreamUnifiedChatWithTools"),
    ("api2.cursor.sh", "/aiserver.v1.AiService/CheckQueuePosition"),
    ("api2.cursor.sh", "/aiserver.v1.AnalyticsService/Batch"),
    ("server.codeium.com", "/exa.api_server_pb.ApiServerService/GetUserStatus"),
])
def test_other_rpcs_are_not_calls(host, path):
    assert DEFAULT_CATALOG.lookup(host, 443, path) is None


@pytest.mark.parametrize(("host", "path", "endpoint"), [
    ("api2.cursor.sh", "/aiserver.v1.AiService/StreamChat", "aiserver.v1.AiService/StreamChat"),
    ("api3.cursor.sh", "/aiserver.v1.CppService/StreamCpp", "aiserver.v1.CppService/StreamCpp"),
    ("agent.api5.cursor.sh", "/agent.v1.AgentService/Run", "agent.v1.AgentService/Run"),
    ("server.codeium.com", "/exa.api_server_pb.ApiServerService/GetCompletions",
     "exa.api_server_pb.ApiServerService/GetCompletions"),
])
def test_model_rpcs_are_found_by_method(host, path, endpoint):
    assert DEFAULT_CATALOG.lookup(host, 443, path).endpoint == endpoint


# -- reported usage, priced API-equivalent where a seat is paid ----------------------------------

def test_github_copilot_usage_is_reported_and_priced_as_the_api():
    event = event_of("github-copilot/chat_stream")
    assert (event.app, event.tokens_estimated) == ("github-copilot", False)
    assert (event.prompt_tokens, event.completion_tokens, event.cached_tokens) == (812, 9, 768)
    assert event.cost_usd == pytest.approx(litellm_cost("gpt-4.1-2025-04-14", 812, 9, 768), rel=1e-9)
    assert event.cost_note == "API-equivalent estimate, priced as gpt-4.1-2025-04-14"


@pytest.mark.parametrize("host", ["api.githubcopilot.com", "api.business.githubcopilot.com",
                                  "api.enterprise.githubcopilot.com"])
def test_github_copilot_plan_hosts(host):
    match = DEFAULT_CATALOG.lookup(host, 443, "/chat/completions")
    assert (match.provider, match.app, match.endpoint) == ("github-copilot", "github-copilot", "chat.completions")
    inline = DEFAULT_CATALOG.lookup("copilot-proxy.githubusercontent.com", 443,
                                    "/v1/engines/gpt-41-copilot/completions")
    assert (inline.endpoint, inline.path_model) == ("completions", "gpt-41-copilot")


def test_jetbrains_ai_is_estimated_from_the_profile():
    event = event_of("jetbrains-ai/chat_stream")
    reading = read_call(load_fixture("jetbrains-ai/chat_stream"))
    assert reading.prompt_texts == ["You are a helpful assistant in PyCharm.", "How do I rename a variable everywhere?"]
    assert (event.model, event.app, event.tokens_estimated) == ("openai-gpt-4o", "jetbrains-ai", True)
    assert (event.prompt_tokens, event.completion_tokens) == (28, 8)
    assert event.cost_usd == pytest.approx(litellm_cost("gpt-4o", 28, 8), rel=1e-9)
    assert event.cost_note == "API-equivalent estimate, priced as openai/gpt-4o"


def test_zed_reads_the_providers_events_and_skips_its_own_status():
    event = event_of("zed/completion_anthropic")
    assert (event.app, event.model, event.tokens_estimated) == ("zed", "claude-sonnet-4-5-20250929", False)
    assert (event.prompt_tokens, event.completion_tokens) == (1342, 14)
    assert event.cost_usd == pytest.approx(litellm_cost("claude-sonnet-4-5-20250929", 1342, 14), rel=1e-9)


def test_zed_openai_models_without_status_messages():
    fixture = load_fixture("zed/completion_anthropic")
    request = {"provider": "open_ai", "model": "gpt-5-mini", "provider_request": {
        "model": "gpt-5-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}}
    chunks = [{"id": "chatcmpl-z1", "model": "gpt-5-mini", "choices": [{"index": 0, "delta": {"content": "Hello"}}]},
              {"id": "chatcmpl-z1", "model": "gpt-5-mini", "choices": [],
               "usage": {"prompt_tokens": 8, "completion_tokens": 1}}]
    body = "".join(json.dumps(chunk) + "\n" for chunk in chunks).encode()
    reading = read_call(fixture, chunked(body, 4), request_body=json.dumps(request).encode())
    assert (reading.status, reading.model, reading.completion_texts) == ("ok", "gpt-5-mini", ["Hello"])
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens) == (8, 1)


def test_zed_unknown_provider_is_unparsed():
    fixture = load_fixture("zed/completion_anthropic")
    reading = read_call(fixture, request_body=b'{"provider": "acme", "model": "m", "provider_request": {}}')
    assert reading.status == "unparsed"
    assert reading.error == "request: ValueError"  # the body's words are not kept


# -- local model servers through reverse mode --------------------------------------------------

@pytest.mark.parametrize(("host", "port", "path", "expected"), [
    ("localhost", 11434, "/api/chat", ("ollama", "chat")),
    ("127.0.0.1", 11434, "/api/generate", ("ollama", "generate")),
    ("LOCALHOST", 11434, "/v1/chat/completions", ("ollama", "chat.completions")),
    ("127.0.0.1", 11434, "/v1/messages", ("ollama", "messages")),
    ("localhost", 1234, "/api/v1/chat", ("lmstudio", "chat")),
    ("127.0.0.1", 1234, "/v1/responses", ("lmstudio", "responses")),
    ("localhost", 1234, "/api/v0/chat/completions", ("lmstudio", "chat.completions")),
])
def test_local_servers_are_found_by_host_and_port(host, port, path, expected):
    match = DEFAULT_CATALOG.lookup(host, port, path)
    assert (match.provider, match.endpoint, match.route) == (*expected, "direct")


@pytest.mark.parametrize(("host", "port"), [
    ("localhost", 11435),   # the reverse proxy's own port: the upstream port is what counts
    ("localhost", 8080),
    ("ollama.example", 11434),
    ("10.1.2.3", 1234),
])
def test_other_ports_and_hosts_are_not_local_servers(host, port):
    assert DEFAULT_CATALOG.lookup(host, port, "/api/chat") is None


def test_a_gateway_on_a_local_port_still_wins():
    catalog = build_catalog(["http://localhost:11434"])
    assert catalog.lookup("localhost", 11434, "/v1/chat/completions").route == "gateway"


def test_local_servers_are_decrypted_on_their_port_only():
    patterns = [re.compile(p) for p in DEFAULT_CATALOG.decrypt_patterns()]

    def decrypted(address: str) -> bool:
        return any(p.search(address) for p in patterns)

    assert decrypted("127.0.0.1:11434") and decrypted("localhost:1234")
    assert not decrypted("127.0.0.1:8080") and not decrypted("localhost:11435") and not decrypted("x127.0.0.1:11434")


def test_ollama_ndjson_final_line_counts_tokens():
    event = event_of("ollama/chat_stream")
    assert (event.provider, event.app, event.streamed) == ("ollama", "ollama", True)
    assert (event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (31, 5, False)
    assert event.cost_usd is None and event.cost_note == "no price for model llama3.2:3b"


def test_ollama_stream_cut_before_done_has_no_counts():
    fixture = load_fixture("ollama/chat_stream")
    body = fixture.response_body
    head = body[:body.rindex(b"\n", 0, body.index(b'"done": true')) + 1]  # every line but the last
    reading = read_call(fixture, chunked(head, 7), complete=False)
    assert (reading.status, reading.error) == ("partial", "response was cut off")
    assert reading.usage is None
    assert "".join(reading.completion_texts) == "An invoice asks for payment."


def test_ollama_prompt_from_cache_is_estimated():
    fixture = load_fixture("ollama/chat_stream")
    body = fixture.response_body.replace(b'"prompt_eval_count": 31, ', b"")
    reading = read_call(fixture, [body])
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens) == (None, 5)
    event = event_of("ollama/chat_stream", reading)
    assert (event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (23, 5, True)


def test_ollama_generate_without_stream_is_one_object():
    reading = read_call(load_fixture("ollama/generate"))
    assert (reading.streamed, reading.usage.prompt_tokens, reading.usage.completion_tokens) == (False, 18, 24)
    assert reading.prompt_texts == ["Define a ledger in one sentence."]


def test_lm_studio_native_chat_stream_reads_the_final_result():
    fixture = load_fixture("lmstudio/native_chat")
    result = json.loads(fixture.response_body)
    body = (b'event: message.delta\ndata: {"type": "message.delta", "content": "Depre"}\n\n'
            + b"event: chat.end\ndata: " + json.dumps({"type": "chat.end", "result": result}).encode() + b"\n\n")
    request = {**json.loads(fixture.request_body), "stream": True}
    reading = read_call(fixture, chunked(body, 9), response_headers={"content-type": "text/event-stream"},
                        request_body=json.dumps(request).encode())
    assert (reading.status, reading.streamed) == ("ok", True)
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens, reading.usage.reasoning_tokens) == (22, 19, 4)


# -- tools named by their User-Agent -------------------------------------------------------------

@pytest.mark.parametrize(("agent", "app"), [
    ("claude-cli/2.1.39 (external, cli)", "claude-code"),
    ("codex_cli_rs/0.156.1 (Mac OS 15.5.0; arm64) iTerm.app/3.5.14", "codex-cli"),
    ("codex-tui/0.149.1 (Mac OS 15.5.0; arm64) Apple_Terminal", "codex-cli"),
    ("codex_exec/0.156.1 (Ubuntu 24.4.0; x86_64) unknown", "codex-cli"),
    ("codex_vscode/0.4.12 (Windows 11; x86_64) vscode/1.104.0", "codex-vscode"),
    ("Codex Desktop/0.150.0-alpha.8 (Mac OS 15.5.0; arm64)", "codex-desktop"),
    ("GeminiCLI/0.9.0 (linux; x64)", "gemini-cli"),
    ("GeminiCLI/0.21.0/gemini-3-flash (darwin; arm64)", "gemini-cli"),
    ("GitHubCopilotChat/0.31.0", "github-copilot"),
    ("Mozilla/5.0 (Macintosh) Chrome/140.0", None),
])
def test_tools_are_named_by_user_agent(agent, app):
    assert app_for({"user-agent": agent}, None) == app


def test_codex_on_chatgpt_backend_is_the_cli_with_reported_usage():
    fixture = load_fixture("chatgpt/codex_responses")
    match = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path)
    event = build_event(match, read_call(fixture), status_code=200, host=fixture.host, path=fixture.path,
                        app=app_for({"user-agent": "codex_cli_rs/0.156.1 (Mac OS 15.5.0; arm64) ghostty"}, match.app))
    assert (event.app, event.provider, event.tokens_estimated) == ("codex-cli", "chatgpt", False)
    assert (event.prompt_tokens, event.completion_tokens) == (5210, 96)
    assert event.cost_usd == pytest.approx(litellm_cost("gpt-5.2-codex", 5210, 96, 4608, 0, 64), rel=1e-9)
    assert event.cost_note == "API-equivalent estimate, priced as openai/gpt-5.2-codex"
