"""One call, one record: a Claude Code call the real proxy recorded and Claude Code logged
(its message id is the response id the proxy read) is kept once, naming both witnesses."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from offgate.config import device_name
from tests.support.agent_log_homes import scan_home
from tests.support.event_checks import key_headers, sent_with_key
from tests.support.fixture_files import load_fixture
from tests.support.proxy_harness import RunningProxy, proxying_to
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    yield from proxying_to(tmp_path_factory.mktemp("home"), upstream.port)


def claude_code_log(home: Path, response: dict) -> None:
    """The line Claude Code writes for the reply (its usage, message id and model; no text kept here)."""
    session = home / ".claude" / "projects" / "-home-alice-src" / "5e7a.jsonl"
    session.parent.mkdir(parents=True)
    line = {"type": "assistant", "sessionId": "5e7a", "version": "2.1.3", "requestId": "req_011CVproxy",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "message": {key: response[key] for key in ("id", "type", "role", "model", "content", "usage")}}
    session.write_text(json.dumps(line) + "\n")


def test_a_call_seen_by_the_proxy_and_in_claude_codes_log_is_one_record(
        proxy: RunningProxy, upstream: FakeUpstream, tmp_path: Path) -> None:
    fixture = load_fixture("anthropic/messages")
    upstream.add("claude-code", Scenario(status=200, headers=fixture.response_headers, chunks=[fixture.response_body]))
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=30) as client:
        answer = client.post(fixture.url, content=fixture.request_body, headers=key_headers(fixture, "claude-code"))
    assert answer.status_code == 200
    (recorded,) = proxy.wait_for_events(sent_with_key(proxy, "claude-code"))
    claude_code_log(tmp_path, answer.json())

    with proxy.store() as store:
        result = scan_home(store, tmp_path, device=device_name(), user=getpass.getuser())
        same_call = [event for event in store.events() if event.response_id == recorded.response_id]
        rescan = scan_home(store, tmp_path, device=device_name(), user=getpass.getuser())
    assert result.read == {"claude-code files": 1, "claude-code lines": 1}
    assert result.kept == {"claude-code calls": 0}
    assert [(event.id, event.source, event.witnesses) for event in same_call] == [
        (recorded.id, "proxy", "agent-log,proxy")]
    assert (same_call[0].prompt_tokens, same_call[0].completion_tokens) == (3299, 48)
    assert rescan.kept == {"claude-code calls": 0}
