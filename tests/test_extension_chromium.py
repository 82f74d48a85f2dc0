"""The extension end to end in Debian's Chromium (headless, driven by Playwright): the real
extension, the host installed by `offgate extension install --user-data-dir`, and the fake
web apps reached by name through --host-resolver-rules with a certificate the user's NSS
database trusts. Each test loads an app's page, which makes one call as the app does; the
store must get the event the host read from the page tap's copy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import psutil
import pytest
from playwright.sync_api import BrowserContext, Worker

from native_host.extension import chromium_id
from tests.support.extension_e2e import (
    EXPECTED,
    EXPECTED_SESSION,
    User,
    check_fetch_recorded,
    chromium_with_extension,
    event_facts,
    expected_facts,
    run_page,
    service_worker,
    throwaway_user,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    with throwaway_user(tmp_path_factory.mktemp("chromium")) as user:
        user.ca.trust_in_nss(user.home / ".pki" / "nssdb")
        yield user


@pytest.fixture(scope="module")
def browser(user: User) -> Iterator[BrowserContext]:
    with chromium_with_extension(user) as context:
        yield context


@pytest.mark.parametrize("fixture_name", ["chatgpt/conversation_delta", "claude-web/completion"])
def test_a_web_app_call_through_fetch_is_recorded(browser: BrowserContext, user: User, fixture_name: str) -> None:
    before, calls_before = user.events(), len(user.apps.calls())
    result = run_page(browser, user.apps.page_url(fixture_name, "fetch"))
    event = check_fetch_recorded(user, fixture_name, result, calls_before, before, "chromium")
    assert event.ttft_ms is not None


def test_a_call_through_xmlhttprequest_is_recorded(browser: BrowserContext, user: User) -> None:
    fixture = user.apps.fixtures["chatgpt/conversation_delta"]
    before = user.events()
    result = run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "xhr"))
    assert result == {"status": 200, "text": fixture.response_body.decode()}
    (event,) = user.wait_for_new_events(before, 1)
    assert event_facts(event) == expected_facts(EXPECTED["chatgpt/conversation_delta"], host=fixture.host,
                                                path=fixture.path, method="POST", status_code=200)
    assert (event.request_bytes, event.response_bytes) == (len(fixture.request_body), len(fixture.response_body))


def test_an_event_source_stream_is_recorded_from_its_events(browser: BrowserContext, user: User) -> None:
    fixture = user.apps.fixtures["chatgpt/conversation_delta"]
    before = user.events()
    run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "eventsource"))
    (event,) = user.wait_for_new_events(before, 1)
    # A GET has no prompt: only the reply, rebuilt from the events the page heard, is counted.
    expected = replace(EXPECTED["chatgpt/conversation_delta"], prompt_tokens=0)
    assert event_facts(event) == expected_facts(expected, host=fixture.host, path=fixture.path, method="GET",
                                                status_code=200)


def test_a_websocket_session_is_recorded_per_answer(browser: BrowserContext, user: User) -> None:
    fixture = user.apps.fixtures["microsoft-copilot/chat"]
    before = user.events()
    result = run_page(browser, user.apps.page_url("microsoft-copilot/chat", "websocket"))
    assert result["status"] == 101
    events = sorted(user.wait_for_new_events(before, 2), key=lambda event: event.ts)
    assert len(events) == 2
    for event, expected in zip(events, EXPECTED_SESSION, strict=True):
        # The access token in the query is not stored.
        assert event_facts(event) == expected_facts(expected, host=fixture.host, method="GET", status_code=101,
                                                    path="/c/api/chat?api-version=2&accessToken=")


def test_an_app_switched_off_in_the_options_is_not_recorded(browser: BrowserContext, user: User) -> None:
    worker = service_worker(browser)
    before, calls_before = user.events(), len(user.apps.calls())
    worker.evaluate("chrome.storage.local.set({disabledApps: ['chatgpt']})")
    try:
        run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "fetch"))
        assert len(user.apps.calls()) == calls_before + 1  # the app itself works as before
    finally:
        worker.evaluate("chrome.storage.local.set({disabledApps: []})")
    # Copies reach the host in order: once the next app's call is in, a copy of the first would be too.
    run_page(browser, user.apps.page_url("claude-web/completion", "fetch"))
    user.wait_for_new_events(before, 1)
    known = {event.id for event in before}
    assert [event.provider for event in user.events() if event.id not in known] == ["claude-web"]


def test_the_popup_shows_what_is_recorded_today(browser: BrowserContext, user: User) -> None:
    before = user.events()
    run_page(browser, user.apps.page_url("claude-web/completion", "fetch"))
    user.wait_for_new_events(before, 1)
    recorded = user.events()  # all of today, all web apps
    page = browser.new_page()
    try:
        page.goto(f"chrome-extension://{chromium_id()}/popup.html")
        page.wait_for_function("document.getElementById('today').textContent.includes('calls to AI web apps')")
        assert page.inner_text("#host").startswith("Recording to offgate.")
        cost = sum(event.cost_usd or 0.0 for event in recorded)
        assert page.inner_text("#today") == (f"{len(recorded)} calls to AI web apps, about ${cost:.4f} "
                                             "at API prices (estimated).")
        assert "Not stored:" in page.inner_text("body")
    finally:
        page.close()


def test_copies_wait_while_the_host_is_away_and_are_sent_when_it_is_back(browser: BrowserContext,
                                                                          user: User) -> None:
    worker = service_worker(browser)
    user_data_dir = user.home / "chromium-profile"
    before = user.events()
    user.run_offgate("extension", "uninstall", "--browser", "chromium", "--user-data-dir", str(user_data_dir))
    for host in host_processes(user):
        host.terminate()  # as the browser does; the host writes what it acknowledged first
        host.wait(30)
    # Asking for the status tries to reconnect: the host is gone, and so is its manifest.
    wait_for_status(worker, lambda status: "host not found" in (status["lastError"] or ""))
    run_page(browser, user.apps.page_url("claude-web/completion", "fetch"))
    assert wait_for_status(worker, lambda status: status["queued"] == 1)["connected"] is False
    user.install_host("chromium", "--user-data-dir", str(user_data_dir))
    assert wait_for_status(worker, lambda status: status["connected"] and status["queued"] == 0)
    (event,) = user.wait_for_new_events(before, 1)
    assert (event.provider, event.model) == ("claude-web", EXPECTED["claude-web/completion"].model)


def test_a_page_script_can_neither_forge_copies_nor_stop_the_real_one(browser: BrowserContext, user: User) -> None:
    """tests/support/hostile_page.js runs on the app's page after the tap: it dispatches the DOM events
    that used to carry copies and settings, offers a port of its own, and catches every port
    the tap posts on to send forged calls down it. Only the page's real call is recorded."""
    before = user.events()
    result = run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "fetch", hostile=True))
    assert result["status"] == 200
    # Copies reach the host in order: once a later page's call is in, a forged one would be too.
    run_page(browser, user.apps.page_url("claude-web/completion", "fetch"))
    user.wait_for_new_events(before, 2)
    wait_for_status(service_worker(browser), lambda status: status["queued"] == status["inFlight"] == 0)
    known = {event.id for event in before}
    new = [event for event in user.events() if event.id not in known]
    assert [event.id for event in new if event.id.startswith("forged")] == []
    assert sorted((event.provider, event.response_id) for event in new) == [
        ("chatgpt", EXPECTED["chatgpt/conversation_delta"].response_id),
        ("claude-web", EXPECTED["claude-web/completion"].response_id)]


