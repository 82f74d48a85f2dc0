"""A stream is whole when its API's terminal event arrived, however the connection ended.

Clients such as Codex CLI hang up as soon as they have the terminal event, while the server
still holds the connection open: the call is whole, with its exact usage. A stream whose
terminal event never came is cut off, even if the connection then closed cleanly. Every
streamed fixture is checked both ways; its terminal event is named in tests/support/terminal_events.py,
from the API's documentation (/work/shared/reference/llm-wire-formats.md), not from the parser.
"""

from __future__ import annotations

import pytest

from tests.support.fixture_files import chunked, load_fixture, read_call, reading_view
from tests.support.terminal_events import STREAMS, TERMINAL_EVENTS, terminal_event_start


def test_every_streamed_fixture_names_its_terminal_event():
    assert sorted(TERMINAL_EVENTS) == STREAMS


@pytest.mark.parametrize("chunk_size", [1, 7], ids=lambda size: f"chunks-{size}")
@pytest.mark.parametrize("name", STREAMS)
def test_stream_with_its_terminal_event_is_whole_when_the_connection_then_drops(name, chunk_size):
    fixture = load_fixture(name)
    reading = read_call(fixture, chunked(fixture.response_body, chunk_size), complete=False)
    assert reading_view(reading) == fixture.expected_reading
    assert (reading.status, reading.error) == ("ok", None)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_cut_before_its_terminal_event_is_cut_off(name):
    fixture = load_fixture(name)
    head = fixture.response_body[:terminal_event_start(fixture)]
    reading = read_call(fixture, chunked(head, 7), complete=False)
    assert (reading.status, reading.error) == ("partial", "response was cut off")
