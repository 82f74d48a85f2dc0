"""Whole hosts are decrypted, but only catalog calls are read: every other response on them
must still pass through as it comes, never held until the server ends it.

The fake server sends the first piece of a response and then holds it open; the client,
through the real proxy, must get that piece while the server is still holding on.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.proxy_harness import proxying_to
from tests.support.upstream import Scenario

pytestmark = pytest.mark.e2e

FIRST_PIECE = {
    "text/event-stream": b'data: {"type": "conversation_stream_status", "status": "streaming"}\n\n',
    "audio/mpeg": b"\xff\xf3\x44\xc4" + bytes(412),  # the first MP3 frame of /v1/audio/speech
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    yield from proxying_to(tmp_path_factory.mktemp("home"), upstream.port)


@pytest.mark.parametrize(("url", "content_type"), [
    ("https://api.openai.com/v1/audio/speech", "audio/mpeg"),
    ("https://chatgpt.com/backend-api/conversation/6901c2a4/stream_status", "text/event-stream"),
    ("https://claude.ai/api/organizations/0f1e/chat_conversations/9a8b/stream_events", "text/event-stream"),
])
def test_response_outside_the_catalog_on_a_decrypted_host_is_not_held(proxy, upstream, url, content_type):
    name = f"held-{url}"
    first = FIRST_PIECE[content_type]
    upstream.add(name, Scenario(headers={"content-type": content_type}, chunks=[first], streamed=True,
                                hold_open=True))
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=10) as client, client.stream(
            "POST", url, content=b'{"input": "Read this aloud."}', headers={"x-test-scenario": name}) as response:
        # Buffered, this read would wait for the end of a response that never ends (and time out).
        received = next(response.iter_raw())
    assert received == first
    store = proxy.store()
    try:
        assert store.count() == 0  # not an LLM call offgate reads: nothing recorded
    finally:
        store.close()
