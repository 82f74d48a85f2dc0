"""The VS Code extension in a real VS Code: code-server (from the npm registry, its version
pinned, installed once into a cached directory) with the extension in its extensions folder,
driven by Playwright in Debian's Chromium. The status bar shows today's figures from the real
dashboard, and a click opens the panel with the open alerts and recent calls."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Frame, Page, sync_playwright

from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.alerts import AlertStore
from tests.support.dashboard_world import TOKEN, fill, report_json, serving, use_store, utc_now
from tests.support.ports import free_port
from tests.support.report_page import CHROMIUM_ARGS
from tests.support.required import unavailable
from tests.support.serving import wait_until_healthy
from tests.support.web_apps import require

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CODE_SERVER_VERSION = "4.100.3"  # the newest line that runs on Debian's node 20
CACHE = Path(os.environ.get("OFFGATE_TEST_CACHE") or Path.home() / ".cache" / "offgate-tests")
# What code-server 4.100.3's VS Code locks: @vscode/ripgrep 1.15.11, which fetches ripgrep v13.0.0-10.
RIPGREP_PACKAGE, RIPGREP_RELEASE = "1.15.11", "v13.0.0-10"
EXTENSION = Path(__file__).resolve().parent.parent / "ide_extension"
WAIT_MS = 120_000  # code-server's first start in a fresh profile is slow


@pytest.fixture(scope="module")
def code_server() -> Path:
    """code-server's entry point, installed from the npm registry on first use."""
    prefix = CACHE / f"code-server-{CODE_SERVER_VERSION}"
    entry = prefix / "node_modules" / "code-server" / "out" / "node" / "entry.js"
    if (prefix / "installed").exists():
        return entry
    if shutil.which("npm") is None or shutil.which("node") is None:
        unavailable("node and npm are not installed", "code-server needs node and npm: apt-get install nodejs npm")
    if shutil.which("rg") is None:
        unavailable("ripgrep is not installed", "code-server's install needs Debian's ripgrep: apt-get install ripgrep")
    prefix.mkdir(parents=True, exist_ok=True)
    # Its postinstall builds VS Code's native modules (node-gyp: apt-get install build-essential
    # pkg-config python3 libkrb5-dev; node-pty's runs `npx node-gyp`, which must not ask) and
    # refuses to run as root unless told it may.
    installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix),
                                f"code-server@{CODE_SERVER_VERSION}"], capture_output=True, text=True, timeout=1800,
                               env={**os.environ, "npm_config_unsafe_perm": "true", "npm_config_yes": "true",
                                    "TMPDIR": str(_ripgrep_download_cache(prefix / "tmp"))})
    if installed.returncode != 0 or not entry.exists():
        problem = (f"npm could not install code-server@{CODE_SERVER_VERSION} (its native modules need "
                   f"build-essential, pkg-config, python3 and libkrb5-dev): {installed.stderr[-800:]}")
        unavailable(problem, problem)
    (prefix / "installed").touch()
    return entry


def _ripgrep_download_cache(tmp: Path) -> Path:
    """A temporary directory holding what @vscode/ripgrep's postinstall would download from
    GitHub (not reachable here): Debian's rg, where it looks for its cached download."""
    name = f"ripgrep-{RIPGREP_RELEASE}-x86_64-unknown-linux-musl.tar.gz"
    archive = tmp / f"vscode-ripgrep-cache-{RIPGREP_PACKAGE}" / name
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(shutil.which("rg") or "rg", arcname="rg")
    return tmp


@pytest.fixture
def editor(code_server: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """code-server with the extension and offgate's dashboard over a filled store; yields its URL and home."""
    home = tmp_path / "offgate-home"
    home.mkdir()
    database = f"sqlite:///{tmp_path / 'offgate.db'}"
    use_store(home, database)
    now = utc_now()
    fill(database, now)
    with Store.open(database) as store:
        store.add([UsageEvent(ts=max(now - timedelta(minutes=2), now.replace(hour=0, minute=0, second=0)),
                              route="direct", provider="anthropic", host="api.anthropic.com", path="/v1/messages",
                              model="claude-sonnet-4-5", prompt_tokens=2000, completion_tokens=300, cost_usd=0.42,
                              process_name="node")])
    (home / "dashboard-token").write_text(TOKEN + "\n")
    extensions, user_data, workspace = tmp_path / "extensions", tmp_path / "user-data", tmp_path / "workspace"
    shutil.copytree(EXTENSION, extensions / "offgate.offgate-0.1.0")
    workspace.mkdir()
    with serving(home) as dashboard:
        (user_data / "User").mkdir(parents=True)
        (user_data / "User" / "settings.json").write_text(json.dumps({
            "offgate.dashboardUrl": dashboard, "offgate.home": str(home), "workbench.startupEditor": "none",
            "security.workspace.trust.enabled": False}))
        port = free_port()
        process = subprocess.Popen(
            [shutil.which("node") or "node", str(code_server), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}",
             "--user-data-dir", str(user_data), "--extensions-dir", str(extensions), "--disable-telemetry",
             "--disable-update-check", str(workspace)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "OFFGATE_HOME": str(home)})
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(f"{url}/healthz", process, what="code-server", timeout=60, output=lambda: (
                process.stdout.read().decode(errors="replace")[-1500:]
                if process.poll() is not None and process.stdout else ""))
            yield url, home
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _frame_with(page: Page, text: str) -> Frame:
    """The webview's frame (nested inside code-server's) once it shows `text`."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if text in frame.content():
                    return frame
            except Exception:
                continue
        time.sleep(0.25)
    pytest.fail(f"no frame showed {text!r}")


def test_the_status_bar_and_panel_in_a_real_vs_code(editor: tuple[str, Path]) -> None:
    url, home = editor
    today = utc_now().replace(hour=0, minute=0, second=0)
    totals = report_json(home, "--since", today.isoformat())["totals"]
    calls = totals["managed_calls"] + totals["unmanaged_calls"]
    share = round(100 * totals["unmanaged_cost_usd"] / totals["total_cost_usd"])
    expected = f"{calls:,} calls · ${totals['total_cost_usd']:.2f} · {share}% unmanaged"
    with Store.open(f"sqlite:///{home.parent / 'offgate.db'}") as store:
        open_alerts = AlertStore(store).alerts(include_acked=False, limit=200)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require("chromium"), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            status = page.locator(".statusbar-item", has_text="unmanaged")
            status.wait_for()
            assert status.inner_text().strip() == expected
            status.click()
            panel = _frame_with(page, "Recent calls")
            shown = panel.content()
        finally:
            browser.close()
    assert f"Open alerts ({len(open_alerts)})" in shown
    for alert in open_alerts:
        assert f'data-alert="{alert.id}"' in shown
    assert "claude-sonnet-4-5" in shown and expected in shown
