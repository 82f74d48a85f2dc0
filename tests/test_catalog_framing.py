"""SSE framing read in chunks of any size: the same events as the whole body, and an
unfinished line still refused once it passes the limit (issue 17 changed how lines are cut)."""

from __future__ import annotations

import pytest

from offgate.catalog.framing import FrameTooLarge, SSEEvent, SSEReader
from tests.support.fixture_files import chunked

BODY = (b"event: a\ndata: one\r\n\ndata: two\ndata: three\n\n: a comment\ndata: " + b"x" * 100
        + b"\n\ndata: caf\xc3\xa9\n\ndata: tail")
EVENTS = [SSEEvent("a", "one"), SSEEvent("message", "two\nthree"), SSEEvent("message", "x" * 100),
          SSEEvent("message", "café"), SSEEvent("message", "tail")]


@pytest.mark.parametrize("size", [None, 1, 2, 3, 7, 64])
def test_sse_lines_cut_anywhere_give_the_same_events(size):
    reader = SSEReader(1000)
    events = [event for chunk in chunked(BODY, size) for event in reader.feed(chunk)]
    assert [*events, *reader.close()] == EVENTS


def test_an_unfinished_sse_line_past_the_limit_is_refused():
    reader = SSEReader(64)
    assert list(reader.feed(b"data: ok\n\ndata: " + b"x" * 40)) == [SSEEvent("message", "ok")]
    with pytest.raises(FrameTooLarge, match="^an SSE line exceeds 64 bytes$"):
        list(reader.feed(b"x" * 30))
