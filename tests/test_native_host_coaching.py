"""The host's side of coaching in the browser (issue 15), driven through its real message
handling: the extension asks for the rules coaching or blocking the AI web apps, and tells the
host of every notice shown and link clicked, which lands in the store once each."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from native_host.host import Host
from offgate.store import Store
from offgate.store.coaching import CoachingCount, CoachingStore

POLICY = f"""
[[policy.rules]]
name = "claude on this device is fine"
action = "allow"
app = "claude-web"
device = "{socket.gethostname()}*"

[[policy.rules]]
name = "coach web chat"
action = "coach"
app = ["chatgpt", "claude-web"]
message = "Use the company's chat."
alternative_url = "https://chat.company.test/"

[[policy.rules]]
name = "no gemini"
action = "block"
app = "gemini-web"
message = "Gemini is not approved here."

[[policy.rules]]
name = "gateway ceiling"
action = "require_approval"
max_cost_per_request = 1.0
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(POLICY)
    return home


@pytest.fixture
def host(home: Path) -> Iterator[Host]:
    host = Host(home)
    yield host
    host.close()


def ask(host: Host, message: dict) -> dict:
    return host.handle(json.dumps(message).encode())


def coached(message_id: str, event: str = "shown", app: str = "chatgpt", origin: str = "https://chatgpt.com") -> dict:
    return {"type": "coached", "id": message_id, "app": app, "rule": "coach web chat", "event": event,
            "at": "2026-12-07T10:00:00Z", "page_origin": origin}


def counts(home: Path) -> list[CoachingCount]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return CoachingStore(store).counts()


def test_the_extension_gets_the_coach_and_block_rules_deciding_for_each_web_app(host: Host) -> None:
    # claude-web is allowed on this device (first matching rule); require_approval is the gateway's.
    assert ask(host, {"type": "coaching", "id": "q1"}) == {"type": "coaching", "id": "q1", "rules": [
        {"app": "chatgpt", "rule": "coach web chat", "action": "coach", "message": "Use the company's chat.",
         "alternative_url": "https://chat.company.test/"},
        {"app": "gemini-web", "rule": "no gemini", "action": "block", "message": "Gemini is not approved here.",
         "alternative_url": None},
    ]}


def test_a_changed_policy_reaches_the_next_question(host: Host, home: Path) -> None:
    assert len(ask(host, {"type": "coaching", "id": "q1"})["rules"]) == 2
    (home / "config.toml").write_text("")
    assert ask(host, {"type": "coaching", "id": "q2"}) == {"type": "coaching", "id": "q2", "rules": []}
    (home / "config.toml").write_text('[[policy.rules]]\nname = "x"\naction = "coach"\n')
    reply = ask(host, {"type": "coaching", "id": "q3"})
    assert (reply["error"], reply["retryable"]) == ("unavailable", True)
    assert "a coach rule needs a message" in reply["message"]


def test_shows_and_clicks_are_stored_once_however_often_sent(host: Host, home: Path) -> None:
    for message in (coached("s1"), coached("s1"), coached("c1", "clicked"), coached("s2")):
        assert ask(host, message) == {"type": "ack", "id": message["id"], "event_ids": []}
    assert counts(home) == [CoachingCount("chatgpt", "coach web chat", shown=2, clicked=1)]


@pytest.mark.parametrize(("message", "error", "reason"), [
    (coached("x1", origin="https://claude.ai"), "not_in_catalog", "not the page of the AI web app 'chatgpt'"),
    (coached("x2", app="openai"), "not_in_catalog", "not the page of the AI web app 'openai'"),
    (coached("x3", event="hovered"), "invalid_message", "event: Input should be 'shown' or 'clicked'"),
    ({**coached("x4"), "page_text": "secret"}, "invalid_message", "page_text: Extra inputs are not permitted"),
], ids=["another-apps-page", "not-a-web-app", "unknown-event", "extra-field"])
def test_a_bad_coached_message_is_refused_and_nothing_is_stored(host: Host, home: Path, message: dict, error: str,
                                                                reason: str) -> None:
    reply = ask(host, message)
    assert (reply["type"], reply["error"], reply["retryable"]) == ("error", error, False)
    assert reason in reply["message"]
    assert ask(host, coached("ok")) == {"type": "ack", "id": "ok", "event_ids": []}
    assert counts(home) == [CoachingCount("chatgpt", "coach web chat", shown=1, clicked=0)]
