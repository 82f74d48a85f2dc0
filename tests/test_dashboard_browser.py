"""The dashboard in real headless Chromium (Debian's, driven by Playwright): log in with the
token, the page's numbers are `offgate report --format json`'s, an alert is acknowledged
with a click, the live feed picks up a call made after the page loaded, a bad window is
explained, and an approver approves a held call from the approvals page (a non-approver is
told why not). A full-page screenshot is kept in $OFFGATE_TEST_ARTIFACTS (default: test-artifacts/
in the repository, which git ignores)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from analytics.report.values import count, percent
from offgate.cli import app as cli
from offgate.events import UsageEvent
from offgate.fingerprint import key_fingerprint, load_salt
from offgate.money import usd
from offgate.store import Store
from offgate.store.alerts import AlertStore
from offgate.store.approvals import APPROVED, PENDING
from offgate.store.workstation import FoundApp, WorkstationStore
from offgate.vocabulary import DIMENSIONS
from tests.support.approvals_world import BIG_CALL, OPUS, configure, held, stored
from tests.support.dashboard_world import TOKEN, fill, report_json, runner, serving, utc_now
from tests.support.report_page import CHROMIUM_ARGS, HOSTILE, TABLE_ROWS, exact
from tests.support.shell_homes import bash_home
from tests.support.web_apps import require
from workstation.shell_history import scan_shell_history

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = Path(os.environ.get("OFFGATE_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts")
WAIT_MS = 20_000  # the feed polls every 3 s


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    executable = require("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict]:
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    now = utc_now()
    raised = fill(url, now)
    with serving(tmp_path) as base:
        yield {"home": tmp_path, "base": base, "url": url, "alerts": raised, "now": now}


@pytest.fixture
def page(chromium: Browser, served: dict) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    served["requests"], served["dialogs"] = [], []
    page.on("request", lambda request: served["requests"].append(request.url))

    def dismissed(dialog: Dialog) -> None:
        served["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismissed)
    try:
        yield page
    finally:
        context.close()


def log_in_by_link(page: Page, base: str) -> None:
    page.goto(f"{base}/?token={TOKEN}")
    assert page.url == f"{base}/"  # the token left the address at once
    page.wait_for_selector("#summary [data-metric=total_cost_usd]")


def shown_report(page: Page) -> dict:
    return {
        "metrics": page.eval_on_selector_all(
            "#summary [data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value, e.textContent])"),
        "rows": page.eval_on_selector_all("#summary table[data-table=rows] tr[data-key]", TABLE_ROWS),
        "daily": page.eval_on_selector_all("#summary table[data-table=daily] tr[data-key]", TABLE_ROWS),
        "findings": page.eval_on_selector_all("#summary table[data-table=findings] tr[data-kind]",
                                              "trs => trs.map(tr => tr.dataset.kind)"),
    }


def check_numbers(page: Page, document: dict) -> None:
    shown = shown_report(page)
    metrics = {name: (exact(value), text) for name, value, text in shown["metrics"]}
    totals = document["totals"]
    for name, formatted in (("total_cost_usd", usd), ("managed_cost_usd", usd), ("unmanaged_cost_usd", usd),
                            ("coverage", percent), ("unmanaged_calls", count), ("spend_rows", count)):
        assert metrics[name] == (totals[name], formatted(totals[name])), name
    for kind, found in document["findings_by_kind"].items():
        assert metrics[f"findings.{kind}"][0] == found
    assert [(key, {field: exact(value) for field, value in fields.items()}) for key, fields in shown["rows"]] == [
        ("" if row["key"] is None else row["key"], {field: value for field, value in row.items() if field != "key"})
        for row in document["rows"]]
    assert [(key, {field: exact(value) for field, value in fields.items()}) for key, fields in shown["daily"]] == [
        (day["day"], {field: value for field, value in day.items() if field != "day"}) for day in document["daily"]]
    assert shown["findings"] == [finding["kind"] for finding in document["findings"]]


def test_log_in_and_see_the_reports_numbers(page: Page, served: dict) -> None:
    base, home = served["base"], served["home"]
    page.goto(f"{base}/")
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    assert page.inner_text("#login-problem") == "That is not this dashboard's token."
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("#summary[data-by=provider] [data-metric=total_cost_usd]")
    assert page.url == f"{base}/"
    check_numbers(page, report_json(home))

    assert page.eval_on_selector_all("#by option", "options => options.map(o => o.value)") == list(DIMENSIONS)
    page.select_option("#by", "user")
    page.wait_for_selector("#summary[data-by=user] [data-metric=total_cost_usd]")
    assert page.url == f"{base}/#since=30d&by=user"  # the view can be bookmarked
    check_numbers(page, report_json(home, "--by", "user"))

    page.wait_for_selector("table[data-table=apps] tr[data-key=claude-code]")
    apps = page.eval_on_selector_all("table[data-table=apps] tbody tr", """rows => rows.map(row =>
        [row.dataset.key, ...[...row.cells].map(cell => cell.textContent)])""")
    assert [app[:4] for app in apps] == [["", "(unknown)", "11", usd(0.0027)],
                                         ["claude-code", "claude-code", "1", usd(0.0015)]]
    page.wait_for_selector("table[data-table=processes] tr[data-key=node]")
    assert all(url.startswith(f"{base}/") for url in served["requests"]), served["requests"]  # nothing from elsewhere


OPENAI_KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno345"


def test_the_workstation_and_the_pricing_bases_are_the_reports(page: Page, served: dict, tmp_path: Path) -> None:
    now, home = served["now"], served["home"]
    hour_ago = now - timedelta(hours=1)
    shell = bash_home(tmp_path / "homes", "alice", [(hour_ago, "claude"), (hour_ago, "claude -p 'fix it'"),
                                                     (hour_ago, f"export OPENAI_API_KEY={OPENAI_KEY}")])
    with Store.open(served["url"]) as store:
        scan_shell_history(shell, store, now, salt=load_salt(home), device="ws-17")
        WorkstationStore(store).record_apps("ws-17", "alice", [FoundApp("cursor", "desktop-app", "desktop-entry",
                                                                        "cursor")], hour_ago)
    log_in_by_link(page, served["base"])
    page.wait_for_selector("#summary table[data-table=tool-runs] tr[data-key]")
    document = report_json(home)
    workstation = document["workstation"]
    assert [(run["tool"], run["runs"]) for run in workstation["tool_runs"]] == [("claude-code", 2)]
    shown_runs = page.eval_on_selector_all("#summary table[data-table=tool-runs] tr[data-key]", TABLE_ROWS)
    assert shown_runs == [[f"{run['day']}:claude-code", {"runs": "2"}] for run in workstation["tool_runs"]]
    keys = page.eval_on_selector_all("#summary table[data-table=shell-keys] tr[data-key]",
                                     "trs => trs.map(tr => [tr.dataset.key, tr.cells[0].textContent])")
    fingerprint = key_fingerprint(OPENAI_KEY, load_salt(home))
    assert keys == [[f"ws-17:{fingerprint}", "a raw OpenAI key was used in a shell on ws-17"]]
    apps = page.eval_on_selector_all("#summary table[data-table=inventory] tr[data-key]",
                                     "trs => trs.map(tr => [...tr.cells].map(cell => cell.textContent))")
    assert apps == [["cursor", "desktop-app", "1", "desktop-entry", f"{hour_ago:%Y-%m-%d %H:%M}",
                     f"{hour_ago:%Y-%m-%d %H:%M}", "new"]]
    bases = page.eval_on_selector_all("#summary table[data-table=pricing-bases] tr[data-key]", TABLE_ROWS)
    assert [(basis, {field: exact(value) for field, value in fields.items()}) for basis, fields in bases] == [
        (total["basis"], {"calls": total["calls"], "cost_usd": total["cost_usd"]})
        for total in document["pricing"]["bases"]]
    assert [total["calls"] for total in document["pricing"]["bases"]] == [2, 0, 0, 1]

    page.fill("#since", "1m")  # after the app was seen: it is out of the window; the runs count by whole day
    page.click("#view button[type=submit]")
    page.wait_for_selector("#summary[data-since='1m'] [data-metric=total_cost_usd]")
    recent = report_json(home, "--since", "1m")["workstation"]
    assert recent["apps"] == [] and page.locator("#summary table[data-table=inventory] tr[data-key]").count() == 0
    assert page.eval_on_selector_all("#summary table[data-table=tool-runs] tr[data-key]", TABLE_ROWS) == [
        [f"{run['day']}:{run['tool']}", {"runs": str(run["runs"])}] for run in recent["tool_runs"]]
    assert served["dialogs"] == []


def test_acknowledge_an_alert_from_the_page(page: Page, served: dict) -> None:
    log_in_by_link(page, served["base"])
    spike = served["alerts"][0]
    item = page.locator(f"#alerts li[data-alert-id='{spike.id}']")
    item.wait_for()
    assert page.locator("#alerts li").count() == 3 and page.inner_text("#alert-count") == "(3)"
    assert spike.message in item.inner_text()
    item.get_by_role("button", name="Acknowledge").click()
    item.wait_for(state="detached")
    assert page.locator("#alerts li").count() == 2 and page.inner_text("#alert-count") == "(2)"
    with Store.open(served["url"]) as store:
        stored = AlertStore(store).get(spike.id)
    assert (stored.acked, stored.acked_by) == (True, "dashboard")


def test_log_out_from_the_page_ends_the_session(page: Page, served: dict) -> None:
    base = served["base"]
    log_in_by_link(page, base)
    session = {cookie.get("name"): cookie.get("value") for cookie in page.context.cookies()}["offgate_dashboard"]
    assert session != TOKEN
    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("#token")
    assert page.url == f"{base}/" and page.context.cookies() == []
    ended = httpx.get(f"{base}/api/calls", headers={"Cookie": f"offgate_dashboard={session}"}, timeout=30)
    assert ended.status_code == 401  # a copy of the cookie opens nothing either


def test_the_live_feed_shows_a_call_made_after_the_page_loaded(page: Page, served: dict) -> None:
    log_in_by_link(page, served["base"])
    page.wait_for_selector("#feed tr[data-id=g-recent]")
    assert page.eval_on_selector_all("#feed tbody tr", "rows => rows.map(row => row.dataset.id)")[:3] == [
        "g-recent", "up-by-likeness", "u-unpriced"]

    with Store.open(served["url"]) as store:
        store.add([UsageEvent(id="live-1", ts=served["now"], provider="openai", host="api.openai.com",
                              path="/v1/chat/completions", model="gpt-4o", user="dana", device=HOSTILE,
                              process_name="curl", prompt_tokens=1234567, completion_tokens=89,
                              tokens_estimated=True, cost_usd=1234.5)])
    row = page.locator("#feed tr[data-id=live-1]")
    row.wait_for()
    assert page.eval_on_selector_all("#feed tbody tr", "rows => rows.map(row => row.dataset.id)")[0] == "live-1"
    cells = row.evaluate("row => Object.fromEntries([...row.cells].map(c => [c.dataset.field, c.textContent]))")
    assert cells == {"ts": served["now"].strftime("%Y-%m-%d %H:%M:%S"), "classification": "unmanaged",
                     "provider": "openai", "model": "gpt-4o", "app": "(unknown)", "process_name": "curl",
                     "user": "dana", "device": HOSTILE, "prompt_tokens": "~1,234,567",
                     "completion_tokens": "~89", "cost_usd": usd(1234.5)}

    assert served["dialogs"] == []  # the device's name stayed text

    page.wait_for_selector("table[data-table=processes] tr[data-key=node]")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_bad_window_is_explained_and_a_good_one_shown(page: Page, served: dict) -> None:
    log_in_by_link(page, served["base"])
    page.fill("#since", "yesterday")
    page.click("#view button[type=submit]")
    page.wait_for_selector("#problem:not([hidden])")
    assert page.inner_text("#problem") == ("Report: since: 'yesterday' is not a time: use a span like 30m, 1h, 7d, "
                                           "2w or an ISO 8601 time")
    assert page.locator("#summary [data-metric=total_cost_usd]").count() == 1  # the last report stays

    page.fill("#since", "1m")
    page.click("#view button[type=submit]")
    page.wait_for_selector("#summary[data-since='1m'] [data-metric=total_cost_usd]")
    page.wait_for_selector("#problem[hidden]", state="attached")
    assert page.get_attribute("#summary [data-metric=unmanaged_calls]", "data-value") == "0"  # nothing that new


def test_a_phone_sized_screen_needs_no_sideways_scrolling(chromium: Browser, served: dict) -> None:
    context = chromium.new_context(viewport={"width": 400, "height": 800})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        log_in_by_link(page, served["base"])
        page.wait_for_selector("#feed tr[data-id=g-recent]")
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-narrow.png"), full_page=True)

        context.clear_cookies()  # as if the token had changed: the next poll finds out
        page.wait_for_selector("#token")
        assert page.url == f"{served['base']}/"
    finally:
        context.close()


def open_approvals(chromium: Browser, home: Path, approver: str) -> Iterator[tuple[Page, str]]:
    configure(home, approver)
    held(home, BIG_CALL, OPUS)
    with serving(home) as base:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT_MS)
        try:
            page = context.new_page()
            page.goto(f"{base}/?token={TOKEN}")
            page.get_by_role("link", name="Approvals").click()
            page.wait_for_selector(f"#pending tr[data-id={BIG_CALL.request_id}]")
            yield page, base
        finally:
            context.close()


@pytest.fixture
def as_carol(chromium: Browser, tmp_path: Path) -> Iterator[tuple[Page, str]]:
    yield from open_approvals(chromium, tmp_path, "carol")


@pytest.fixture
def as_mallory(chromium: Browser, tmp_path: Path) -> Iterator[tuple[Page, str]]:
    yield from open_approvals(chromium, tmp_path, "mallory")


def test_an_approver_approves_a_held_call_from_the_approvals_page(as_carol: tuple[Page, str], tmp_path: Path) -> None:
    page, base = as_carol
    assert page.url == f"{base}/approvals"
    assert page.inner_text("#decider") == "You decide as carol."
    row = page.locator(f"#pending tr[data-id={BIG_CALL.request_id}]")
    cells = row.evaluate("row => Object.fromEntries([...row.cells].filter(c => c.dataset.field)"
                         ".map(c => [c.dataset.field, c.textContent]))")
    assert {name: cells[name] for name in ("user", "rule", "model", "estimated_cost_usd", "times_requested",
                                           "reason")} == {
        "user": "alice (data)", "rule": "big calls", "model": "gpt-4o", "estimated_cost_usd": usd(0.8),
        "times_requested": "1", "reason": BIG_CALL.reason}
    assert page.inner_text("#pending-count") == "(2)"

    row.get_by_label("How long the approval lasts: 30m, 24h, 7d").fill("2h")
    row.get_by_label("USD: the most a call may cost", exact=False).fill("1.5")
    row.get_by_label("Why, for the audit and the requester (optional)").fill("launch week")
    row.get_by_role("button", name="Approve").click()
    page.wait_for_selector(f"#recent tr[data-id={BIG_CALL.request_id}][data-status=approved]")
    assert page.inner_text("#decided").startswith(
        f"approved {BIG_CALL.request_id} (rule big calls, alice (data)) by carol until ")
    assert page.inner_text("#decided").endswith(", up to $1.50: launch week")
    assert page.locator("#pending tbody tr").count() == 1 and page.inner_text("#pending-count") == "(1)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "approvals.png"), full_page=True)

    listing = runner.invoke(cli, ["--home", str(tmp_path), "approvals", "list", "--all", "--audit"],
                            catch_exceptions=False)
    rows = {line.split()[1]: line.split()[3] for line in listing.stdout.splitlines() if line.startswith("│ ap-")}
    assert rows == {BIG_CALL.request_id: APPROVED, OPUS.request_id: PENDING}
    audit_rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in listing.stdout.splitlines()
                  if line.startswith("│ 20")]
    assert [row[1:4] for row in audit_rows] == [[BIG_CALL.request_id, "gateway hook", "requested"],
                                                [OPUS.request_id, "gateway hook", "requested"],
                                                [BIG_CALL.request_id, "carol", "approved"]]
    assert audit_rows[2][4].endswith(" UTC, up to $1.50, launch week") and "audit rows: 3" in listing.stdout
    requests, audit = stored(tmp_path)
    assert requests[BIG_CALL.request_id] == (APPROVED, "carol", 1.5, "launch week")
    [(request_id, actor, action, detail)] = audit[2:]
    assert (request_id, actor, action) == (BIG_CALL.request_id, "carol", "approved")
    assert detail.startswith("until ") and detail.endswith(" UTC, up to $1.50, launch week")


def test_a_non_approver_is_told_why_and_nothing_is_decided(as_mallory: tuple[Page, str], tmp_path: Path) -> None:
    page, _ = as_mallory
    assert page.inner_text("#decider") == (
        "You decide as mallory, who is not among the policy's approvers (carol, dan).")
    page.locator(f"#pending tr[data-id={OPUS.request_id}]").get_by_role("button", name="Deny").click()
    page.wait_for_selector("#problem:not([hidden])")
    assert page.inner_text("#problem") == (
        "Decision: mallory is not among the policy's approvers (carol, dan): set dashboard.approver in config.toml "
        "to an approver's name, or ask an approver")
    assert page.locator("#pending tbody tr").count() == 2 and page.locator("#decided").is_hidden()
    requests, audit = stored(tmp_path)
    assert {status for status, *_ in requests.values()} == {PENDING} and len(audit) == 2
