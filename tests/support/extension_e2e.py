"""What the Chromium and Firefox end-to-end tests share: a throw-away user with the host
installed by the real `offgate extension install`, the fake web apps, and the store the
host writes to."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, Worker, sync_playwright

from native_host.extension import EXTENSION_DIR
from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.web_apps import ThrowawayCA, WebApps, app_hostnames, require

EVENT_TIMEOUT_S = 20
WARM_UP_TIMEOUT_MS = 20_000


@dataclass
class User:
    """A throw-away user of the browser: HOME, offgate's home, the test CA and the apps."""

    home: Path
    offgate_home: Path
    ca: ThrowawayCA
    apps: WebApps

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home), "OFFGATE_HOME": str(self.offgate_home)}

    def run_offgate(self, *args: str) -> str:
        """Run the `offgate` command as this user would; returns its output."""
        done = subprocess.run([sys.executable, "-m", "offgate", *args], env=self.env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def install_host(self, browser: str, *extra: str) -> str:
        return self.run_offgate("extension", "install", "--browser", browser, *extra)

    def events(self) -> list[UsageEvent]:
        database = self.offgate_home / "offgate.db"
        if not database.exists():
            return []
        with Store.open(f"sqlite:///{database}") as store:
            return store.events()

    def wait_for_new_events(self, before: list[UsageEvent], count: int) -> list[UsageEvent]:
        """The events recorded since `before` was read, once there are `count` of them."""
        known = {event.id for event in before}
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while True:
            new = [event for event in self.events() if event.id not in known]
            if len(new) >= count or time.monotonic() > deadline:
                return new
            time.sleep(0.1)


def chromium_extension_args() -> list[str]:
    """Chromium loads the repository's extension, unpacked, and no other."""
    return [f"--disable-extensions-except={EXTENSION_DIR}", f"--load-extension={EXTENSION_DIR}"]


@contextmanager
def chromium_with_extension(user: User, *more_hosts: str) -> Iterator[BrowserContext]:
    """Headless Chromium with the extension, the host installed for its profile, the fake apps
    (and `more_hosts`) reached by name; yielded once the worker has said hello to the host."""
    chromium = require("chromium")
    user_data_dir = user.home / "chromium-profile"
    installed = user.install_host("chromium", "--user-data-dir", str(user_data_dir))
    assert f"{user_data_dir}/NativeMessagingHosts/dev.offgate.native_host.json" in installed
    rules = ", ".join(f"MAP {host} 127.0.0.1:{user.apps.port}" for host in [*app_hostnames(), *more_hosts])
    env: dict[str, str | float | bool] = {**user.env}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=chromium, headless=True, env=env,
            args=[*chromium_extension_args(), f"--host-resolver-rules={rules}"],
        )
        try:
            # The worker runs before its listeners are ready: wait until it has said hello to the host.
            status = service_worker(context).evaluate(f"""async () => {{
                const until = Date.now() + {WARM_UP_TIMEOUT_MS};
                for (;;) {{
                    const status = await currentStatus();
                    if (status.connected || Date.now() > until) return status;
                    await new Promise((wake) => setTimeout(wake, 100));
                }}
            }}""")
            assert status["connected"], status
            yield context
        finally:
            context.close()


def service_worker(context: BrowserContext) -> Worker:
    return context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")


def run_page(context: BrowserContext, url: str) -> dict:
    """Load a fake app's page in Chromium; what it got once its call is done."""
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_function("document.title === 'done' || document.title === 'failed'")
        return page.evaluate("window.offgateTestResult")
    finally:
        page.close()


@contextmanager
def throwaway_user(tmp: Path) -> Iterator[User]:
    ca = ThrowawayCA.make(tmp / "ca", app_hostnames())
    apps = WebApps(ca).start()
    try:
        home = tmp / "user"
        home.mkdir()
        yield User(home, tmp / "offgate-home", ca, apps)
    finally:
        apps.stop()


@dataclass(frozen=True)
class Expected:
    """What the catalog reads from a fixture's call; the tokens are tiktoken's offline estimates
    of the prompt and reply text (no web app reports usage)."""

    provider: str
    endpoint: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    response_id: str


EXPECTED = {
    "chatgpt/conversation_delta": Expected("chatgpt", "conversation", "gpt-5-instant", 17, 26,
                                           "a3f1c2d4-5b6e-4f70-8a91-b2c3d4e5f607"),
    "claude-web/completion": Expected("claude-web", "completion", "claude-sonnet-4-5-20250929", 24, 14,
                                      "chatcompl_01HqK7v2Zr9xWm3bT5nY8cPd"),
}
# Microsoft Copilot's session answers twice; its "mode" stands for the model.
EXPECTED_SESSION = [
    Expected("microsoft-copilot", "chat", "chat", 13, 26, "cunqiwyXHxKALffniSEnf"),
    Expected("microsoft-copilot", "chat", "reasoning", 13, 37, "ic1ekKWy3E2ZctSTqCLHT"),
]


def event_facts(event: UsageEvent) -> dict:
    """What the end-to-end tests check of an extension event (compare with `expected_facts`)."""
    return {
        "source": event.source, "route": event.route, "provider": event.provider, "endpoint": event.endpoint,
        "host": event.host, "path": event.path, "method": event.method, "status_code": event.status_code,
        "model": event.model, "prompt_tokens": event.prompt_tokens, "completion_tokens": event.completion_tokens,
        "tokens_estimated": event.tokens_estimated, "streamed": event.streamed, "response_id": event.response_id,
        "parse_status": event.parse_status, "parse_error": event.parse_error,
        "priced": event.cost_usd is not None and event.cost_usd > 0,
        "timed": event.duration_ms is not None and event.duration_ms > 0
        and (event.ttft_ms is None or event.ttft_ms <= event.duration_ms),
        "attributed": bool(event.process_name and event.user and event.device),
    }


def expected_facts(expected: Expected, *, host: str, path: str, method: str, status_code: int) -> dict:
    return {
        "source": "extension", "route": "direct", "provider": expected.provider, "endpoint": expected.endpoint,
        "host": host, "path": path, "method": method, "status_code": status_code,
        "model": expected.model, "prompt_tokens": expected.prompt_tokens,
        "completion_tokens": expected.completion_tokens, "tokens_estimated": True, "streamed": True,
        "response_id": expected.response_id, "parse_status": "ok", "parse_error": None,
        "priced": True, "timed": True, "attributed": True,
    }


def check_fetch_recorded(user: User, fixture_name: str, result: dict, calls_before: int,
                         events_before: list[UsageEvent], browser: str) -> UsageEvent:
    """What every browser's fetch test checks: the page got the app's answer untouched, the
    app got the page's request, and the store got one event from `browser`'s host."""
    fixture = user.apps.fixtures[fixture_name]
    assert result == {"status": 200, "text": fixture.response_body.decode()}
    (sent,) = user.apps.calls()[calls_before:]
    assert (sent.method, sent.path, sent.body) == ("POST", fixture.path, fixture.request_body)
    (event,) = user.wait_for_new_events(events_before, 1)
    assert event_facts(event) == expected_facts(EXPECTED[fixture_name], host=fixture.host, path=fixture.path,
                                                method="POST", status_code=200)
    assert browser in (event.process_name or "")  # the browser that started the host
    assert (event.request_bytes, event.response_bytes) == (len(fixture.request_body), len(fixture.response_body))
    return event
