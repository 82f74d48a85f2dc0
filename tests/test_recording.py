"""From a parser's reading to the stored event: estimates, prices, and what is kept of a failure."""

from __future__ import annotations

import json

import pytest

from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.registry import Match
from offgate.recording import build_event, unreadable_event
from offgate.tokens import count_text
from tests.support.aws_eventstream import aws_event_message, bedrock_event
from tests.support.fixture_files import load_fixture, read_call, read_session
from tests.support.litellm_reference import litellm_cost
from tests.support.upstream import WebSocketMessage

FACTS = dict(host="contoso-finance.openai.azure.com", path="/openai/deployments/finance-bot/chat/completions")


def lookup(host: str, port: int, path: str, websocket: bool = False) -> Match:
    match = DEFAULT_CATALOG.lookup(host, port, path, websocket=websocket)
    assert match is not None, f"the catalog does not know {host}{path}"
    return match


def test_azure_deployment_with_its_own_name_is_priced_by_the_model_it_answered_with():
    fixture = load_fixture("azure/deployment_chat")
    match = lookup(FACTS["host"], 443, FACTS["path"])
    parser = match.new_parser()
    parser.read_request(fixture.request_body)
    parser.start_response(200, fixture.response_headers)
    parser.feed(fixture.response_body)
    reading = parser.finish()
    assert (reading.model, reading.response_model) == ("finance-bot", "gpt-4o-mini-2024-07-18")
    event = build_event(match, reading, status_code=200, **FACTS)
    assert event.model == "finance-bot"  # what the client asked for
    usage = fixture.expected["usage"]
    assert event.cost_usd == pytest.approx(
        litellm_cost("azure/gpt-4o-mini-2024-07-18", usage["prompt_tokens"], usage["completion_tokens"]), rel=1e-9)


def test_unknown_model_has_no_cost_and_says_why():
    fixture = load_fixture("openai/chat")
    reading = read_call(fixture)
    reading.model = "house-model-7"
    reading.response_model = None
    match = lookup("api.openai.com", 443, "/v1/chat/completions")
    event = build_event(match, reading, status_code=200, host="api.openai.com", path="/v1/chat/completions")
    assert event.cost_usd is None
    assert event.cost_note == "no price for model house-model-7"
    assert event.prompt_tokens == fixture.expected["usage"]["prompt_tokens"]


@pytest.mark.parametrize(("name", "price_key", "counts", "audio", "text_only_cost"), [
    # gpt-4o-audio-preview-2025-06-03: text in 2.5e-6, audio in 4e-5, text out 1e-5, audio out 8e-5.
    ("openai/chat_audio", "gpt-4o-audio-preview-2025-06-03", (61, 211), (45, 198), 61 * 2.5e-6 + 211 * 1e-5),
    # gpt-realtime-2025-08-28: text in 4e-6, audio in 3.2e-5, text out 1.6e-5, audio out 6.4e-5.
    ("openai/realtime_audio", "gpt-realtime-2025-08-28", (174, 158), (56, 125), 174 * 4e-6 + 158 * 1.6e-5),
    # gemini/gemini-2.5-flash-native-audio-preview-09-2025: text in 5e-7, audio in 3e-6, out 2e-6, audio out 1.2e-5.
    ("gemini/live_audio", "gemini/gemini-2.5-flash-native-audio-preview-09-2025", (186, 214), (176, 214),
     186 * 5e-7 + 214 * 2e-6),
])
def test_audio_tokens_are_kept_and_priced_at_the_audio_rates(name, price_key, counts, audio, text_only_cost):
    fixture = load_fixture(name)
    match = lookup(fixture.host, 443, fixture.path, websocket=fixture.websocket)
    (reading,) = read_session(fixture) if fixture.websocket else (read_call(fixture),)
    event = build_event(match, reading, status_code=fixture.status, host=fixture.host, path=fixture.path)
    assert (event.prompt_tokens, event.completion_tokens) == counts
    assert (event.audio_prompt_tokens, event.audio_completion_tokens) == audio
    assert event.tokens_estimated is False and event.cost_note is None
    assert event.cost_usd == pytest.approx(
        litellm_cost(price_key, *counts, audio_prompt=audio[0], audio_completion=audio[1]), rel=1e-9)
    assert event.cost_usd > 3 * text_only_cost  # audio costs several times text: pricing it as text undercounts


# -- what is stored of a failure: offgate's words and the provider's codes, never its text ----------

SECRET = "Project Falcon salary review"  # what a user typed, echoed back in a provider's error


def stored_error(match, reading) -> str | None:
    return build_event(match, reading, status_code=200, host="example.com", path="/").parse_error


def websocket_message(from_client: bool, message: dict) -> WebSocketMessage:
    return WebSocketMessage(from_client, False, json.dumps(message).encode())


