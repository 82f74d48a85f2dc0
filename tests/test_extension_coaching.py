"""Coaching in the browser, end to end in Debian's Chromium with the real extension and host
(issue 15): the policy in config.toml coaches ChatGPT, blocks Microsoft Copilot and says
nothing of Claude (allowed). On a coached app's page the extension shows its notice, in a
closed shadow root, at most once per app per day; a blocked app's tab goes to the extension's
own page; the host stores every show and every click on the alternative's link.

Playwright's selectors do not enter closed shadow roots; the tests read the notice as the
browser renders it, through the DevTools protocol (DOM.getDocument with pierce)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from native_host.extension import chromium_id
from offgate.store import Store
from offgate.store.coaching import CoachingCount, CoachingStore
from tests.support.extension_e2e import User, chromium_with_extension, service_worker, throwaway_user

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

COMPANY_CHAT = "chat.company.test"
MESSAGE = "Please use the company's chat: it is approved for customer data."
POLICY = f"""
[[policy.rules]]
name = "coach chatgpt"
action = "coach"
app = "chatgpt"
message = "{MESSAGE}"
alternative_url = "https://{COMPANY_CHAT}/"

[[policy.rules]]
name = "no copilot"
action = "block"
app = "microsoft-copilot"
message = "Copilot's web chat is not approved for company data."
alternative_url = "https://{COMPANY_CHAT}/"
"""
NOTICE = f"A word from your company's AI policy {MESSAGE} Use the recommended tool Dismiss"
CHATGPT = "chatgpt/conversation_delta"
TIMEOUT_S = 20


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    with throwaway_user(tmp_path_factory.mktemp("coaching")) as user:
        user.ca.trust_in_nss(user.home / ".pki" / "nssdb")
        user.offgate_home.mkdir()
        (user.offgate_home / "config.toml").write_text(POLICY)
        yield user


@pytest.fixture(scope="module")
def browser(user: User) -> Iterator[BrowserContext]:
    with chromium_with_extension(user, COMPANY_CHAT) as context:
        yield context


@pytest.fixture(autouse=True)
def a_new_day(browser: BrowserContext) -> None:
    """No app has been coached today yet."""
    service_worker(browser).evaluate("chrome.storage.local.remove('coachedOn')")


def test_a_coached_app_shows_its_notice_at_most_once_a_day(browser: BrowserContext, user: User) -> None:
    before = counts(user)
    page = open_app(browser, user, CHATGPT, shown=True)
    assert wait_for_notice(page) == NOTICE
    page.close()
    assert wait_for_counts(user, before, shown=1, clicked=0)
    # The same day, on this app: the worker says no, so the page gets no notice.
    page = open_app(browser, user, CHATGPT, shown=False)
    assert notice(page) is None
    page.close()
    # The next day it shows again (the worker remembers the local day it last showed it).
    service_worker(browser).evaluate("chrome.storage.local.set({coachedOn: {chatgpt: '2000-01-01'}})")
    page = open_app(browser, user, CHATGPT, shown=True)
    assert wait_for_notice(page) == NOTICE
    page.close()
    assert wait_for_counts(user, before, shown=2, clicked=0)


def test_an_allowed_app_shows_no_notice(browser: BrowserContext, user: User) -> None:
    before = counts(user)
    page = open_app(browser, user, "claude-web/completion", shown=False)
    assert notice(page) is None
    assert page.evaluate("document.querySelector('offgate-notice')") is None
    page.close()
    assert counts(user) == before


def test_the_page_can_neither_read_nor_remove_the_notice_and_a_click_is_counted(browser: BrowserContext,
                                                                                 user: User) -> None:
    before = counts(user)
    page = open_app(browser, user, CHATGPT, shown=True)
    assert wait_for_notice(page) == NOTICE
    # page.evaluate runs in the page's own world, as the page's scripts do.
    seen = page.evaluate("""() => {
        const element = document.querySelector('offgate-notice');
        let attach;
        try { element.attachShadow({mode: 'open'}); attach = 'attached'; } catch (error) { attach = error.name; }
        const seen = {found: element !== null, shadowRoot: element.shadowRoot, html: element.innerHTML,
                      text: element.textContent, attach, inBody: document.body.innerText.includes('company')};
        element.remove();
        return seen;
    }""")
    assert seen == {"found": True, "shadowRoot": None, "html": "", "text": "", "attach": "NotSupportedError",
                    "inBody": False}
    # Removed by the page, it is put back: only the person dismisses it.
    page.wait_for_function("document.querySelector('offgate-notice') !== null")
    assert notice(page) == NOTICE
    # The link opens the alternative in a tab of its own (the fake apps' certificate does not
    # name it, so the tab shows an error; the request is what counts).
    with browser.expect_event("request", lambda request: request.url == f"https://{COMPANY_CHAT}/"), \
            browser.expect_page() as opened:
        click_in_notice(page, "a")
    opened.value.close()
    assert wait_for_counts(user, before, shown=1, clicked=1)
    click_in_notice(page, "button")
    page.wait_for_function("document.querySelector('offgate-notice') === null")
    assert notice(page) is None
    page.close()


def test_a_blocked_app_gives_way_to_the_extensions_page_saying_why(browser: BrowserContext, user: User) -> None:
    page = browser.new_page()
    page.goto(user.apps.page_url("microsoft-copilot/chat", "websocket"))
    page.wait_for_url(f"chrome-extension://{chromium_id()}/blocked.html?app=microsoft-copilot")
    page.wait_for_function("document.getElementById('message').textContent !== ''")
    assert page.inner_text("#why") == ('Your company\'s AI policy ("no copilot") blocks microsoft-copilot '
                                       "on this computer.")
    assert page.inner_text("#message") == "Copilot's web chat is not approved for company data."
    assert page.get_attribute("#alternative a", "href") == f"https://{COMPANY_CHAT}/"
    page.close()
    deadline = time.monotonic() + TIMEOUT_S
    while CoachingCount("microsoft-copilot", "no copilot", 1, 0) not in counts(user):
        assert time.monotonic() < deadline, counts(user)
        time.sleep(0.1)


# -- helpers -------------------------------------------------------------------------------


def open_app(browser: BrowserContext, user: User, fixture: str, *, shown: bool) -> Page:
    """Open an app's page; once the worker has answered its coaching question, which must say
    `shown`, and the page's own call is done."""
    worker = service_worker(browser)
    asked = worker.evaluate("state.coachAnswers.length")
    page = browser.new_page()
    page.goto(user.apps.page_url(fixture, "fetch"))
    page.wait_for_function("document.title === 'done'")
    app = fixture.partition("/")[0]
    deadline = time.monotonic() + TIMEOUT_S
    while (answers := worker.evaluate("state.coachAnswers").__getitem__(slice(asked, None))) == []:
        assert time.monotonic() < deadline, "the page never asked the worker for coaching"
        time.sleep(0.1)
    assert answers == [{"app": app, "shown": shown}]
    return page


