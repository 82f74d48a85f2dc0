"""AI web apps: what their recorded calls read, the tokens estimated from that text and
the API-equivalent cost, exactly; and the stream shapes the fixtures alone do not show
(ChatGPT's delta ops and cut-off streams, DeepSeek's conversation count, URLs shared
with other traffic)."""

from __future__ import annotations

import json
import os

import pytest
import tiktoken

from offgate import tokens
from offgate.catalog import DEFAULT_CATALOG, patches
from offgate.catalog.app_models import api_model
from offgate.recording import build_event
from tests.fixtures import chunked, fixture_names, load_fixture, read_call
from tests.litellm_reference import litellm_cost

WEB_APPS = ["chatgpt/conversation_delta", "chatgpt/conversation_snapshots", "claude-web/completion",
            "gemini-web/stream_generate", "perplexity-web/ask", "le-chat/chat_patches", "le-chat/chat_data_stream",
            "grok-web/new_conversation", "meta-ai/send_message", "huggingchat/conversation"]


def direct_count(encoding: str, texts: list[str]) -> int:
    """tiktoken's own count of each text, with the encoding files LiteLLM bundles."""
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tokens._cache_dir())  # offline, as offgate.tokens reads them
    codec = tiktoken.get_encoding(encoding)
    return sum(len(codec.encode_ordinary(text)) for text in texts)


def event_of(name: str, reading=None):
    fixture = load_fixture(name)
    match = DEFAULT_CATALOG.lookup(fixture.host, fixture.port, fixture.path)
    return build_event(match, reading or read_call(fixture), status_code=fixture.status,
                       host=fixture.host, path=fixture.path)


def test_each_web_app_endpoint_and_stream_format_has_a_fixture():
    assert set(fixture_names()) >= {*WEB_APPS, "chatgpt/codex_responses", "deepseek-web/completion",
                                    "poe/send_message"}


# (fixture, API model priced, its encoding, prompt tokens, completion tokens): the counts
# are tiktoken's, checked again below against tiktoken itself.
ESTIMATES = [
    ("chatgpt/conversation_delta", "openai/gpt-5-chat-latest", "o200k_base", 17, 26),
    ("chatgpt/conversation_snapshots", "openai/gpt-4o", "o200k_base", 17, 17),
    ("claude-web/completion", "anthropic/claude-sonnet-4-5-20250929", "cl100k_base", 24, 14),
    ("gemini-web/stream_generate", "gemini/gemini-2.5-flash", "cl100k_base", 13, 19),
    ("perplexity-web/ask", "perplexity/sonar-pro", "cl100k_base", 17, 15),
    ("le-chat/chat_patches", "mistral/mistral-medium-latest", "cl100k_base", 12, 12),
    ("le-chat/chat_data_stream", "mistral/mistral-large-latest", "cl100k_base", 12, 10),
    ("grok-web/new_conversation", "xai/grok-4.3", "cl100k_base", 13, 10),
    ("meta-ai/send_message", "azure_ai/Llama-4-Maverick-17B-128E-Instruct-FP8", "cl100k_base", 14, 13),
]


@pytest.mark.parametrize(("name", "priced_as", "encoding", "prompt", "completion"), ESTIMATES,
                         ids=[row[0] for row in ESTIMATES])
def test_web_app_tokens_are_estimated_exactly_and_priced_as_the_api(name, priced_as, encoding, prompt, completion):
    reading = read_call(load_fixture(name))
    assert reading.usage is None  # no web app reports tokens
    event = event_of(name, reading)
    assert tokens.encoding_name_for(priced_as.split("/", 1)[1]) == encoding
    overhead = 4 * reading.prompt_messages + 3
    assert (event.prompt_tokens, event.completion_tokens) == (prompt, completion)
    assert prompt == direct_count(encoding, reading.prompt_texts) + overhead
    assert completion == direct_count(encoding, ["".join(reading.completion_texts)])  # the reply, as one text
    assert event.tokens_estimated is True
    assert event.cost_usd == pytest.approx(litellm_cost(_price_key(priced_as), prompt, completion), rel=1e-9)
    assert event.cost_note == f"API-equivalent estimate, priced as {priced_as}"


def _price_key(priced_as: str) -> str:
    """The price-map key LiteLLM files a provider/model under (OpenAI and Anthropic unprefixed)."""
    provider, model = priced_as.split("/", 1)
    return model if provider in ("openai", "anthropic") else priced_as


def test_web_app_slugs_map_to_api_models():
    assert api_model("chatgpt", "auto").model == "gpt-5"
    assert api_model("chatgpt", "GPT-4o").model == "gpt-4o"
    assert api_model("chatgpt", None).model == "gpt-5"
    assert api_model("chatgpt", "gpt-9-preview") == api_model("chatgpt", "gpt-9-preview")  # tried by its own name
    assert api_model("chatgpt", "gpt-9-preview").provider == "openai"
    assert api_model("deepseek-web", "deepthink").model == "deepseek-reasoner"
    assert api_model("poe", None) is None  # too many bots to guess
    assert api_model("openai", "gpt-4o") is None  # an API is priced as it is


