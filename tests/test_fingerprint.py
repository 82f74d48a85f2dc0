"""API keys are found wherever a client puts them, and never kept: not as the key, not in the path."""

from __future__ import annotations

import pytest

from offgate.fingerprint import api_key_from, key_fingerprint, path_without_keys


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
])
def test_the_stored_path_keeps_no_key(path, kept):
    assert path_without_keys(path) == kept


def test_the_fingerprint_is_stable_and_salted():
    assert key_fingerprint("sk-abc", b"salt") == key_fingerprint("sk-abc", b"salt")
    assert key_fingerprint("sk-abc", b"salt") != key_fingerprint("sk-abc", b"pepper")
    assert len(key_fingerprint("sk-abc", b"salt")) == 12
