"""Details of each provider's reading that the recorded fixtures do not show on their own."""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.base import Reading, Usage
from tests.support.fixture_files import load_fixture, read_call

SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def parse(host: str, path: str, request: dict[str, Any], body: bytes, headers: dict[str, str]) -> Reading:
    match = DEFAULT_CATALOG.lookup(host, 443, path)
    assert match is not None
    parser = match.new_parser()
    parser.read_request(json.dumps(request).encode())
    parser.start_response(200, headers)
    parser.feed(body)
    return parser.finish()


def sse(*events: dict[str, Any], named: bool = False) -> bytes:
    lines = []
    for event in events:
        if named:
            lines.append(f"event: {event['type']}\n")
        lines.append(f"data: {json.dumps(event)}\n\n")
    return "".join(lines).encode()


# -- prompt text, kept in memory for estimates ----------------------------------------------

def test_prompt_text_of_each_api():
    chat = read_call(load_fixture("openai/chat"))
    assert chat.prompt_texts == ["You are a concise assistant for a finance team.",
                                 "In one sentence, what is an accrual?"]
    responses = read_call(load_fixture("openai/responses"))
    assert responses.prompt_texts[0].startswith("You answer questions for the finance operations team.")
    assert responses.prompt_texts[1:] == ["Which rule covers ledger account 4070?"]
    assert read_call(load_fixture("openai/completions")).prompt_texts == [
        "Translate to French: Good morning, how are you?"]
    assert read_call(load_fixture("openai/embeddings")).prompt_texts == [
        "quarterly revenue report", "invoice overdue reminder"]
    anthropic = read_call(load_fixture("anthropic/messages"))
    assert [text[:14] for text in anthropic.prompt_texts] == ["Expense policy", "Glossary: term",
                                                              "Can I claim a "]
    gemini = read_call(load_fixture("gemini/stream_array"))
    assert gemini.prompt_texts == ["Answer in one sentence.", "What is a credit note?"]


# -- OpenAI ---------------------------------------------------------------------------------

def test_openai_cache_writes_and_reasoning_are_read():
    body = {"id": "chatcmpl-x", "model": "gpt-5-mini-2025-08-07", "choices": [],
            "usage": {"prompt_tokens": 3000, "completion_tokens": 900,
                      "prompt_tokens_details": {"cached_tokens": 2048, "cache_write_tokens": 512},
                      "completion_tokens_details": {"reasoning_tokens": 640}}}
    reading = parse("api.openai.com", "/v1/chat/completions", {"model": "gpt-5-mini"},
                    json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(3000, 900, 2048, 512, 640)
    assert reading.model == "gpt-5-mini-2025-08-07"


def test_openai_stream_collects_tool_call_arguments_and_refusals():
    chunk = {"id": "chatcmpl-y", "model": "gpt-4o-mini-2024-07-18"}
    body = sse(
        chunk | {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function",
             "function": {"name": "lookup", "arguments": '{"acc'}}]}}]},
        chunk | {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": 'ount": 4070}'}}]}}]},
        chunk | {"choices": [{"index": 0, "delta": {"refusal": "I can't share that."}}]},
    ) + b"data: [DONE]\n\n"
    reading = parse("api.openai.com", "/v1/chat/completions", {"model": "gpt-4o-mini", "stream": True},
                    body, SSE)
    assert reading.completion_texts == ['{"acc', 'ount": 4070}', "I can't share that."]
    assert reading.usage is None and reading.status == "ok"


def test_responses_stream_ends_on_incomplete_too():
    response = {"id": "resp_1", "model": "o4-mini-2025-04-16", "status": "incomplete",
                "usage": {"input_tokens": 40, "output_tokens": 64,
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 64}}}
    body = sse({"type": "response.reasoning_summary_text.delta", "delta": "Thinking"},
               {"type": "response.incomplete", "response": response}, named=True)
    reading = parse("api.openai.com", "/v1/responses", {"model": "o4-mini", "stream": True}, body, SSE)
    assert reading.status == "ok"
    assert reading.usage == Usage(40, 64, 0, None, 64)
    assert reading.completion_texts == ["Thinking"]


# -- Anthropic ------------------------------------------------------------------------------