def test_a_provider_error_is_stored_without_its_text():
    realtime = load_fixture("openai/realtime")
    match = lookup(realtime.host, 443, realtime.path, websocket=True)
    failed = {"id": "resp_F", "status": "failed", "status_details": {"error": {
        "type": "invalid_request_error", "message": f"Your request about {SECRET} was flagged"}}}
    only_code = {"id": "resp_G", "status": "failed", "status_details": {"error": {"code": "rate_limit_exceeded"}}}
    readings = read_session(realtime, [
        websocket_message(True, {"type": "response.create"}),
        websocket_message(False, {"type": "response.done", "response": failed}),
        websocket_message(True, {"type": "response.create"}),
        websocket_message(False, {"type": "response.done", "response": only_code}),
    ])
    assert [stored_error(match, reading) for reading in readings] == [
        "response failed", "response failed: rate_limit_exceeded"]

    responses = load_fixture("openai/responses_websocket")
    match = lookup(responses.host, 443, responses.path, websocket=True)
    refused, *_ = read_session(responses, [
        websocket_message(True, {"type": "response.create", "model": "gpt-4o", "input": SECRET}),
        websocket_message(False, {"type": "error", "error": {"message": f"No: '{SECRET}' breaks the policy"}}),
    ])
    assert stored_error(match, refused) == "request refused"


def test_a_streamed_error_is_stored_without_its_text():
    chat = load_fixture("le-chat/chat_start")
    line = json.dumps({"message": f"Sorry, I cannot discuss the {SECRET}."}).encode()
    le_chat = read_call(chat, [chat.response_body.split(b"16:")[0], b"6:" + line + b"\n"])
    assert stored_error(lookup(chat.host, 443, chat.path), le_chat) == "Le Chat streamed an error"

    run = load_fixture("openai/assistants_run_stream")
    error = json.dumps({"code": "server_error", "message": f"Failed on {SECRET}"}).encode()
    body = run.response_body.split(b"event: thread.run.step.completed")[0] + b"event: error\ndata: " + error + b"\n\n"
    assistants = read_call(run, [body + b"event: done\ndata: [DONE]\n\n"])
    assert stored_error(lookup(run.host, 443, run.path), assistants) == "stream: ValueError"


def test_an_aws_exception_is_stored_by_its_type_only():
    throttled = aws_event_message(
        {":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception"},
        json.dumps({"message": f"Too many tokens in '{SECRET}'"}).encode())
    host, path = "bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-lite-v1:0/converse-stream"
    match = lookup(host, 443, path)
    parser = match.new_parser()
    parser.read_request(json.dumps({"messages": [{"role": "user", "content": [{"text": SECRET}]}]}).encode())
    parser.start_response(200, {"content-type": "application/vnd.amazon.eventstream"})
    parser.feed(bedrock_event("messageStart", {"role": "assistant"}) + throttled)
    assert stored_error(match, parser.finish()) == "response: StreamException: throttlingException"


def test_offgates_own_failure_is_stored_by_its_type_only():
    match = lookup("api.openai.com", 443, "/v1/chat/completions")
    event = unreadable_event(match, KeyError(SECRET), status_code=200, host="api.openai.com", path="/")
    assert (event.parse_status, event.parse_error) == ("unparsed", "offgate: KeyError")


def test_a_long_stream_without_usage_keeps_little_text_and_still_estimates_all_of_it():
    """Issue 17: a stream without usage keeps at most 64 Ki characters a side for its
    estimate and counts the rest, instead of holding megabytes until its event is written."""
    match = lookup("api.openai.com", 443, "/v1/chat/completions")
    parser = match.new_parser()
    parser.read_request(json.dumps({"model": "gpt-4o", "stream": True,
                                    "messages": [{"role": "user", "content": "Tell a long story"}]}).encode())
    parser.start_response(200, {"content-type": "text/event-stream"})
    piece = "The cat sat on the mat and looked at the moon. " * 100
    for _ in range(200):  # 940,000 characters of reply
        delta = {"choices": [{"index": 0, "delta": {"content": piece}}]}
        parser.feed(b"data: " + json.dumps(delta).encode() + b"\n\n")
    parser.feed(b"data: [DONE]\n\n")
    reading = parser.finish()
    assert sum(map(len, reading.completion_texts)) == 64 * 1024
    assert reading.completion_chars_not_kept == 200 * len(piece) - 64 * 1024
    event = build_event(match, reading, status_code=200, host="api.openai.com", path="/v1/chat/completions")
    whole = count_text("gpt-4o", piece * 200)
    assert event.tokens_estimated and event.completion_tokens is not None
    assert abs(event.completion_tokens - whole) <= whole // 1000


def test_a_retired_model_keeps_its_last_listed_price_and_says_so():
    # LiteLLM's map in the lock dropped claude-sonnet-4-20250514; Claude Code 2.1 still calls it.
    fixture = load_fixture("anthropic/messages")
    reading = read_call(fixture)
    reading.model = "claude-sonnet-4-20250514"
    match = DEFAULT_CATALOG.lookup("api.anthropic.com", 443, "/v1/messages")
    event = build_event(match, reading, status_code=200, host="api.anthropic.com", path="/v1/messages")
    usage = reading.usage
    assert usage is not None and usage.prompt_tokens and usage.completion_tokens
    # Its last listed rates (litellm 1.100.0): $3 in, $15 out per million tokens.
    uncached = usage.prompt_tokens - (usage.cached_tokens or 0) - (usage.cache_write_tokens or 0)
    assert event.cost_usd == pytest.approx(uncached * 3e-6 + (usage.cached_tokens or 0) * 3e-7
                                           + (usage.cache_write_tokens or 0) * 3.75e-6
                                           + usage.completion_tokens * 15e-6, rel=1e-9)
    assert event.cost_note == ("retired model: last listed price (litellm 1.100.0, 2026-09-06); "
                               "LiteLLM's current price map no longer has it")