def test_an_unknown_slug_has_no_price_and_says_so():
    fixture = load_fixture("chatgpt/conversation_snapshots")
    reading = read_call(fixture)
    reading.model = "gpt-9-preview"
    event = event_of("chatgpt/conversation_snapshots", reading)
    assert event.tokens_estimated is True and event.completion_tokens == 17
    assert (event.cost_usd, event.cost_note) == (None, "no price for model gpt-9-preview")


# -- ChatGPT's delta encoding ---------------------------------------------------------------

def test_patch_ops():
    document = {"message": {"content": {"parts": ["Hel"]}, "status": "in_progress", "metadata": {"a": 1}}}
    path = patches.split_path
    document = patches.apply(document, path("/message/content/parts/0"), "append", "lo")
    document = patches.apply(document, path("/message/status"), "replace", "finished_successfully")
    document = patches.apply(document, path("/message/metadata"), "append", {"b": 2})
    document = patches.apply(document, path("/message/content/parts/-"), "add", "second")
    document = patches.apply(document, path("message/content/parts/-1"), "append", "!")  # DeepSeek's style
    document = patches.apply(document, path("/message/status"), "remove", None)
    assert document == {"message": {"content": {"parts": ["Hello", "second!"]}, "metadata": {"a": 1, "b": 2}}}
    assert patches.apply(document, [], "add", {"new": True}) == {"new": True}
    assert path("/a~1b/c~0d") == ["a/b", "c~d"]
    with pytest.raises(ValueError, match="unknown patch op 'move'"):
        patches.apply(document, path("/message"), "move", None)
    with pytest.raises(ValueError, match="cannot append a int to a str"):
        patches.apply(document, path("/message/content/parts/0"), "append", 5)


def sse(*events: dict) -> bytes:
    return "".join(f"event: delta\ndata: {json.dumps(event)}\n\n" for event in events).encode()


def chatgpt_reading(body: bytes, complete: bool = True):
    fixture = load_fixture("chatgpt/conversation_delta")
    return read_call(fixture, chunked(body, 5), complete=complete)


START = {"p": "", "o": "add", "c": 0, "v": {"conversation_id": "c1", "message": {
    "id": "m1", "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": [""]},
    "metadata": {"model_slug": "gpt-4o"}}}}


def test_chatgpt_replace_and_patch_ops_rewrite_the_text():
    reading = chatgpt_reading(sse(
        START,
        {"p": "/message/content/parts/0", "o": "append", "v": "Draft"},
        {"v": " text"},
        {"p": "/message/content/parts/0", "o": "replace", "v": "Final"},  # rewritten, not added to
        {"p": "", "o": "patch", "v": [{"p": "/message/content/parts/0", "o": "append", "v": " answer."},
                                      {"p": "/message/metadata/model_slug", "o": "replace", "v": "o3"}]},
    ) + b"data: [DONE]\n\n")
    assert (reading.status, reading.error) == ("ok", None)
    assert reading.completion_texts == ["Final answer."]
    assert reading.model == "o3"


def test_chatgpt_thoughts_and_code_are_written_text_tool_output_is_not():
    thoughts = {"p": "", "o": "add", "c": 1, "v": {"message": {
        "id": "m0", "author": {"role": "assistant"}, "metadata": {"model_slug": "o3"},
        "content": {"content_type": "thoughts", "thoughts": [{"summary": "Plan", "content": "Check the rate."}]}}}}
    code = {"p": "", "o": "add", "c": 2, "v": {"message": {
        "id": "m2", "author": {"role": "assistant"}, "recipient": "python",
        "content": {"content_type": "code", "text": "print(19 * 0.2)"}}}}
    tool = {"p": "", "o": "add", "c": 3, "v": {"message": {
        "id": "m3", "author": {"role": "tool"}, "content": {"content_type": "execution_output", "text": "3.8"}}}}
    reading = chatgpt_reading(sse(thoughts, code, tool, START) + b"data: [DONE]\n\n")
    assert reading.completion_texts == ["Check the rate.", "print(19 * 0.2)", ""]
    assert reading.response_id == "m1"


def test_chatgpt_stream_cut_off_keeps_the_text_so_far():
    body = load_fixture("chatgpt/conversation_delta").response_body
    head = body[:body.index(b"\\n2. Write")]
    head = head[:head.rindex(b"event: delta")] + b"event: del"  # cut inside the next event
    reading = chatgpt_reading(head, complete=False)
    assert (reading.status, reading.error) == ("partial", "response was cut off")
    assert reading.completion_texts == ["1. Attach every receipt and name the project."]
    assert reading.model == "gpt-5-instant"
    event = event_of("chatgpt/conversation_delta", reading)
    assert event.parse_status == "partial" and event.completion_tokens == direct_count(
        "o200k_base", ["1. Attach every receipt and name the project."])


