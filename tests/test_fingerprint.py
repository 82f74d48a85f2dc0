"""API keys are found wherever a client puts them, and never kept: not as the key, not in the path."""

from __future__ import annotations

import pytest

from offgate.fingerprint import api_key_from, hints_agree, key_fingerprint, key_hint, path_without_keys


@pytest.mark.parametrize(("headers", "query", "key"), [
    ({"authorization": "Bearer sk-abc"}, {}, "sk-abc"),
    ({"x-api-key": "sk-ant-1"}, {}, "sk-ant-1"),
    ({"x-goog-api-key": "AIza1"}, {}, "AIza1"),
    ({}, {"key": "AIza2"}, "AIza2"),  # Gemini, the Live API's WebSocket URL too
    ({}, {"api-version": "2", "accessToken": "eyJ3"}, "eyJ3"),  # Microsoft Copilot's WebSocket URL
    ({}, {"alt": "sse"}, None),
])
def test_the_key_is_found_in_headers_or_query(headers, query, key):
    assert api_key_from(headers, query) == key


@pytest.mark.parametrize(("path", "kept"), [
    ("/v1/chat/completions", "/v1/chat/completions"),
    ("/v1beta/models/m:generateContent?alt=sse&key=AIzaSECRET", "/v1beta/models/m:generateContent?alt=sse&key="),
    ("/c/api/chat?api-version=2&accessToken=eyJSECRET", "/c/api/chat?api-version=2&accessToken="),
    ("/x?Key=SECRET&flag", "/x?Key=&flag"),
    # Poe's update channel: which channel, and its hash, are no one's business
    ("/up/chan51-8888/updates?min_seq=2891738744&channel=poe-chan51-8888-qzkjwmnsxcrtbvudfh&hash=11782643925846592738",
     "/up/chan51-8888/updates?min_seq=&channel=&hash="),
    ("/search?q=my+salary+review&model=sonar-pro&API-Version=2024-10-21",
     "/search?q=&model=sonar-pro&API-Version=2024-10-21"),
    ("/ask?Summarise%20our%20travel%20policy&beta=true", "/ask?beta=true"),  # a name that is text goes whole
    ("/v1/messages?", "/v1/messages"),
])
def test_the_stored_path_keeps_no_key_nor_any_value_that_could_say_who_or_what(path, kept):
    assert path_without_keys(path) == kept


def test_the_fingerprint_is_stable_and_salted():
    assert key_fingerprint("sk-abc", b"salt") == key_fingerprint("sk-abc", b"salt")
    assert key_fingerprint("sk-abc", b"salt") != key_fingerprint("sk-abc", b"pepper")
    assert len(key_fingerprint("sk-abc", b"salt")) == 12


@pytest.mark.parametrize(("key", "hint"), [
    ("sk-ant-api03-R2D8xxxxxxxxxxxxxxxxxxxxxxxxxxxxigAA", "sk-ant-api03-R2D...igAA"),  # Anthropic's partial_key_hint
    ("sk-or-v1-0e6fxxxxxxxxxxxxxxxxxxxxxxxxxxxx1c96", "sk-or-v1-0e6...1c96"),  # OpenRouter's key label
    ("sk-proj-abcdxxxxxxxxxxxxxxxxxxxxxxxxxxxxwxyz", "sk-proj-abc...wxyz"),  # OpenAI's redacted_value
    ("AIzaSyA1xxxxxxxxxxxxxxxxxxxxxxxxxxxxQ9z0", "AIz...Q9z0"),  # no known prefix: the first three
    ("sk-short-key", None),  # too short to hint at without giving it away
])
def test_the_hint_is_what_the_providers_consoles_show(key, hint):
    assert key_hint(key) == hint


def test_hints_of_different_lengths_agree_when_their_ends_do():
    assert hints_agree("sk-proj-abc...wxyz", "sk-abc...xyz")  # OpenAI's shorter redacted form
    assert hints_agree("sk-proj-abc...wxyz", "sk-proj-abc...wxyz")
    assert not hints_agree("sk-proj-abc...wxyz", "sk-proj-abd...wxyz")
    assert not hints_agree("sk-proj-abc...wxyz", "sk-proj-abc...wxy0")
