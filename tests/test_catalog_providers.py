"""The provider APIs beside OpenAI, Anthropic, Gemini and Azure: what their fixtures do not
show on their own (Bedrock's binary framing going wrong, providers' own usage fields,
reported costs, prices)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from offgate import recording
from offgate.catalog import DEFAULT_CATALOG
from offgate.catalog.base import MAX_FRAME_BYTES, Reading, Usage
from offgate.catalog.framing import AWSEventStreamReader, CorruptFrame, FrameTooLarge, StreamException
from tests.support.aws_eventstream import aws_event_frame, aws_event_message, bedrock_event
from tests.support.fixture_files import fixture_names, load_fixture, read_call, reading_view

EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}

PROVIDERS = ("bedrock", "vertex", "mistral", "cohere", "groq", "together", "fireworks", "deepseek", "xai",
             "perplexity", "openrouter", "huggingface")
NAMES = [name for name in fixture_names() if name.split("/")[0] in PROVIDERS] + [
    "openai/assistants_run_stream", "openai/assistants_thread_run"]


def parse(host: str, path: str, request: dict[str, Any], body: bytes, headers: dict[str, str],
          status: int = 200) -> Reading:
    match = DEFAULT_CATALOG.lookup(host, 443, path)
    assert match is not None
    parser = match.new_parser()
    parser.read_request(json.dumps(request).encode())
    parser.start_response(status, headers)
    parser.feed(body)
    return parser.finish()


def sse(*events: dict[str, Any], done: bool = True) -> bytes:
    body = "".join(f"data: {json.dumps(event)}\n\n" for event in events)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


def messages_in(body: bytes) -> list[bytes]:
    """The AWS event-stream messages of a body, each as its bytes."""
    messages = []
    while body:
        total = int.from_bytes(body[:4], "big")
        messages.append(body[:total])
        body = body[total:]
    return messages


def test_each_endpoint_and_stream_format_has_a_fixture():
    assert set(NAMES) >= {
        "bedrock/invoke", "bedrock/invoke_llama", "bedrock/invoke_stream", "bedrock/converse",
        "bedrock/converse_stream", "bedrock/openai_chat",
        "vertex/gemini_generate_content", "vertex/gemini_stream_sse", "vertex/claude_raw_predict",
        "vertex/claude_stream_raw_predict", "vertex/mistral_raw_predict", "vertex/openapi_chat",
        "mistral/chat", "mistral/chat_stream", "mistral/fim", "mistral/agents", "mistral/embeddings",
        "cohere/chat_v2", "cohere/chat_v2_stream", "cohere/chat_v1", "cohere/chat_v1_stream",
        "groq/chat", "groq/chat_stream", "together/chat_stream", "together/completions",
        "fireworks/chat", "fireworks/chat_stream",
        "deepseek/chat", "deepseek/chat_stream_reasoner", "deepseek/fim", "deepseek/anthropic_messages",
        "xai/chat", "xai/responses_stream", "xai/messages", "perplexity/chat", "perplexity/chat_stream",
        "openrouter/chat", "openrouter/chat_stream", "huggingface/router_chat",
        "huggingface/router_provider_chat_stream", "huggingface/legacy_text_generation",
        "huggingface/legacy_text_generation_stream",
    }


# -- where calls are found --------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "path", "expected"), [
    # Bedrock: botocore writes `:` as %3A and an ARN's `/` as %2F; Anthropic's SDK keeps `:`.
    ("bedrock-runtime.eu-central-1.amazonaws.com",
     "/model/arn%3Aaws%3Abedrock%3Aeu-central-1%3A123456789012%3Ainference-profile%2F"
     "eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
     ("bedrock", "converse", "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/"
                             "eu.anthropic.claude-sonnet-4-5-20250929-v1:0")),
    ("bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke",
     ("bedrock", "invoke", "anthropic.claude-3-haiku-20240307-v1:0")),
    ("bedrock-mantle.us-east-2.api.aws", "/anthropic/v1/messages", ("bedrock", "messages", None)),
    ("bedrock-mantle.us-east-2.api.aws", "/openai/v1/responses", ("bedrock", "responses", None)),
    ("bedrock-mantle.us-east-2.api.aws", "/v1/chat/completions", ("bedrock", "chat.completions", None)),
    # Vertex: express mode has no project or location; a tuned model answers at its endpoint.
    ("aiplatform.googleapis.com", "/v1/publishers/google/models/gemini-2.5-flash-lite:streamGenerateContent",
     ("vertex", "streamGenerateContent", "gemini-2.5-flash-lite")),
    ("aiplatform.eu.rep.googleapis.com",
     "/v1beta1/projects/p/locations/eu/publishers/google/models/gemini-2.5-pro:generateContent",
     ("vertex", "generateContent", "gemini-2.5-pro")),
    ("us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/us-central1/endpoints/4417:generateContent",
     ("vertex", "generateContent", "4417")),
    ("api.mistral.ai", "/v1/fim/completions", ("mistral", "fim.completions", None)),
    ("api.cohere.ai", "/v2/chat", ("cohere", "chat", None)),
    ("api.groq.com", "/openai/v1/responses", ("groq", "responses", None)),
    ("api.together.ai", "/v1/embeddings", ("together", "embeddings", None)),
    ("api.fireworks.ai", "/inference/v1/completions", ("fireworks", "completions", None)),
    ("api.deepseek.com", "/chat/completions", ("deepseek", "chat.completions", None)),
    ("api.perplexity.ai", "/v1/responses", ("perplexity", "responses", None)),
    ("openrouter.ai", "/api/v1/responses", ("openrouter", "responses", None)),
    ("router.huggingface.co", "/fireworks-ai/inference/v1/chat/completions",
     ("huggingface", "chat.completions", None)),
    ("router.huggingface.co", "/hf-inference/models/Qwen/Qwen2.5-7B-Instruct",
     ("huggingface", "text-generation", "Qwen/Qwen2.5-7B-Instruct")),
    ("api.openai.com", "/v1/threads/thread_abc/runs/run_abc/submit_tool_outputs",
     ("openai", "assistants.runs", None)),
])
def test_provider_endpoints_are_found(host, path, expected):
    match = DEFAULT_CATALOG.lookup(host, 443, path)
    assert match is not None
    assert (match.provider, match.endpoint, match.path_model) == expected


@pytest.mark.parametrize(("host", "path"), [
    ("us-east5-aiplatform.googleapis.com",  # token counting is no call
     "/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"),
    ("bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.titan-embed-text-v2:0/invoke/extra"),
    ("bedrock.us-east-1.amazonaws.com", "/foundation-models"),  # the control plane is not decrypted
    ("api.openai.com", "/v1/threads/thread_abc/runs/run_abc"),  # polling a run would count it again
    ("api.openai.com", "/v1/threads/thread_abc/messages"),
])
def test_other_provider_requests_are_not_matched(host, path):
    assert DEFAULT_CATALOG.lookup(host, 443, path) is None


# -- Bedrock: the binary event stream ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["bedrock/invoke_stream", "bedrock/converse_stream"])
def test_bedrock_fixtures_decode_the_same_with_botocore(name):
    from botocore import eventstream  # locked: litellm depends on boto3

    body = load_fixture(name).response_body
    theirs = eventstream.EventStreamBuffer()
    theirs.add_data(body)
    ours = list(AWSEventStreamReader(MAX_FRAME_BYTES).feed(body))
    assert [(m.headers[":event-type"], m.payload.decode()) for m in theirs] == [(e.event, e.data) for e in ours]


def test_bedrock_message_failing_its_crc_leaves_the_call_partial_with_what_came_before():
    fixture = load_fixture("bedrock/invoke_stream")
    messages = messages_in(fixture.response_body)
    corrupt = bytearray(messages[2])
    corrupt[-10] ^= 0x01  # a payload byte: the message CRC no longer matches
    body = b"".join([*messages[:2], bytes(corrupt), *messages[3:]])
    reading = read_call(fixture, [body])
    assert reading.status == "partial"
    assert reading.error == (f"response: CorruptFrame: the event-stream message at byte "
                             f"{len(messages[0]) + len(messages[1])} fails its message CRC32")
    assert reading.usage == Usage(24 + 1800, 1, 1800, 0, None)  # message_start's counts
    assert reading.response_id == "msg_bdrk_01Xq7RtY4uV9wB2cN6mK3jHs"


def test_bedrock_prelude_failing_its_crc_is_reported_as_such():
    fixture = load_fixture("bedrock/converse_stream")
    body = bytearray(fixture.response_body)
    body[1] ^= 0x40  # the first message's total length
    reading = read_call(fixture, [bytes(body)])
    assert reading.status == "partial"  # the path names the model
    assert reading.error == "response: CorruptFrame: the event-stream message at byte 0 fails its prelude CRC32"
    assert reading.usage is None


def test_bedrock_body_cut_inside_a_message_is_partial():
    fixture = load_fixture("bedrock/converse_stream")
    last = messages_in(fixture.response_body)[-1]
    reading = read_call(fixture, [fixture.response_body[:-10]])
    assert reading.status == "partial"
    assert reading.error == (f"response: CorruptFrame: the body ends inside an event-stream message "
                             f"({len(last) - 10} bytes)")
    assert reading.completion_texts[-1] == "over 25 euros."


def test_bedrock_exception_in_the_stream_ends_the_call_with_aws_type():
    throttled = aws_event_message(
        {":exception-type": "throttlingException", ":content-type": "application/json",
         ":message-type": "exception"},
        b'{"message":"Too many tokens, please wait before trying again."}')
    body = (bedrock_event("messageStart", {"role": "assistant"})
            + bedrock_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Receipts"}})
            + throttled)
    reading = parse("bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-lite-v1:0/converse-stream",
                    {"messages": [{"role": "user", "content": [{"text": "Receipts?"}]}]}, body, EVENTSTREAM)
    assert reading.status == "partial"
    assert reading.error == "response: StreamException: throttlingException"  # AWS's type, not its text
    assert reading.completion_texts == ["Receipts"]


def test_aws_error_message_unknown_header_type_and_oversized_message():
    error = aws_event_message({":message-type": "error", ":error-code": "InternalFailure",
                               ":error-message": "We encountered an internal error."}, b"")
    with pytest.raises(StreamException, match="^InternalFailure: We encountered an internal error.$"):
        list(AWSEventStreamReader(1024).feed(error))
    unknown_type = aws_event_frame(b"\x02id\x0b" + bytes(16), b"{}")  # header types end at 9
    with pytest.raises(CorruptFrame, match="has a header of unknown type 11$"):
        list(AWSEventStreamReader(1024).feed(unknown_type))
    truncated = aws_event_frame(b"\x0b:event-type\x07\x00\x40chunk", b"{}")  # a 64-byte value of 5
    with pytest.raises(CorruptFrame, match="has truncated headers$"):
        list(AWSEventStreamReader(1024).feed(truncated))
    with pytest.raises(FrameTooLarge, match="^an event-stream message of 136 bytes exceeds 64 bytes$"):
        list(AWSEventStreamReader(64).feed(aws_event_message({":event-type": "chunk"}, b"x" * 100)))


def test_bedrock_stream_of_another_model_takes_the_invocation_metrics():
    def chunk(native: dict[str, Any]) -> bytes:
        return bedrock_event("chunk", {"bytes": base64.b64encode(json.dumps(native).encode()).decode()})

    body = (chunk({"generation": "A ledger", "prompt_token_count": 18, "generation_token_count": 2,
                   "stop_reason": None})
            + chunk({"generation": " lists accounts.", "prompt_token_count": None, "generation_token_count": 5,
                     "stop_reason": "stop", "amazon-bedrock-invocationMetrics": {
                         "inputTokenCount": 18, "outputTokenCount": 5, "invocationLatency": 402,
                         "firstByteLatency": 190}}))
    reading = parse("bedrock-runtime.us-west-2.amazonaws.com",
                    "/model/meta.llama3-1-8b-instruct-v1%3A0/invoke-with-response-stream",
                    {"prompt": "What is a ledger?", "max_gen_len": 64}, body, EVENTSTREAM)
    assert reading.status == "ok"
    assert reading.usage == Usage(18, 5, None, None, None)


def test_bedrock_cache_counts_come_from_the_headers_when_the_body_has_none():
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "Yes."}]}},
            "usage": {"inputTokens": 12, "outputTokens": 2, "totalTokens": 2062}}
    headers = {**JSON, "x-amzn-bedrock-input-token-count": "12", "x-amzn-bedrock-output-token-count": "2",
               "x-amzn-bedrock-cache-read-input-token-count": "2048",
               "x-amzn-bedrock-cache-write-input-token-count": "0"}
    reading = parse("bedrock-runtime.us-east-1.amazonaws.com", "/model/us.amazon.nova-pro-v1:0/invoke",
                    {"messages": [{"role": "user", "content": [{"text": "Is it cached?"}]}]},
                    json.dumps(body).encode(), headers)
    assert reading.usage == Usage(12 + 2048, 2, 2048, 0, None)


def test_bedrock_converse_cache_writes_count_as_prompt():
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "Noted."}]}},
            "usage": {"inputTokens": 5, "outputTokens": 3, "totalTokens": 1032, "cacheReadInputTokens": 0,
                      "cacheWriteInputTokens": 1024}}
    reading = parse("bedrock-runtime.us-east-1.amazonaws.com",
                    "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse",
                    {"messages": []}, json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(5 + 1024, 3, 0, 1024, None)


# -- OpenAI-compatible providers' own usage fields --------------------------------------------------

def test_deepseek_cache_hits_are_the_cached_tokens():
    assert read_call(load_fixture("deepseek/chat")).usage == Usage(76, 19, 64, None, None)
    # Newer answers also give prompt_tokens_details.cached_tokens, which is read first.
    body = {"id": "d1", "model": "deepseek-chat", "choices": [],
            "usage": {"prompt_tokens": 300, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 256},
                      "prompt_cache_hit_tokens": 256, "prompt_cache_miss_tokens": 44}}
    reading = parse("api.deepseek.com", "/chat/completions", {"model": "deepseek-chat"},
                    json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(300, 10, 256, None, None)
    # Without prompt_tokens, hits and misses add up to it.
    body["usage"] = {"completion_tokens": 10, "prompt_cache_hit_tokens": 256, "prompt_cache_miss_tokens": 44}
    reading = parse("api.deepseek.com", "/chat/completions", {"model": "deepseek-chat"},
                    json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(300, 10, 256, None, None)


def test_groq_usage_comes_from_x_groq_or_from_include_usage():
    chunk = {"id": "chatcmpl-g", "object": "chat.completion.chunk", "model": "openai/gpt-oss-20b"}
    request = {"model": "openai/gpt-oss-20b", "stream": True, "stream_options": {"include_usage": True}}
    body = sse(chunk | {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
                        "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 70, "completion_tokens": 2}}},
               chunk | {"choices": [], "usage": {"prompt_tokens": 70, "completion_tokens": 2}})
    reading = parse("api.groq.com", "/openai/v1/chat/completions", request, body, SSE)
    assert reading.usage == Usage(70, 2, None, None, None)
    no_usage = sse(chunk | {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
                            "x_groq": {"id": "req_2"}})
    assert parse("api.groq.com", "/openai/v1/chat/completions", request, no_usage, SSE).usage is None


def test_xai_reasoning_is_folded_only_when_the_total_leaves_it_out():
    assert read_call(load_fixture("xai/chat")).usage == Usage(32, 357, 0, None, 316, audio_prompt_tokens=0,
                                                                audio_completion_tokens=0)
    body = {"id": "x2", "model": "grok-4.20-0309-reasoning", "choices": [],
            "usage": {"prompt_tokens": 32, "completion_tokens": 357, "total_tokens": 389,
                      "completion_tokens_details": {"reasoning_tokens": 316}}}
    reading = parse("api.x.ai", "/v1/chat/completions", {"model": "grok-4.20-0309-reasoning"},
                    json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(32, 357, None, None, 316)


def test_perplexity_stream_ends_with_or_without_done():
    fixture = load_fixture("perplexity/chat_stream")
    with_done = read_call(fixture, [fixture.response_body + b"data: [DONE]\n\n"])
    assert reading_view(with_done) == reading_view(read_call(fixture)) == fixture.expected_reading


def test_mistral_stream_without_usage_is_left_for_estimates():
    chunk = {"id": "m1", "object": "chat.completion.chunk", "model": "mistral-small-latest"}
    body = sse(chunk | {"choices": [{"index": 0, "delta": {"content": "VAT."}, "finish_reason": "stop"}]})
    reading = parse("api.mistral.ai", "/v1/chat/completions", {"model": "mistral-small-latest", "stream": True},
                    body, SSE)
    assert reading.status == "ok"
    assert reading.usage is None
    assert reading.completion_texts == ["VAT."]


# -- costs the providers report ----------------------------------------------------------------------

def recorded(name: str):
    fixture = load_fixture(name)
    match = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path)
    assert match is not None
    return recording.build_event(match, read_call(fixture), status_code=fixture.status, host=fixture.host,
                                 path=fixture.path)


def test_openrouter_reported_cost_is_kept_beside_ours():
    event = recorded("openrouter/chat")
    assert event.provider_cost_usd == 0.000513
    # LiteLLM's current map dropped its OpenRouter prices; the last listed one prices it as OpenRouter billed it.
    assert event.cost_usd == pytest.approx(0.000513, rel=1e-9)
    assert event.cost_note == RETIRED_NOTE
    stream = recorded("openrouter/chat_stream")  # openai/gpt-4o-mini: 13 * 1.5e-7 + 8 * 6e-7
    assert stream.provider_cost_usd == 0.00000675
    assert stream.cost_usd == pytest.approx(0.00000675, rel=1e-12)


def test_perplexity_and_xai_report_their_costs():
    assert recorded("perplexity/chat").provider_cost_usd == 0.006468  # search fee included
    assert recorded("perplexity/chat_stream").provider_cost_usd == 0.008518
    chat = recorded("xai/chat")  # 9,325,000 ticks of 1e-10 USD; ours: 32 * 1.25e-6 + 357 * 2.5e-6
    assert chat.provider_cost_usd == pytest.approx(0.0009325, rel=1e-12)
    assert chat.cost_usd == pytest.approx(0.0009325, rel=1e-12)
    assert recorded("xai/responses_stream").provider_cost_usd == pytest.approx(0.0003654, rel=1e-12)


def test_a_negative_or_odd_reported_cost_is_ignored():
    for cost in (-0.01, "0.01", True, float("inf")):
        body = {"id": "gen-1", "model": "openai/gpt-4o-mini", "choices": [],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost": cost}}
        reading = parse("openrouter.ai", "/api/v1/chat/completions", {"model": "openai/gpt-4o-mini"},
                        json.dumps(body).encode(), JSON)
        assert reading.reported_cost_usd is None
        assert reading.usage == Usage(1, 1, None, None, None)


# LiteLLM's price map has no entry for these models (nor any Hugging Face prices).
UNPRICED = {
    "huggingface/router_chat": "no price for model meta-llama/Llama-3.1-8B-Instruct",
    "huggingface/router_provider_chat_stream": "no price for model meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "huggingface/legacy_text_generation": "no price for model mistralai/Mistral-7B-Instruct-v0.3",
    "huggingface/legacy_text_generation_stream": "no price for model HuggingFaceH4/zephyr-7b-beta",
    "openai/assistants_thread_run": "no usage: nothing to count",  # a queued run has no usage yet
}


# LiteLLM's current price map dropped its OpenRouter prices: these take the last listed ones.
RETIRED = {"openrouter/chat", "openrouter/chat_stream"}
RETIRED_NOTE = ("retired model: last listed price (litellm 1.105.0, 2026-10-11); "
                "LiteLLM's current price map no longer has it")


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_model_has_a_price(name):
    event = recorded(name)
    if name in UNPRICED:
        assert (event.cost_usd, event.cost_note) == (None, UNPRICED[name])
    else:
        assert event.cost_usd is not None and event.cost_usd > 0, event.cost_note
        assert event.cost_note == (RETIRED_NOTE if name in RETIRED else None)


# -- Cohere ---------------------------------------------------------------------------------------------

def test_cohere_v1_stream_reads_the_same_as_ndjson():
    fixture = load_fixture("cohere/chat_v1_stream")
    ndjson = read_call(fixture, response_headers={"content-type": "application/x-ndjson"})
    assert reading_view(ndjson) == fixture.expected_reading
    assert ndjson.usage == Usage(6, 16, None, None, None)


def test_cohere_v2_stream_sent_as_json_lines_reads_the_same():
    fixture = load_fixture("cohere/chat_v2_stream")
    lines = b"".join(line[len(b"data: "):] + b"\n" for line in fixture.response_body.splitlines()
                     if line.startswith(b"data: "))
    reading = read_call(fixture, [lines], response_headers={"content-type": "application/x-ndjson"})
    assert reading_view(reading) == fixture.expected_reading


def test_cohere_tokens_count_only_where_no_billed_unit_is_given():
    body = {"id": "c1", "message": {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]},
            "usage": {"billed_units": {"output_tokens": 2}, "tokens": {"input_tokens": 480, "output_tokens": 3}}}
    reading = parse("api.cohere.com", "/v2/chat", {"model": "command-a-03-2025", "messages": []},
                    json.dumps(body).encode(), JSON)
    assert reading.usage == Usage(480, 2, None, None, None)


def test_cohere_v2_tool_plan_and_tool_call_arguments_are_output():
    events = [{"type": "message-start", "id": "c2", "delta": {"message": {"role": "assistant"}}},
              {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "Look up the invoice."}}},
              {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                  "id": "lookup_1", "type": "function", "function": {"name": "lookup", "arguments": ""}}}}},
              {"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {
                  "function": {"arguments": '{"invoice": "INV-7"}'}}}}},
              {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL",
                                                "usage": {"billed_units": {"input_tokens": 30, "output_tokens": 21}}}}]
    reading = parse("api.cohere.com", "/v2/chat", {"model": "command-a-03-2025", "stream": True, "messages": []},
                    sse(*events, done=False), SSE)
    assert reading.completion_texts == ["Look up the invoice.", '{"invoice": "INV-7"}']
    assert (reading.status, reading.usage) == ("ok", Usage(30, 21, None, None, None))


# -- Hugging Face and Assistants ------------------------------------------------------------------------

def test_text_generation_without_full_text_keeps_the_answer_whole():
    request = {"inputs": "Define EBIT.", "parameters": {"return_full_text": False, "details": True}}
    body = [{"generated_text": "Define EBIT. Earnings before interest and taxes.",
             "details": {"finish_reason": "eos_token", "generated_tokens": 11, "seed": None}}]
    reading = parse("api-inference.huggingface.co", "/models/gpt2", request, json.dumps(body).encode(), JSON)
    assert reading.completion_texts == ["Define EBIT. Earnings before interest and taxes."]
    assert reading.usage == Usage(None, 11, None, None, None)


def test_assistants_stream_error_leaves_the_run_partial():
    fixture = load_fixture("openai/assistants_run_stream")
    cut = fixture.response_body.split(b"event: thread.run.step.completed")[0]
    error = b'event: error\ndata: {"code":"server_error","message":"Sorry, something went wrong."}\n\n'
    reading = read_call(fixture, [cut + error + b"event: done\ndata: [DONE]\n\n"])
    assert reading.status == "partial"
    assert reading.error == "stream: ValueError"
    assert reading.usage is None
    assert reading.model == "gpt-4o-mini"
