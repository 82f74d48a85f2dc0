"""AI web apps: what their recorded calls read, the tokens estimated from that text and
the API-equivalent cost, exactly; and the stream shapes the fixtures alone do not show
(ChatGPT's delta ops and cut-off streams, DeepSeek's conversation count, URLs shared
with other traffic)."""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qs, urlencode

import pytest
import tiktoken

from offgate import tokens
from offgate.catalog import DEFAULT_CATALOG, patches
from offgate.catalog.app_models import api_model
from offgate.catalog.export import content_script_matches, web_app_targets
from offgate.recording import build_event
from tests.support.fixture_files import (
    chunked,
    fixture_names,
    load_fixture,
    read_call,
    read_session,
    session_fixture_names,
)
from tests.support.litellm_reference import litellm_cost
from tests.support.upstream import WebSocketMessage

WEB_APPS = ["chatgpt/conversation_delta", "chatgpt/conversation_snapshots", "claude-web/completion",
            "gemini-web/stream_generate", "gemini-web/stream_generate_pro", "gemini-web/stream_generate_lite",
            "gemini-web/stream_generate_thinking",
            "perplexity-web/ask", "le-chat/chat_patches", "le-chat/chat_data_stream", "le-chat/new_chat",
            "le-chat/chat_start", "grok-web/new_conversation", "meta-ai/send_message", "huggingchat/conversation"]


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
    assert "poe/updates" in session_fixture_names()


# (fixture, API model priced, its encoding, prompt tokens, completion tokens): the counts
# are tiktoken's, checked again below against tiktoken itself.
ESTIMATES = [
    ("chatgpt/conversation_delta", "openai/gpt-5-chat-latest", "o200k_base", 17, 26),
    ("chatgpt/conversation_snapshots", "openai/gpt-4o", "o200k_base", 17, 17),
    ("claude-web/completion", "anthropic/claude-sonnet-4-5-20250929", "cl100k_base", 24, 14),
    ("gemini-web/stream_generate", "gemini/gemini-2.5-flash", "cl100k_base", 13, 19),
    ("gemini-web/stream_generate_pro", "gemini/gemini-2.5-pro", "cl100k_base", 16, 18),
    ("gemini-web/stream_generate_lite", "gemini/gemini-2.5-flash-lite", "cl100k_base", 14, 14),
    ("gemini-web/stream_generate_thinking", "gemini/gemini-2.5-flash", "cl100k_base", 13, 17),
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


# -- Poe: the prompt over GraphQL, the reply over the update channel -----------------------------

def session_events(name: str, messages=None, complete: bool = True):
    fixture = load_fixture(name)
    match = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path, websocket=True)
    return [build_event(match, reading, status_code=fixture.status, host=fixture.host, path=fixture.path)
            for reading in read_session(fixture, messages, complete=complete)]


def poe_update(message_id: int, author: str, text: str, state: str) -> WebSocketMessage:
    added = {"id": f"Message:{message_id}", "messageId": message_id, "author": author, "text": text, "state": state}
    update = {"message_type": "subscriptionUpdate",
              "payload": {"subscription_name": "messageAdded", "data": {"messageAdded": added}}}
    return WebSocketMessage(False, False, json.dumps({"messages": [json.dumps(update)]}).encode())


def test_poe_prompt_is_the_mutations_record():
    fixture = load_fixture("poe/send_message")
    event = event_of("poe/send_message")
    assert (event.model, event.endpoint, event.parse_status) == ("GPT-4o", "SendMessageMutation", "ok")
    prompt = direct_count("o200k_base", ["Summarise our travel policy in one line."]) + 7
    assert (event.prompt_tokens, event.completion_tokens) == (prompt, 0) == (17, 0)
    assert event.cost_usd == pytest.approx(litellm_cost("gpt-4o", 17, 0), rel=1e-9)
    assert event.cost_note == "API-equivalent estimate, priced as openai/gpt-4o"
    listing = json.dumps({"queryName": "ChatListPaginationQuery", "variables": {}}).encode()
    other = read_call(fixture, request_body=listing)
    assert other.is_llm_call is False


def test_poe_replies_are_the_channels_records_one_per_bot_message():
    first, second = session_events("poe/updates")
    replies = [r["completion_text"] for r in load_fixture("poe/updates").expected["readings"]]
    # The bot's codename prices the reply as the API model behind it, with its tokenizer.
    assert (first.model, first.response_id, first.endpoint) == ("gpt4_o", "53", "messageAdded")
    assert (first.prompt_tokens, first.completion_tokens) == (0, direct_count("o200k_base", replies[:1])) == (0, 23)
    assert first.cost_usd == pytest.approx(litellm_cost("gpt-4o", 0, 23), rel=1e-9)
    assert first.cost_note == "API-equivalent estimate, priced as openai/gpt-4o"
    assert (second.model, second.response_id) == ("claude-sonnet-4.5", "55")
    assert second.completion_tokens == direct_count("cl100k_base", replies[1:]) == 18
    assert second.cost_usd == pytest.approx(litellm_cost("claude-sonnet-4-5", 0, 18), rel=1e-9)
    assert all(e.tokens_estimated and e.parse_status == "ok" for e in (first, second))


