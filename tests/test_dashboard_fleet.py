"""The dashboard's fleet page: the devices with their health and state, and per team and per
person managed against unmanaged spend, as /api/fleet serves them and as real headless
Chromium reads the page (/fleet); the spend rows are `offgate report --by team|user`'s."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from offgate.money import usd
from offgate.store import Store
from offgate.store.people import People, Person
from tests.support.dashboard_world import TOKEN, fill, report_json, serving, utc_now
from tests.support.fleet_devices import device_row, enrol
from tests.support.report_page import CHROMIUM_ARGS, TABLE_ROWS, exact
from tests.support.web_apps import require

AUTH = {"Authorization": f"Bearer {TOKEN}"}
STATES = [("alice-laptop", "reporting"), ("bob-desktop", "silent"), ("carol-mac", "proxy silent"),
          ("dave-old", "revoked"), ("erin-new", "never reported")]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    now = utc_now()
    fill(url, now)
    with Store.open(url) as store:
        People(store).replace([Person("alice", litellm_user_id="alice@corp.example", team="platform"),
                               Person("bob", team="platform"), Person("carol", team="data")], "test")
    enrol(url, [
        device_row("alice-laptop", "alice", now - timedelta(minutes=2), proxy=now - timedelta(hours=1),
                   extension=now - timedelta(minutes=30)),
        device_row("bob-desktop", "bob", now - timedelta(days=3), proxy=now - timedelta(days=3)),
        device_row("carol-mac", "carol", now - timedelta(minutes=1), proxy=now - timedelta(days=5),
                   extension=now - timedelta(minutes=10), proxy_running=False),
        device_row("dave-old", "dave", now - timedelta(days=10), revoked_at=now - timedelta(days=9)),
        device_row("erin-new", None, None),
    ])
    return tmp_path


@pytest.fixture
def served(home: Path) -> Iterator[str]:
    with serving(home) as base:
        yield base


def test_the_fleet_as_json(home: Path, served: str) -> None:
    with httpx.Client(base_url=served, headers=AUTH, timeout=30) as client:
        fleet = client.get("/api/fleet").json()
        refused = httpx.get(f"{served}/api/fleet", timeout=30)
    assert [(device["name"], device["state"]) for device in fleet["devices"]] == STATES
    carol = fleet["devices"][2]
    assert (carol["owner"], carol["proxy_running"], carol["native_host_running"], carol["pending"],
            carol["records_stored"]) == ("carol", False, True, 0, 100)
    assert fleet["teams"] == report_json(home, "--by", "team")["rows"]
    assert fleet["people"] == report_json(home, "--by", "user")["rows"]
    assert {row["key"] for row in fleet["teams"]} == {"platform", "data"}
    assert "alice@corp.example" in {row["key"] for row in fleet["people"]}
    assert refused.status_code == 401


def test_the_page_wants_the_token(served: str) -> None:
    login = httpx.get(f"{served}/fleet", timeout=30)
    page = httpx.get(f"{served}/fleet", headers=AUTH, timeout=30)
    assert login.status_code == 200 and 'id="token"' in login.text and 'data-table="devices"' not in login.text
    assert page.status_code == 200
    assert '<tr data-key="carol-mac" data-state="proxy silent">' in page.text
    assert '<th class="number">unmanaged $</th>' in page.text


@pytest.mark.e2e
@pytest.mark.browser
def test_chromium_reads_the_fleet_page(home: Path, served: str) -> None:
    teams = report_json(home, "--by", "team")["rows"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require("chromium"), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{served}/?token={TOKEN}")
            page.click("text=Fleet")
            page.wait_for_selector("table[data-table=devices] tr[data-key]")
            assert page.url == f"{served}/fleet"
            states = page.eval_on_selector_all("table[data-table=devices] tr[data-key]",
                                               "trs => trs.map(tr => [tr.dataset.key, tr.dataset.state])")
            carol = page.inner_text("table[data-table=devices] tr[data-key=carol-mac] td[data-field=running]")
            shown_teams = page.eval_on_selector_all("table[data-table=teams] tr[data-key]", TABLE_ROWS)
            platform_cost = page.inner_text(
                "table[data-table=teams] tr[data-key=platform] td[data-field=unmanaged_cost_usd]")
        finally:
            browser.close()
    assert [tuple(state) for state in states] == STATES
    assert carol == "native host"  # its proxy is off
    fields = ("managed_calls", "managed_cost_usd", "unmanaged_calls", "unmanaged_cost_usd", "coverage")
    assert [(key, {field: exact(value) for field, value in shown.items()}) for key, shown in shown_teams] == [
        (row["key"], {field: row[field] for field in fields}) for row in teams]
    platform = next(row for row in teams if row["key"] == "platform")
    assert platform_cost == usd(platform["unmanaged_cost_usd"])
