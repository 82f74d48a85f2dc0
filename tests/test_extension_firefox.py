"""The extension end to end in Debian's Firefox ESR (headless, driven over WebDriver BiDi):
the real extension installed as a temporary add-on, the host installed by
`offgate extension install --browser firefox` into the throw-away user's
~/.mozilla/native-messaging-hosts, and the fake web apps reached by name.

Firefox has no --host-resolver-rules. Two preferences do the same: network.dns.forceResolve
sends every name to 127.0.0.1, and network.socket.forcePort turns port 443 into the fake
apps' port, so no privileged port is needed. The profile's own NSS database (cert9.db)
trusts the test CA."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from native_host.extension import EXTENSION_DIR, gecko_id
from offgate.store import Store
from offgate.store.coaching import CoachingCount, CoachingStore
from tests.support.bidi import BiDi, firefox
from tests.support.extension_e2e import (
    EXPECTED,
    EXPECTED_SESSION,
    User,
    check_fetch_recorded,
    event_facts,
    expected_facts,
    throwaway_user,
)
from tests.support.web_apps import require

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PAGE_TIMEOUT_S = 30
# ChatGPT is coached (tests/test_extension_coaching.py has the whole story, in Chromium).
COACH_CHATGPT = """
[[policy.rules]]
name = "coach chatgpt"
action = "coach"
app = "chatgpt"
message = "Please use the company's chat."
"""


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    with throwaway_user(tmp_path_factory.mktemp("firefox")) as user:
        user.offgate_home.mkdir()
        (user.offgate_home / "config.toml").write_text(COACH_CHATGPT)
        yield user


@pytest.fixture(scope="module")
def browser(user: User) -> Iterator[tuple[BiDi, str]]:
    executable = require("firefox-esr")
    installed = user.install_host("firefox")
    manifest = user.home / ".mozilla" / "native-messaging-hosts" / "dev.offgate.native_host.json"
    assert str(manifest) in installed
    profile = user.home / "firefox-profile"
    profile.mkdir()
    user.ca.trust_in_nss(profile)
    (profile / "user.js").write_text(
        'user_pref("network.dns.forceResolve", "127.0.0.1");\n'
        f'user_pref("network.socket.forcePort", "443={user.apps.port}");\n'
    )
    with firefox(executable, profile, user.env) as bidi:
        added = bidi.send("webExtension.install", extensionData={"type": "path", "path": str(EXTENSION_DIR)})
        assert added["extension"] == gecko_id()
        wait_for_host_hello(user.offgate_home / "native-host.log")
        context = bidi.send("browsingContext.getTree")["contexts"][0]["context"]
        yield bidi, context


def wait_for_host_hello(log: Path) -> None:
    """The background script connects at start; the host logs the extension's hello."""
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while not (log.exists() and "connected" in log.read_text()):
        assert time.monotonic() < deadline, "the extension never connected to the host"
        time.sleep(0.1)


def run_page(browser: tuple[BiDi, str], url: str) -> dict:
    bidi, context = browser
    bidi.send("browsingContext.navigate", context=context, url=url, wait="complete")
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while bidi.evaluate(context, "document.title") not in ("done", "failed"):
        assert time.monotonic() < deadline, "the page never finished its call"
        time.sleep(0.05)
    return json.loads(bidi.evaluate(context, "JSON.stringify(window.offgateTestResult)"))


def test_the_first_chatgpt_page_of_the_day_shows_the_coaching_notice_out_of_the_pages_reach(
        browser: tuple[BiDi, str], user: User) -> None:
    """Runs first: no ChatGPT page has been opened yet today."""
    bidi, context = browser
    before = user.events()
    run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "fetch"))
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while coaching_counts(user) != [CoachingCount("chatgpt", "coach chatgpt", shown=1, clicked=0)]:
        assert time.monotonic() < deadline, coaching_counts(user)
        time.sleep(0.1)
    # The page's own script finds the element, and nothing in it.
    seen = bidi.evaluate(context, """JSON.stringify((() => {
        const element = document.querySelector('offgate-notice');
        return {shadowRoot: element.shadowRoot, html: element.innerHTML, text: element.textContent};
    })())""")
    assert json.loads(seen) == {"shadowRoot": None, "html": "", "text": ""}
    # The page's call is recorded too; wait for it, so the next test counts only its own.
    user.wait_for_new_events(before, 1)


def coaching_counts(user: User) -> list[CoachingCount]:
    with Store.open(f"sqlite:///{user.offgate_home / 'offgate.db'}") as store:
        return CoachingStore(store).counts()


@pytest.mark.parametrize("fixture_name", ["chatgpt/conversation_delta", "claude-web/completion"])
def test_a_web_app_call_through_fetch_is_recorded(browser: tuple[BiDi, str], user: User, fixture_name: str) -> None:
    before, calls_before = user.events(), len(user.apps.calls())
    result = run_page(browser, user.apps.page_url(fixture_name, "fetch"))
    check_fetch_recorded(user, fixture_name, result, calls_before, before, "firefox")


def test_a_websocket_session_is_recorded_per_answer(browser: tuple[BiDi, str], user: User) -> None:
    fixture = user.apps.fixtures["microsoft-copilot/chat"]
    before = user.events()
    run_page(browser, user.apps.page_url("microsoft-copilot/chat", "websocket"))
    events = sorted(user.wait_for_new_events(before, 2), key=lambda event: event.ts)
    assert len(events) == 2
    for event, expected in zip(events, EXPECTED_SESSION, strict=True):
        assert event_facts(event) == expected_facts(expected, host=fixture.host, method="GET", status_code=101,
                                                    path="/c/api/chat?api-version=2&accessToken=")



def test_a_page_script_can_neither_forge_copies_nor_stop_the_real_one(browser: tuple[BiDi, str], user: User) -> None:
    """As in Chromium: tests/support/hostile_page.js tries the old DOM events, a port of its own and
    catching the tap's port; only the page's real call is recorded."""
    before = user.events()
    assert run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "fetch", hostile=True))["status"] == 200
    # Copies reach the host in order: once a later page's call is in, a forged one would be too.
    run_page(browser, user.apps.page_url("claude-web/completion", "fetch"))
    new = user.wait_for_new_events(before, 2)
    assert [event.id for event in new if event.id.startswith("forged")] == []
    assert sorted((event.provider, event.response_id) for event in new) == [
        ("chatgpt", EXPECTED["chatgpt/conversation_delta"].response_id),
        ("claude-web", EXPECTED["claude-web/completion"].response_id)]