def test_chatgpt_stream_that_stops_before_done_is_partial():
    body = load_fixture("chatgpt/conversation_delta").response_body
    reading = chatgpt_reading(body[:body.index(b"data: [DONE]")])
    assert (reading.status, reading.error) == ("partial", "stream ended before its final event")
    assert "Keep it short." in reading.completion_texts[0]


def test_chatgpt_patch_into_an_unknown_channel_spoils_only_that_event():
    reading = chatgpt_reading(sse(START, {"p": "/message/content/parts/0", "o": "append", "v": "Kept", "c": 7},
                                  {"p": "/message/content/parts/0", "o": "append", "v": " text", "c": 0})
                              + b"data: [DONE]\n\n")
    assert reading.status == "partial" and reading.error.startswith("stream: KeyError")
    assert reading.completion_texts == [" text"]


# -- DeepSeek: the conversation's own count ----------------------------------------------------

def test_deepseek_counts_the_conversation_and_the_prompt_is_the_rest():
    reading = read_call(load_fixture("deepseek-web/completion"))
    assert reading.context_tokens == 187
    assert reading.model == "deepthink"
    event = event_of("deepseek-web/completion", reading)
    completion = direct_count("cl100k_base", ["".join(reading.completion_texts)])
    assert (event.prompt_tokens, event.completion_tokens) == (187 - completion, completion) == (168, 19)
    assert event.tokens_estimated is True
    assert event.cost_usd == pytest.approx(litellm_cost("deepseek/deepseek-reasoner", 168, 19), rel=1e-9)
    assert event.cost_note == "API-equivalent estimate, priced as deepseek/deepseek-reasoner"


def test_deepseek_stream_cut_before_finished_is_partial():
    fixture = load_fixture("deepseek-web/completion")
    head = fixture.response_body[:fixture.response_body.index(b'data: {"p": "response", "o": "BATCH"')]
    reading = read_call(fixture, chunked(head, 3))
    assert (reading.status, reading.error) == ("partial", "stream ended before its final event")
    assert reading.context_tokens is None  # not yet counted: the prompt is estimated
    assert event_of("deepseek-web/completion", reading).prompt_tokens == direct_count(
        "cl100k_base", reading.prompt_texts) + 7


# -- URLs shared with other traffic ---------------------------------------------------------------

def test_another_graphql_operation_on_meta_ai_is_no_call():
    fixture = load_fixture("meta-ai/send_message")
    form = b"fb_api_req_friendly_name=AbraSearchPluginDialogQuery&variables=%7B%7D&doc_id=6946734308765963"
    reading = read_call(fixture, [b'{"data": {"message": null}}\n'], request_body=form)
    assert reading.is_llm_call is False
    assert read_call(fixture).is_llm_call is True


def test_a_huggingchat_page_load_is_no_call():
    fixture = load_fixture("huggingchat/conversation")
    reading = read_call(fixture, [b"<!doctype html><html></html>\n"], request_body=b"",
                        response_headers={"content-type": "text/html"})
    assert reading.is_llm_call is False


def test_poe_reads_the_prompt_and_says_the_reply_is_elsewhere():
    fixture = load_fixture("poe/send_message")
    event = event_of("poe/send_message")
    assert (event.model, event.parse_status) == ("GPT-4o", "partial")
    assert event.prompt_tokens == direct_count("o200k_base", ["Summarise our travel policy in one line."]) + 7
    assert event.completion_tokens == 0
    listing = json.dumps({"queryName": "ChatListPaginationQuery", "variables": {}}).encode()
    other = read_call(fixture, request_body=listing)
    assert other.is_llm_call is False


def test_le_chat_first_message_has_no_prompt_here():
    fixture = load_fixture("le-chat/chat_patches")
    request = json.loads(fixture.request_body)
    del request["messageInput"]
    request["mode"] = "start"
    reading = read_call(fixture, request_body=json.dumps(request).encode())
    assert (reading.prompt_texts, reading.prompt_messages) == ([], 0)
    assert "".join(reading.completion_texts) == "Accrued revenue is earned but not yet invoiced."


def test_gemini_web_frames_whose_shape_moved_are_skipped_not_failed():
    fixture = load_fixture("gemini-web/stream_generate")
    body = b")]}'\n\n30\n[[\"wrb.fr\",null,\"[null,null,[]]\"]]\n"
    reading = read_call(fixture, [body])
    assert (reading.status, reading.completion_texts) == ("ok", [])