def test_anthropic_message_delta_input_counts_win_and_nulls_are_ignored():
    start = {"type": "message_start", "message": {
        "id": "msg_1", "model": "claude-sonnet-4-5-20250929",
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 100,
                  "cache_read_input_tokens": 1000, "output_tokens": 1}}}
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
             "usage": {"input_tokens": 12, "cache_creation_input_tokens": None,
                       "cache_read_input_tokens": 1024, "output_tokens": 30,
                       "output_tokens_details": {"thinking_tokens": 20}}}
    body = sse(start,
               {"type": "content_block_delta", "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Check the policy."}},
               {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Yes."}},
               delta, {"type": "message_stop"}, named=True)
    reading = parse("api.anthropic.com", "/v1/messages", {"model": "claude-sonnet-4-5", "stream": True},
                    body, SSE)
    assert reading.usage == Usage(prompt_tokens=12 + 100 + 1024, completion_tokens=30, cached_tokens=1024,
                                  cache_write_tokens=100, reasoning_tokens=20)
    assert reading.completion_texts == ["Check the policy.", "Yes."]
    assert reading.status == "ok"


def test_anthropic_compaction_iterations_are_added_up():
    usage = {"input_tokens": 23000, "output_tokens": 1000, "cache_read_input_tokens": 0,
             "iterations": [{"type": "compaction", "input_tokens": 180000, "output_tokens": 3500},
                            {"type": "message", "input_tokens": 23000, "output_tokens": 1000,
                             "cache_read_input_tokens": 2048}]}
    body = {"id": "msg_3", "type": "message", "model": "claude-opus-4-6", "content": [], "usage": usage}
    reading = parse("api.anthropic.com", "/v1/messages", {"model": "claude-opus-4-6"},
                    json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(180000 + 23000 + 2048, 3500 + 1000, 2048, None, None)


def test_anthropic_stream_error_event_leaves_the_call_partial():
    body = sse({"type": "message_start", "message": {"id": "msg_2", "model": "claude-haiku-4-5-20251001",
                                                     "usage": {"input_tokens": 9, "output_tokens": 1}}},
               {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, named=True)
    reading = parse("api.anthropic.com", "/v1/messages", {"model": "claude-haiku-4-5", "stream": True},
                    body, SSE)
    assert reading.status == "partial"
    assert reading.error == "stream ended before its final event"
    assert reading.usage == Usage(9, 1, None, None, None)


# -- Gemini ---------------------------------------------------------------------------------

def gemini_usage(metadata: dict[str, int]) -> Usage:
    body = {"candidates": [], "usageMetadata": metadata, "modelVersion": "gemini-2.5-flash"}
    reading = parse("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent",
                    {"contents": []}, json.dumps(body).encode(), JSON)
    assert reading.usage is not None
    return reading.usage


def test_gemini_adds_thoughts_to_candidates():
    usage = gemini_usage({"promptTokenCount": 50, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
                          "totalTokenCount": 100})
    assert usage == Usage(50, 50, None, None, 30)


def test_gemini_candidates_that_already_include_thoughts_are_not_added_twice():
    # prompt + candidates == total: the thoughts are inside candidates (LiteLLM checks the same).
    usage = gemini_usage({"promptTokenCount": 50, "candidatesTokenCount": 50, "thoughtsTokenCount": 30,
                          "totalTokenCount": 100})
    assert usage == Usage(50, 50, None, None, 30)


def test_gemini_tool_use_prompt_tokens_count_as_input():
    usage = gemini_usage({"promptTokenCount": 50, "toolUsePromptTokenCount": 25,
                          "candidatesTokenCount": 10, "totalTokenCount": 85})
    assert usage == Usage(75, 10, None, None, None)


def test_gemini_model_is_the_path_segment_not_model_version():
    body = {"candidates": [], "modelVersion": "gemini-2.5-flash-001", "responseId": "r1"}
    reading = parse("generativelanguage.googleapis.com", "/v1/tunedModels/invoice-tagger-7:generateContent",
                    {"contents": []}, json.dumps(body).encode(), JSON)
    assert reading.model == "invoice-tagger-7"
    assert reading.response_id == "r1"