def test_poe_replies_in_two_chats_at_once_are_told_apart_by_message_id():
    fixture = load_fixture("poe/updates")
    messages = [poe_update(61, "gpt4_o", "One", "incomplete"), poe_update(62, "beaver", "Deux", "incomplete"),
                poe_update(61, "gpt4_o", "One two", "incomplete"), poe_update(62, "beaver", "Deux trois", "complete"),
                poe_update(61, "gpt4_o", "One two three.", "complete")]
    readings = read_session(fixture, messages)
    assert [(r.model, r.response_id, r.completion_texts, r.status) for r in readings] == [
        ("beaver", "62", ["Deux trois"], "ok"), ("gpt4_o", "61", ["One two three."], "ok")]
    assert api_model("poe", "beaver").model == "gpt-4-turbo"


def test_poe_reply_cut_off_or_refused_says_so():
    fixture = load_fixture("poe/updates")
    cut = [poe_update(71, "gpt4_o", "Half an ans", "incomplete")]
    (reading,) = read_session(fixture, cut, complete=False)
    assert (reading.status, reading.error) == ("partial", "session ended before the reply completed")
    assert (reading.model, reading.response_id, reading.completion_texts) == ("gpt4_o", "71", ["Half an ans"])
    refused = [poe_update(72, "gpt4_o", "", "error_user_message_too_long")]
    (reading,) = read_session(fixture, refused)
    assert (reading.status, reading.error) == ("partial", "Poe answered with error_user_message_too_long")
    assert reading.completion_texts == []  # nothing generated, nothing estimated


def test_poe_channel_without_a_reply_and_a_broken_frame():
    fixture = load_fixture("poe/updates")
    # Only the person's own message and another subscription: no reply, but the session is recorded.
    other = {"message_type": "subscriptionUpdate", "payload": {"subscription_name": "viewerStateUpdated",
                                                                 "data": {"viewerStateUpdated": {"id": "V"}}}}
    quiet = [poe_update(80, "human", "Hello", "complete"),
             WebSocketMessage(False, False, json.dumps({"messages": [json.dumps(other)]}).encode())]
    (reading,) = read_session(fixture, quiet)
    assert (reading.status, reading.completion_texts, reading.response_id) == ("ok", [], None)
    broken = [WebSocketMessage(False, False, b'{"messages": ["{not json"]}'), *fixture.messages]
    first, second = read_session(fixture, broken)
    assert first.status == "partial" and first.error.startswith("message: invalid JSON")
    assert "".join(first.completion_texts) == fixture.expected["readings"][0]["completion_text"]
    assert second.status == "ok"


def test_poe_channel_hosts_are_decrypted_and_tapped():
    assert DEFAULT_CATALOG.lookup("tch117.tch.poe.com", 443, "/up/chan51-8888/updates", websocket=True).endpoint == (
        "messageAdded")
    assert DEFAULT_CATALOG.lookup("tch117.tch.poe.com", 443, "/up/chan51-8888/updates") is None
    (pattern,) = DEFAULT_CATALOG.decrypt_patterns()
    assert re.match(pattern, "tch482913.tch.poe.com:443") and not re.match(pattern, "tch.poe.com.evil.example:443")
    poe = [t for t in web_app_targets() if t.app == "poe"]
    channel = next(t for t in poe if t.host == "*.tch.poe.com")
    assert channel.websocket_paths == ("^(?:/up/[^/]+/updates)$",)
    # The channel's host serves no pages: the extension's page scripts run on poe.com only.
    assert "https://*.tch.poe.com/*" not in content_script_matches(poe)


# -- Le Chat: a new chat's first turn is two calls ------------------------------------------------

def test_le_chat_first_turn_is_the_new_chat_prompt_and_the_start_reply():
    new_chat, start = event_of("le-chat/new_chat"), event_of("le-chat/chat_start")
    assert (new_chat.endpoint, start.endpoint) == ("message.newChat", "chat")
    prompt = direct_count("cl100k_base", ["What is deferred revenue?"]) + 7
    reply = direct_count("cl100k_base", [load_fixture("le-chat/chat_start").expected["completion_text"]])
    assert (new_chat.prompt_tokens, new_chat.completion_tokens) == (prompt, 0) == (12, 0)
    assert (start.prompt_tokens, start.completion_tokens) == (0, reply) == (0, 13)
    for event, (p, c) in ((new_chat, (12, 0)), (start, (0, 13))):
        assert event.tokens_estimated and event.parse_status == "ok"
        assert event.cost_usd == pytest.approx(litellm_cost("mistral/mistral-medium-latest", p, c), rel=1e-9)
        assert event.cost_note == "API-equivalent estimate, priced as mistral/mistral-medium-latest"


