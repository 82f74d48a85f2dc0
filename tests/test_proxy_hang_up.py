"""Clients that hang up as soon as they have what they need, through the real proxy.

Codex CLI closes its connection the moment it has `response.completed`, while the server
still holds the stream open. Every recorded stream is replayed so, by a real HTTP client:
with its terminal event the call is whole, with exact usage; cut before its terminal event
it is cut off, though the connection ended the same way.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.event_checks import check_event, key_headers, sent_with_key, stored_path
from tests.support.fixture_files import Fixture, load_fixture, read_call
from tests.support.proxy_harness import RunningProxy, proxying_to
from tests.support.terminal_events import STREAMS, terminal_event_start
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    yield from proxying_to(tmp_path_factory.mktemp("home"), upstream.port)


def hang_up_after(proxy: RunningProxy, upstream: FakeUpstream, fixture: Fixture, name: str, body: bytes) -> bytes:
    """The server sends `body` and holds the response open; the client reads exactly that
    much, then closes the connection. Returns what the client read."""
    upstream.add(name, Scenario(status=fixture.status, headers=fixture.response_headers,
                                chunks=[body[i:i + 97] for i in range(0, len(body), 97)], streamed=True,
                                hold_open=True))
    received = b""
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client, client.stream(
            fixture.method, fixture.url, content=fixture.request_body, headers=key_headers(fixture, name)) as response:
        chunks = response.iter_raw()
        while len(received) < len(body):
            received += next(chunks)
    return received


@pytest.mark.parametrize("name", STREAMS)
def test_client_hanging_up_after_the_terminal_event_gets_a_whole_call(proxy, upstream, name):
    fixture = load_fixture(name)
    received = hang_up_after(proxy, upstream, fixture, f"{name}#whole", fixture.response_body)
    assert received == fixture.response_body

    (event,) = proxy.wait_for_events(sent_with_key(proxy, f"{name}#whole"))
    assert (event.host, event.path, event.response_bytes) == (fixture.host, stored_path(fixture),
                                                              len(fixture.response_body))
    assert (event.parse_status, event.parse_error) == ("ok", None)
    check_event(event, fixture, fixture.expected, read_call(fixture))


@pytest.mark.parametrize("name", STREAMS)
def test_client_hanging_up_before_the_terminal_event_gets_a_cut_off_call(proxy, upstream, name):
    fixture = load_fixture(name)
    head = fixture.response_body[:terminal_event_start(fixture)]
    assert hang_up_after(proxy, upstream, fixture, f"{name}#cut", head) == head

    (event,) = proxy.wait_for_events(sent_with_key(proxy, f"{name}#cut"))
    assert (event.parse_status, event.parse_error) == ("partial", "response was cut off")
    assert event.response_bytes == len(head)