def shadow_nodes(page: Page) -> list[dict[str, Any]] | None:
    """The nodes inside the notice's closed shadow root, depth first, or None without a notice."""
    cdp = page.context.new_cdp_session(page)
    try:
        document = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    finally:
        cdp.detach()

    def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("shadowRoots", []) + node.get("children", []):
            yield from walk(child)

    for node in walk(document):
        if node.get("localName") == "offgate-notice":
            (root,) = node["shadowRoots"]
            assert root["shadowRootType"] == "closed"
            return list(walk(root))
    return None


def notice(page: Page) -> str | None:
    """The notice's text as shown (its style sheet left out), or None without a notice."""
    nodes = shadow_nodes(page)
    if nodes is None:
        return None
    style = {child["backendNodeId"] for node in nodes if node.get("localName") == "style"
             for child in node.get("children", [])}
    return " ".join(node["nodeValue"] for node in nodes
                    if node["nodeType"] == 3 and node["backendNodeId"] not in style and node["nodeValue"].strip())


def wait_for_notice(page: Page) -> str | None:
    deadline = time.monotonic() + TIMEOUT_S
    while (text := notice(page)) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return text


def click_in_notice(page: Page, local_name: str) -> None:
    """Click the notice's first `local_name` element where it is on screen, as a person does."""
    (target,) = [node for node in shadow_nodes(page) or [] if node.get("localName") == local_name]
    cdp = page.context.new_cdp_session(page)
    try:
        quad = cdp.send("DOM.getBoxModel", {"backendNodeId": target["backendNodeId"]})["model"]["content"]
    finally:
        cdp.detach()
    page.mouse.click(sum(quad[0::2]) / 4, sum(quad[1::2]) / 4)


def counts(user: User) -> list[CoachingCount]:
    database = user.offgate_home / "offgate.db"
    if not database.exists():
        return []
    with Store.open(f"sqlite:///{database}") as store:
        return CoachingStore(store).counts()


def wait_for_counts(user: User, before: list[CoachingCount], *, shown: int, clicked: int) -> list[CoachingCount]:
    """The store's counts once they have grown by `shown` and `clicked` for the coach rule."""
    was = next((count for count in before if count.app == "chatgpt"), CoachingCount("chatgpt", "coach chatgpt", 0, 0))
    want = [CoachingCount("chatgpt", "coach chatgpt", was.shown + shown, was.clicked + clicked)]
    deadline = time.monotonic() + TIMEOUT_S
    while (now := [count for count in counts(user) if count.app == "chatgpt"]) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    assert now == want
    return now