def test_le_chat_new_chat_names_a_model_and_reads_a_streamed_answer():
    fixture = load_fixture("le-chat/new_chat")
    request = json.loads(fixture.request_body)
    request["0"]["json"]["model"] = "mistral-large"
    request["0"]["json"]["content"] = "What is deferred revenue?"  # 2024 builds sent a string
    streamed = (b'{"json":{"0":[[0],[null,0,0]]}}\n'
                b'{"json":[0,0,[[{"chatId":"3b9c4d1e-2f6a-4c8b-9d7e-5a1f0e2c4b6d"}]]]}\n')
    reading = read_call(fixture, [streamed], request_body=json.dumps(request).encode())
    assert (reading.status, reading.model) == ("ok", "mistral-large")
    assert reading.prompt_texts == ["What is deferred revenue?"]
    assert api_model("le-chat", reading.model).model == "mistral-large-latest"


def test_le_chat_refused_new_chat_is_recorded_without_an_estimate():
    fixture = load_fixture("le-chat/new_chat")
    refused = b'[{"error":{"json":{"message":"Rate limit exceeded","code":-32029,"data":{"httpStatus":429}}}}]'
    reading = read_call(fixture, [refused])
    assert (reading.status, reading.error) == ("partial", "Le Chat refused the new chat")
    event = event_of("le-chat/new_chat", reading)
    assert (event.prompt_tokens, event.completion_tokens, event.cost_usd) == (None, None, None)


@pytest.mark.parametrize(("line", "error"), [
    (b'6:{"message": "Model overloaded"}\n', "Le Chat streamed an error"),
    (b'3:"An error occurred."\n', "Le Chat streamed an error"),
    (b'3:"overloaded"\n', "Le Chat streamed an error: overloaded"),  # a code-like word stays
])
def test_le_chat_error_lines_make_the_reply_partial(line, error):
    fixture = load_fixture("le-chat/chat_start")
    reading = read_call(fixture, [fixture.response_body.split(b"16:")[0], line])
    assert (reading.status, reading.error) == ("partial", error)
    assert "".join(reading.completion_texts) == fixture.expected["completion_text"]  # what came before counts


# -- Gemini: the mode, from the model header or the request array's field 79 --------------------

def gemini_mode(header: str | None, field_79: object) -> str | None:
    fixture = load_fixture("gemini-web/stream_generate_pro")
    form = parse_qs(fixture.request_body.decode())
    inner = json.loads(json.loads(form["f.req"][0])[1])
    inner[79] = field_79
    body = urlencode({"f.req": json.dumps([None, json.dumps(inner)]), "at": form["at"][0]}).encode()
    headers = {} if header is None else {"x-goog-ext-525001261-jspb": header}
    match = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path)
    parser = match.new_parser(headers=headers)
    parser.read_request(body)
    parser.start_response(200, fixture.response_headers)
    parser.feed(fixture.response_body)
    reading = parser.finish()
    assert reading.status == "ok"
    return reading.model


def header(model_id: str) -> str:
    return f'[1,null,null,null,"{model_id}",null,null,0,[4],null,null,1]'


def test_gemini_web_mode_the_header_tells_apart_wins():
    assert gemini_mode(header("5bf011840784117a"), 1) == "flash-thinking"  # field 79 says only "flash"
    assert gemini_mode(header("9d8ca3786ebdfbea"), None) == "pro"  # a build without field 79
    assert gemini_mode(None, 1) == "flash"  # the extension's view: no headers
    assert gemini_mode(header("0123456789abcdef"), 3) == "pro"  # a rotated id: the field still knows
    assert gemini_mode("not json", 6) == "flash-lite"  # a header that cannot be read is no header
    assert gemini_mode(None, None) is None  # an old build: the app's default prices it


def test_gemini_web_unknown_mode_is_priced_as_flash_and_says_so():
    fixture = load_fixture("gemini-web/stream_generate")
    for unknown in (gemini_mode(header("0123456789abcdef"), None), gemini_mode(None, 9)):
        reading = read_call(fixture)
        reading.model = unknown
        event = event_of("gemini-web/stream_generate", reading)
        assert event.cost_usd == pytest.approx(litellm_cost("gemini/gemini-2.5-flash", 13, 19), rel=1e-9)
        assert event.cost_note == (f"API-equivalent estimate, priced as gemini/gemini-2.5-flash; "
                                   f"model {unknown} not recognised, priced as the app's default")
    assert gemini_mode(None, 9) == "mode-9" and gemini_mode(header("0123456789abcdef"), None) == "0123456789abcdef"


def test_gemini_web_frames_whose_shape_moved_are_skipped_not_failed():
    fixture = load_fixture("gemini-web/stream_generate")
    body = b")]}'\n\n30\n[[\"wrb.fr\",null,\"[null,null,[]]\"]]\n"
    reading = read_call(fixture, [body])
    assert (reading.status, reading.completion_texts) == ("ok", [])
