"""The HTML report in real headless Chromium (Debian's, driven by Playwright): the numbers on
the page are the JSON report's, it fetches nothing, and text from the calls stays text."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from analytics.reconcile import reconcile
from analytics.report.values import count, percent
from offgate.cli import app
from offgate.config import ReconcileSettings
from offgate.money import usd
from offgate.store import Store
from offgate.store.spend import SpendLog
from tests.support.reconcile_data import NOW, direct_call, world
from tests.support.report_page import CHROMIUM_ARGS, HOSTILE, TABLE_ROWS, exact
from tests.support.web_apps import require

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def reports(tmp_path) -> tuple[dict, str]:
    events, rows = world()
    events.append(direct_call("u-hostile", 650, user=HOSTILE, process_name="<b>bold</b>", cost_usd=0.0003))
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add(events)
        SpendLog(store).add(rows, "file")
        reconcile(store, ReconcileSettings(), since=None, now=NOW)
    arguments = ["--home", str(tmp_path), "report", "--since", "2026-01-05T00:00:00", "--by", "user"]
    document = json.loads(runner.invoke(app, [*arguments, "--format", "json"], catch_exceptions=False).stdout)
    page = tmp_path / "report.html"
    written = runner.invoke(app, [*arguments, "--format", "html", "--out", str(page)], catch_exceptions=False)
    assert written.exit_code == 0, written.output
    return document, page.as_uri()


def read_page(url: str) -> dict:
    chromium = require("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            requests: list[str] = []
            dialogs: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(url)
            return {
                "requests": requests,
                "dialogs": dialogs,
                "metrics": page.eval_on_selector_all(
                    "[data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value, e.textContent])"),
                "rows": page.eval_on_selector_all("table[data-table=rows] tr[data-key]", TABLE_ROWS),
                "daily": page.eval_on_selector_all("table[data-table=daily] tr[data-key]", TABLE_ROWS),
                "findings": page.eval_on_selector_all("table[data-table=findings] tr[data-kind]",
                                                      "trs => trs.map(tr => tr.dataset.kind)"),
                "charts": page.eval_on_selector_all("svg[data-chart]", "svgs => svgs.map(s => s.dataset.chart)"),
                "coverage": page.eval_on_selector_all("svg[data-chart=coverage] rect",
                                                      "rs => rs.map(r => [r.dataset.kind, r.dataset.value])"),
                "text": page.inner_text("body"),
                "scripts": page.eval_on_selector_all("script", "s => s.length"),
            }
        finally:
            browser.close()


def test_the_page_shows_the_json_reports_numbers(reports):
    document, url = reports
    page = read_page(url)
    totals = document["totals"]
    metrics = {name: (exact(value), text) for name, value, text in page["metrics"]}
    for name, shown in (("total_cost_usd", usd), ("managed_cost_usd", usd), ("unmanaged_cost_usd", usd),
                        ("coverage", percent), ("unmanaged_calls", count), ("spend_rows", count)):
        assert metrics[name] == (totals[name], shown(totals[name])), name
    for kind, found in document["findings_by_kind"].items():
        assert metrics[f"findings.{kind}"][0] == found
    for name, value in document["estimated"].items():
        if name != "notes":
            assert metrics[f"estimated.{name}"][0] == value, name

    assert [(key, {field: exact(value) for field, value in fields.items()}) for key, fields in page["rows"]] == [
        ("" if row["key"] is None else row["key"], {field: value for field, value in row.items() if field != "key"})
        for row in document["rows"]]
    assert [(key, {field: exact(value) for field, value in fields.items()}) for key, fields in page["daily"]] == [
        (day["day"], {field: value for field, value in day.items() if field != "day"}) for day in document["daily"]]
    assert page["findings"] == [finding["kind"] for finding in document["findings"]]
    assert page["charts"] == ["coverage", "daily", "by"]
    assert [(kind, exact(value)) for kind, value in page["coverage"]] == [
        ("managed", totals["managed_cost_usd"]), ("unmanaged", totals["unmanaged_cost_usd"])]


def test_the_page_fetches_nothing_and_runs_nothing(reports):
    _, url = reports
    page = read_page(url)
    assert page["requests"] == [url]
    assert page["dialogs"] == [] and page["scripts"] == 0
    assert HOSTILE in page["text"] and "<b>bold</b>" in page["text"]  # shown as the text it is
