"""Bodies as they really arrive: compressed, lying about their encoding, malformed, cut off.
None of it may raise; each gives a clear status and keeps what was read."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from offgate.catalog.decoding import zstd_module
from tests.support.fixture_files import chunked, load_fixture, read_call, reading_view


def deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


# (Content-Encoding header, how to encode) - deflate comes both zlib-wrapped and raw.
ENCODINGS = {
    "gzip": ("gzip", gzip.compress),
    "deflate-zlib": ("deflate", zlib.compress),
    "deflate-raw": ("deflate", deflate_raw),
    "br": ("br", brotli.compress),
    "zstd": ("zstd", zstd_module().compress),
    "gzip-then-br": ("gzip, br", lambda data: brotli.compress(gzip.compress(data))),
}
ENCODED_FIXTURES = ["openai/chat", "openai/chat_stream_usage", "openai/responses_stream",
                    "anthropic/messages_stream", "gemini/stream_sse", "gemini/stream_array"]


@pytest.mark.parametrize("chunk_size", [None, 1, 5])
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", ENCODED_FIXTURES)
def test_encoded_body_gives_the_same_reading(name, encoding, chunk_size):
    fixture = load_fixture(name)
    header, encode = ENCODINGS[encoding]
    headers = {**fixture.response_headers, "content-encoding": header}
    body = encode(fixture.response_body)
    assert body != fixture.response_body
    reading = read_call(fixture, chunked(body, chunk_size), response_headers=headers)
    assert reading_view(reading) == reading_view(read_call(fixture))
    assert reading.status == "ok"


def test_encoded_request_body_is_read():
    fixture = load_fixture("anthropic/messages")
    reading = read_call(fixture, request_body=gzip.compress(fixture.request_body), request_encoding="gzip")
    assert reading.prompt_messages == 2
    assert reading.model == "claude-sonnet-4-5-20250929"
    assert reading.status == "ok"


@pytest.mark.parametrize("encoding", ["gzip", "br", "gzip, br"])
def test_body_that_lies_about_its_encoding_is_partial_with_the_request_still_read(encoding: str):
    fixture = load_fixture("openai/chat")
    headers = {**fixture.response_headers, "content-encoding": encoding}
    reading = read_call(fixture, response_headers=headers)
    assert reading.status == "partial"
    assert reading.error is not None
    assert reading.error.startswith(f"response: body is not valid {encoding}")
    assert reading.model == "gpt-4o-mini"  # from the request
    assert reading.usage is None


def test_body_that_lies_about_gzip_without_a_request_is_unparsed():
    fixture = load_fixture("openai/chat_stream_usage")
    headers = {**fixture.response_headers, "content-encoding": "gzip"}
    reading = read_call(fixture, chunked(fixture.response_body, 3), response_headers=headers,
                        request_body=b"")
    assert reading.status == "unparsed"
    assert reading.error is not None
    assert reading.error.startswith("response: body is not valid gzip")


def test_unknown_content_encoding_is_named():
    fixture = load_fixture("openai/chat")
    headers = {**fixture.response_headers, "content-encoding": "compress"}
    reading = read_call(fixture, response_headers=headers, request_body=b"")
    assert reading.status == "unparsed"
    assert reading.error == "response: unsupported content-encoding 'compress'"


def test_invalid_json_is_unparsed():
    fixture = load_fixture("openai/chat")
    reading = read_call(fixture, [b'{"id": "chatcmpl-1", "choices": [', b"oops"], request_body=b"{not json")
    assert reading.status == "unparsed"
    assert reading.error is not None
    assert reading.error.startswith("request: invalid JSON")
    assert "; response: invalid JSON" in reading.error
    assert reading.model is None and reading.usage is None


def test_a_bad_stream_event_spoils_only_itself():
    fixture = load_fixture("openai/chat_stream_usage")
    body = fixture.response_body.replace(b'data: {"id"', b"data: {broken\n\ndata: {\"id\"", 1)
    reading = read_call(fixture, chunked(body, 11))
    assert reading.status == "partial"
    assert reading.error is not None
    assert reading.usage is not None
    assert reading.error.startswith("stream: invalid JSON")
    assert reading.usage.prompt_tokens == 15 and reading.usage.completion_tokens == 6
    assert "".join(reading.completion_texts) == "Red, yellow and blue."


def test_a_bad_stream_event_is_named_in_the_json_modules_words():
    # Events are decoded by orjson (issue 17); a broken one is still named as json names it.
    fixture = load_fixture("openai/chat_stream_usage")
    body = fixture.response_body.replace(b'data: {"id"', b"data: {broken\n\ndata: {\"id\"", 1)
    reading = read_call(fixture, chunked(body, 11))
    assert reading.error == "stream: invalid JSON (Expecting property name enclosed in double quotes at 1)"


@pytest.mark.parametrize(("name", "original", "unusual", "text"), [
    ("openai/chat_stream_usage", b'"delta":{"content":"Red"},"logprobs":null',
     b'"delta":{"content":"Red\\ud800"},"logprobs":NaN', "Red\ud800, yellow and blue."),
    ("openai/responses_stream", b'"delta":"Hello","logprobs":[]', b'"delta":"Hello\\udc00","logprobs":NaN', None),
])
def test_stream_events_that_only_the_json_module_reads_are_read_as_before(name, original, unusual, text):
    # NaN and lone surrogates are not strict JSON: orjson refuses them, json reads them.
    fixture = load_fixture(name)
    assert original in fixture.response_body
    reading = read_call(fixture, chunked(fixture.response_body.replace(original, unusual, 1), 11))
    expected = read_call(fixture)
    assert (reading.status, reading.error, reading.usage) == ("ok", None, expected.usage)
    texts = "".join(expected.completion_texts)
    assert "".join(reading.completion_texts) == (text or texts.replace("Hello", "Hello\udc00", 1))


def test_a_value_of_the_wrong_type_is_named_never_quoted():
    # `choices` is an array; a string there (it could be prompt text) spoils the body, and the
    # stored reason names the types, not the value. What was read before it is kept.
    fixture = load_fixture("openai/chat")
    body = fixture.response_body.replace(b'"choices": [', b'"choices": "SECRET words", "was": [', 1)
    reading = read_call(fixture, [body])
    assert (reading.status, reading.error) == ("partial", "response: expected a JSON array, got string")
    assert reading.usage is not None and reading.usage.completion_tokens == 26


def test_a_stream_event_of_the_wrong_shape_spoils_only_itself():
    fixture = load_fixture("openai/chat_stream_usage")
    body = fixture.response_body.replace(b'"delta":{"content":"Red"}', b'"delta":7', 1)
    reading = read_call(fixture, chunked(body, 11))
    assert (reading.status, reading.error) == ("partial", "stream: expected a JSON object, got number")
    assert reading.usage is not None
    assert reading.usage.prompt_tokens == 15 and reading.usage.completion_tokens == 6
    assert "".join(reading.completion_texts) == ", yellow and blue."


def cut_before(body: bytes, marker: bytes, occurrence: int = 1) -> bytes:
    """The body up to (not including) the given occurrence of marker."""
    at = -1
    for _ in range(occurrence):
        at = body.index(marker, at + 1)
    return body[:at]


def test_stream_cut_off_keeps_usage_and_text_seen_so_far():
    fixture = load_fixture("anthropic/messages_stream")
    # Cut inside the third text delta: its half line must not count.
    head = cut_before(fixture.response_body, b"event: content_block_delta", 3) + b"event: content_bl"
    reading = read_call(fixture, chunked(head, 9), complete=False)
    assert reading.status == "partial"
    assert reading.error == "response was cut off"
    assert reading.response_id == "msg_01R7aYc3VdkJ9QnB8tWm5XeF"
    # message_start's counts: the stream died before message_delta gave the final output count.
    assert reading.usage is not None
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens) == (18 + 412 + 2866, 1)
    assert (reading.usage.cached_tokens, reading.usage.cache_write_tokens) == (2866, 412)
    assert "".join(reading.completion_texts) == "A hotel claim needs a receipt, "


def test_stream_that_ends_cleanly_before_its_final_event_is_partial():
    fixture = load_fixture("openai/chat_stream_usage")
    head = cut_before(fixture.response_body, b'"choices":[]')  # before the usage chunk
    head = head[:head.rindex(b"data: ")]
    reading = read_call(fixture, [head], complete=True)
    assert reading.status == "partial"
    assert reading.error == "stream ended before its final event"
    assert reading.usage is None
    assert "".join(reading.completion_texts) == "Red, yellow and blue."


def test_responses_stream_cut_before_completed_keeps_id_and_model():
    fixture = load_fixture("openai/responses_stream")
    head = cut_before(fixture.response_body, b"event: response.output_text.done")
    reading = read_call(fixture, chunked(head, 64))
    assert reading.status == "partial"
    assert reading.error == "stream ended before its final event"
    assert reading.response_id == "resp_6891f1a7c3e081929d4b7f2a6e1c58d3086c2f91b7a4e0d5"
    assert reading.model == "gpt-4.1-mini-2025-04-14"
    assert reading.usage is None
    assert "".join(reading.completion_texts) == "Hello there, dear accounting team!"


def test_gemini_array_cut_off_keeps_the_last_whole_element():
    fixture = load_fixture("gemini/stream_array")
    head = cut_before(fixture.response_body, b'"candidatesTokenCount"')
    reading = read_call(fixture, chunked(head, 1), complete=False)
    assert reading.status == "partial"
    assert reading.error == "response was cut off"
    assert reading.usage is not None
    assert reading.usage.prompt_tokens == 16 and reading.usage.completion_tokens is None
    assert "".join(reading.completion_texts) == "A credit note reduces the amount a customer owes, "


def test_whole_json_body_cut_off_is_partial_with_the_request_still_read():
    fixture = load_fixture("openai/chat")
    reading = read_call(fixture, [fixture.response_body[:100]], complete=False)
    assert reading.status == "partial"
    assert reading.error == "response was cut off"
    assert reading.model == "gpt-4o-mini"
    assert reading.usage is None


def test_error_answer_to_a_stream_request_is_read_as_json():
    # The request asked for a stream; the 529 answer is one JSON object, not an array or SSE.
    fixture = load_fixture("anthropic/messages_overloaded")
    reading = read_call(fixture, chunked(fixture.response_body, 4))
    assert reading.status == "partial"
    assert reading.error == "upstream answered 529"
