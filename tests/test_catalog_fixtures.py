"""Every recorded call in tests/fixtures/ gives exactly its expected reading, however the
body is cut into chunks; every recorded WebSocket session gives its readings, one per response."""

from __future__ import annotations

import pytest

from offgate.catalog import DEFAULT_CATALOG
from tests.support.fixture_files import (
    chunked,
    fixture_names,
    load_fixture,
    read_call,
    read_session,
    reading_view,
    session_fixture_names,
)

NAMES = fixture_names()
SESSIONS = session_fixture_names()
# None: the body in one piece; 1: byte by byte, splitting every line, UTF-8 sequence and \r\n.
CHUNK_SIZES = [None, 1, 7, 256]


def test_each_endpoint_and_stream_format_has_a_fixture():
    assert set(NAMES) >= {
        "openai/chat", "openai/chat_stream_usage", "openai/chat_stream_no_usage",
        "openai/responses", "openai/responses_stream", "openai/completions",
        "openai/completions_stream", "openai/embeddings", "openai/chat_server_error",
        "azure/deployment_chat", "azure/deployment_chat_stream", "azure/v1_chat",
        "anthropic/messages", "anthropic/messages_stream", "anthropic/messages_overloaded",
        "gemini/generate_content", "gemini/stream_sse", "gemini/stream_array",
    }


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_found_in_the_catalog(name):
    fixture = load_fixture(name)
    match = DEFAULT_CATALOG.lookup(fixture.host, fixture.port, fixture.path)
    assert match is not None
    assert (match.provider, match.endpoint, match.route) == (
        fixture.expected["provider"], fixture.expected["endpoint"], fixture.expected["route"])


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES, ids=lambda size: f"chunks-{size or 'whole'}")
@pytest.mark.parametrize("name", NAMES)
def test_fixture_gives_its_expected_reading(name, chunk_size):
    fixture = load_fixture(name)
    reading = read_call(fixture, chunked(fixture.response_body, chunk_size))
    assert reading_view(reading) == fixture.expected_reading


def test_each_websocket_api_has_a_session():
    assert set(SESSIONS) >= {"openai/realtime", "openai/responses_websocket", "gemini/live",
                             "microsoft-copilot/chat"}


@pytest.mark.parametrize("name", SESSIONS)
def test_session_is_found_in_the_catalog_only_as_a_websocket(name):
    fixture = load_fixture(name)
    match = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path, websocket=True)
    assert (match.provider, match.endpoint, match.route) == (
        fixture.expected["provider"], fixture.expected["endpoint"], fixture.expected["route"])
    plain = DEFAULT_CATALOG.lookup(fixture.host, 443, fixture.path)
    assert plain is None or plain.parser is not match.parser


@pytest.mark.parametrize("name", SESSIONS)
def test_session_gives_one_reading_per_response(name):
    fixture = load_fixture(name)
    assert [reading_view(r) for r in read_session(fixture)] == fixture.expected["readings"]
