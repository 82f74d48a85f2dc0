"""A call seen by both capture paths is recorded once, as the proxy's record: Chromium goes
through the real offgate proxy (which decrypts chatgpt.com and sends it on to the fake app
with map_remote) while the extension copies the same call to the native host. Both write the
one store, in whichever order they get there."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import sync_playwright

from tests.support.extension_e2e import (
    EXPECTED,
    User,
    chromium_extension_args,
    run_page,
    service_worker,
    throwaway_user,
)
from tests.support.proxy_harness import RunningProxy
from tests.support.web_apps import require, trust_in_nss

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

BOTH_PATHS_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    with throwaway_user(tmp_path_factory.mktemp("chromium-proxy")) as user:
        yield user


@pytest.fixture(scope="module")
def proxy(user: User) -> Iterator[RunningProxy]:
    to_apps = f"!^https://(chatgpt\\.com|claude\\.ai)/!https://127.0.0.1:{user.apps.port}/"
    running = RunningProxy(user.offgate_home, set_options=[f"map_remote={to_apps}", "ssl_insecure=true"]).start()
    yield running
    running.stop()


def test_a_call_seen_by_the_proxy_and_the_extension_is_recorded_once(user: User, proxy: RunningProxy) -> None:
    trust_in_nss(user.home / ".pki" / "nssdb", proxy.ca_file, "offgate-proxy-ca")
    user_data_dir = user.home / "chromium-profile"
    user.install_host("chromium", "--user-data-dir", str(user_data_dir))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=require("chromium"), headless=True, env=user.env,
            proxy={"server": proxy.url},
            args=chromium_extension_args(),
        )
        try:
            fixture = user.apps.fixtures["chatgpt/conversation_delta"]
            assert run_page(browser, user.apps.page_url("chatgpt/conversation_delta", "fetch"))["status"] == 200
            # Wait until each path has handed its record to the store.
            deadline = time.monotonic() + BOTH_PATHS_TIMEOUT_S
            writer = proxy.recorder.writer
            while writer.written < 1 or service_worker(browser).evaluate("currentStatus()")["recorded"] < 1:
                assert time.monotonic() < deadline, "one of the paths never recorded the call"
                time.sleep(0.1)
        finally:
            browser.close()
    (event,) = user.events()
    expected = EXPECTED["chatgpt/conversation_delta"]
    assert event.source == "proxy"
    assert (event.host, event.path, event.response_id) == (fixture.host, fixture.path, expected.response_id)
    assert (event.model, event.prompt_tokens, event.completion_tokens) == (expected.model, expected.prompt_tokens,
                                                                          expected.completion_tokens)