def test_calls_made_while_the_host_is_killed_or_unavailable_are_recorded_once(browser: BrowserContext,
                                                                              user: User) -> None:
    """The host takes a copy and is killed before acknowledging it; the host the browser starts
    next cannot read its settings and answers "unavailable, retryable" to that copy and to the
    next page's; once the settings are fixed, each call is recorded exactly once."""
    worker = service_worker(browser)
    config = user.offgate_home / "config.toml"
    assert not config.exists()  # the default settings; the test breaks them, then takes them away
    before = user.events()
    (host,) = host_processes(user)
    host.suspend()  # it receives the copy but cannot answer
    run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "fetch"))
    wait_for_status(worker, lambda status: status["inFlight"] == 1)
    config.write_text("[proxy\n")  # the next host cannot read its settings
    try:
        host.kill()
        host.wait(30)
        run_page(browser, user.apps.page_url("claude-web/completion", "fetch"))
        # Both copies are kept, to be sent again, while the host says it cannot record them.
        wait_for_status(worker, lambda status: status["queued"] + status["inFlight"] == 2
                        and "not valid TOML" in (status["lastError"] or ""))
        assert len(user.events()) == len(before)
    finally:
        config.unlink()
    wait_for_status(worker, lambda status: status["queued"] == status["inFlight"] == 0, timeout=60)
    new = user.wait_for_new_events(before, 2)
    assert sorted(event.provider or "" for event in new) == ["chatgpt", "claude-web"]
    assert len(user.events()) == len(before) + 2


def host_processes(user: User) -> list[psutil.Process]:
    return [process for process in psutil.process_iter(["cmdline"])
            if "native_host" in (process.info["cmdline"] or []) and str(user.offgate_home) in process.info["cmdline"]]


def wait_for_status(worker: Worker, done: Callable[[dict], bool], timeout: float = 20) -> dict:
    """The worker's status once `done` holds (asking for it also reconnects a missing host)."""
    deadline = time.monotonic() + timeout
    while True:
        status = worker.evaluate("currentStatus()")
        if done(status):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
