"""The dashboard's HTTP side against a real store, served by aiohttp on loopback: the token,
the JSON API (the report's numbers, the live feed, alerts, what was seen, findings),
/metrics, /proxy.pac, bad input and a store that is down; and `offgate dashboard` itself."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from analytics.dashboard import DashboardError, create_app, dashboard_token, exposure_warning
from analytics.dashboard.api import CALL_FIELDS
from analytics.dashboard.auth import MAX_SESSIONS, Sessions
from offgate.cli import app as cli
from offgate.config import load_settings
from offgate.events import UsageEvent
from offgate.pac import render_pac
from offgate.store import Store
from offgate.store.alerts import AlertStore
from offgate.store.queries import CallQueries
from tests.support.dashboard_world import (
    PROXY_ADDRESS,
    TOKEN,
    fill,
    report_json,
    runner,
    serving,
    use_store,
    utc_now,
    without_times,
    world_events,
)
from tests.support.reconcile_data import GATEWAY_HOST

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GATEWAY = f"https://{GATEWAY_HOST}"
PROTECTED = [("GET", "/api/summary"), ("GET", "/api/calls"), ("GET", "/api/alerts"), ("GET", "/api/apps"),
             ("GET", "/api/processes"), ("GET", "/api/findings"), ("GET", "/metrics"), ("GET", "/parts/summary"),
             ("POST", "/api/alerts/0123456789/ack"), ("GET", "/api/no-such-thing"), ("GET", "/api/session"),
             ("GET", "/api/approvals"), ("POST", "/api/approvals/ap-0123456789/approve"),
             ("POST", "/api/approvals/ap-0123456789/deny")]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(f'[proxy]\ngateways = ["{GATEWAY}"]\n', encoding="utf-8")
    return tmp_path


@pytest.fixture
def world(home: Path) -> dict:
    """The home's store filled; what went in."""
    now = utc_now()
    raised = fill(f"sqlite:///{home / 'offgate.db'}", now)
    return {"now": now, "alerts": raised, "events": world_events(now)}


@pytest.fixture
def client(home: Path, world: dict) -> Iterator[httpx.Client]:
    with serving(home) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"offgate_dashboard={value}"}


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["error"]


# -- the token ------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_but_the_login_wants_the_token(client: httpx.Client, method: str, path: str) -> None:
    attempts: tuple[dict[str, Any], ...] = (
        {}, {"headers": {"Authorization": "Bearer wrong-token"}}, {"headers": {"Authorization": f"Basic {TOKEN}"}},
        {"headers": cookie("wrong")}, {"headers": cookie(TOKEN[:-1])})
    for credentials in attempts:
        client.cookies.clear()
        response = client.request(method, path, **credentials)
        assert "log in with the dashboard's token" in error_of(response, 401), credentials
        assert response.headers["www-authenticate"] == 'Bearer realm="offgate"'
    client.cookies.clear()
    assert client.request(method, path, headers=AUTH).status_code != 401
    assert client.request(method, path, headers=cookie(TOKEN)).status_code == 401  # the token is no cookie
    assert client.request(method, path, headers=cookie(logged_in_session(client))).status_code != 401


def logged_in_session(client: httpx.Client) -> str:
    """Log in with the token; the session value the cookie holds (kept off the client)."""
    answer = client.get("/", params={"token": TOKEN})
    assert answer.status_code == 303, answer.text
    client.cookies.clear()
    return answer.cookies["offgate_dashboard"]


def test_the_token_link_logs_in_once_and_leaves_the_address(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'name="token"' in page.text and 'id="feed"' not in page.text

    wrong = client.get("/", params={"token": "nope"})
    assert wrong.status_code == 401 and "is not this dashboard's" in unescape(wrong.text)
    assert "offgate_dashboard" not in client.cookies

    link = client.get("/", params={"token": TOKEN})
    assert (link.status_code, link.headers["location"]) == (303, "/")
    cookie = link.headers["set-cookie"]
    session = link.cookies["offgate_dashboard"]
    assert TOKEN not in cookie and len(session) >= 40  # a session of its own, not the token
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} <= {part.strip() for part in cookie.split(";")}
    again = client.get("/", params={"token": TOKEN})
    assert again.cookies["offgate_dashboard"] != session  # each login, a session of its own
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and 'id="feed"' in dashboard.text
    assert client.get("/api/calls").status_code == 200  # the cookie opens the API too
    assert link.headers["referrer-policy"] == "same-origin"


def test_the_login_form(client: httpx.Client) -> None:
    for given in ("", "wrong", TOKEN + "x"):
        refused = client.post("/login", data={"token": given})
        assert refused.status_code == 401 and "That is not this dashboard's token." in unescape(refused.text)
    assert client.post("/login").status_code == 401  # no field at all
    accepted = client.post("/login", data={"token": f" {TOKEN}\n"})  # pasted with the newline
    assert (accepted.status_code, accepted.headers["location"]) == (303, "/")
    assert 'id="feed"' in client.get("/").text


def test_a_post_from_another_site_is_refused(client: httpx.Client, world: dict) -> None:
    alert_id = world["alerts"][0].id
    client.cookies.set("offgate_dashboard", logged_in_session(client))
    refused = client.post(f"/api/alerts/{alert_id}/ack", headers={"Origin": "http://evil.example"})
    assert error_of(refused, 403) == "requests from other sites are refused"
    assert error_of(client.post("/login", data={"token": TOKEN}, headers={"Origin": "null"}), 403)
    assert len(client.get("/api/alerts").json()["alerts"]) == 3  # nothing was acknowledged
    same = client.post(f"/api/alerts/{alert_id}/ack", headers={"Origin": str(client.base_url).rstrip("/")})
    assert same.status_code == 200 and same.json()["acked"] is True


def test_logging_out_ends_the_session_on_the_server(client: httpx.Client) -> None:
    session = logged_in_session(client)
    other = logged_in_session(client)
    assert client.get("/api/calls", headers=cookie(session)).status_code == 200
    out = client.post("/logout", headers=cookie(session))
    assert (out.status_code, out.headers["location"]) == (303, "/")
    assert out.headers["set-cookie"].startswith('offgate_dashboard="";')  # the browser forgets it
    assert "log in with the dashboard's token" in error_of(client.get("/api/calls", headers=cookie(session)), 401)
    assert 'name="token"' in client.get("/", headers=cookie(session)).text  # the login page
    assert client.get("/api/calls", headers=cookie(other)).status_code == 200  # another login lives on
    assert client.post("/logout").status_code == 303  # without a session: nothing to end


def test_a_session_expires_on_the_server() -> None:
    now = [1000.0]
    sessions = Sessions(lifetime_s=60, clock=lambda: now[0])
    session = sessions.open()
    now[0] += 59
    assert sessions.is_open(session)
    now[0] += 1
    assert not sessions.is_open(session)
    assert not sessions.is_open("") and not sessions.is_open(TOKEN)


def test_logging_in_again_and_again_keeps_only_the_newest_sessions() -> None:
    sessions = Sessions()
    opened = [sessions.open() for _ in range(MAX_SESSIONS + 5)]
    assert [sessions.is_open(value) for value in opened] == [False] * 5 + [True] * MAX_SESSIONS


@pytest.mark.parametrize("host", ["evil.example.com:{port}", "127.0.0.1.nip.io:{port}", "localhost:1",
                                  "127.0.0.1", "localhost.:{port}", "127.0.0.1:{port}@evil.example.com"])
def test_a_request_for_another_host_name_is_refused(client: httpx.Client, host: str) -> None:
    """DNS rebinding: another site's name pointed at 127.0.0.1 reads nothing, not even the PAC file."""
    named = {"Host": host.format(port=client.base_url.port)}
    for path in ("/proxy.pac", "/", "/static/dashboard.js"):
        assert "does not answer to the Host" in error_of(client.get(path, headers=named), 421), path
    assert error_of(client.get("/api/calls", headers={**named, **AUTH}), 421)
    assert error_of(client.post("/login", data={"token": TOKEN}, headers=named), 421)


def test_the_names_it_listens_on_are_served(home: Path, world: dict) -> None:
    (home / "config.toml").write_text('[dashboard]\nlisten_host = "Dash.Internal"\n', encoding="utf-8")
    with serving(home) as base, httpx.Client(base_url=base, timeout=30) as client:
        port = client.base_url.port
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}", f"[::1]:{port}",
                     f"dash.internal:{port}"):
            assert client.get("/proxy.pac", headers={"Host": host}).status_code == 200, host


def test_the_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    token = dashboard_token(tmp_path)
    path = tmp_path / "dashboard-token"
    assert len(token) >= 40 and path.read_text() == f"{token}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert dashboard_token(tmp_path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened again
    path.write_text("")
    with pytest.raises(DashboardError, match="does not hold a dashboard token: delete it"):
        dashboard_token(tmp_path)
    path.unlink()
    assert dashboard_token(tmp_path) != token


@pytest.mark.parametrize(("host", "exposed"), [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("localhost", False),
    ("0.0.0.0", True), ("::", True), ("192.168.1.20", True), ("dashboard.example.com", True),
])
def test_listening_beyond_loopback_is_warned_about(host: str, exposed: bool) -> None:
    warning = exposure_warning(host)
    assert warning == (f"the dashboard listens on {host}, beyond this machine, over plain HTTP" if exposed else None)


def test_an_unusable_home_says_so(tmp_path: Path) -> None:
    (tmp_path / "dashboard-token").mkdir()
    with pytest.raises(DashboardError, match="cannot use .*dashboard-token: Is a directory"):
        dashboard_token(tmp_path)
    with pytest.raises(DashboardError, match="cannot use .*dashboard-token: No such file or directory"):
        dashboard_token(tmp_path / "missing")


# -- the JSON API -----------------------------------------------------------------------------


@pytest.fixture
def any_store_home(home: Path, store_url: str) -> Path:
    """The home, its store on each backend, filled."""
    use_store(home, store_url)
    fill(store_url, utc_now())
    return home


def test_summary_is_what_the_report_prints(any_store_home: Path) -> None:
    home = any_store_home
    since = (utc_now() - timedelta(days=2)).isoformat()
    with serving(home) as base, httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        default = client.get("/api/summary").json()
        by_user = client.get("/api/summary", params={"since": since, "by": "user"}).json()
        by_process = client.get("/api/summary", params={"by": "process", "since": "30d"}).json()
        filtered = client.get("/api/summary", params=[("by", "user"), ("device", "bob-desktop,carol-mac"),
                                                      ("user", "bob"), ("user", "carol")]).json()
        too_long = client.get("/api/summary", params={"device": "d" * 201})
    assert without_times(default) == without_times(report_json(home))
    assert without_times(filtered) == without_times(report_json(home, "--by", "user", "--device", "bob-desktop",
                                                                "--device", "carol-mac", "--user", "bob,carol"))
    assert (filtered["devices"], filtered["users"]) == (["bob-desktop", "carol-mac"], ["bob", "carol"])
    assert (filtered["totals"]["captured_calls"], [row["key"] for row in filtered["rows"]]) == (3, ["bob", "carol"])
    assert (too_long.status_code, too_long.json()["error"]) == (400, "device: a name is at most 200 characters")
    assert (default["by"], default["totals"]["captured_calls"], default["totals"]["unmanaged_calls"]) == (
        "provider", 12, 3)
    assert default["findings_by_kind"] == {"unlogged_gateway_call": 1, "cost_mismatch": 1, "spend_not_captured": 1}
    expected = report_json(home, "--since", since, "--by", "user")
    assert by_user["since"] == expected["since"]
    assert {**by_user, "generated_at": None, "until": None} == {**expected, "generated_at": None, "until": None}
    assert without_times(by_process) == without_times(report_json(home, "--by", "process"))


def test_the_newest_calls_with_what_a_person_needs(client: httpx.Client, home: Path, world: dict) -> None:
    calls = client.get("/api/calls", params={"limit": 3}, headers=AUTH).json()["calls"]
    assert [call["id"] for call in calls] == ["g-recent", "up-by-likeness", "u-unpriced"]
    assert all(tuple(call) == CALL_FIELDS for call in calls)  # no path, no prompt, no key
    newest = calls[0]
    assert (newest["classification"], newest["reconciled"], newest["route"], newest["user"], newest["cost_usd"],
            newest["prompt_tokens"]) == ("gateway", True, "gateway", "alice", 0.00021, 1000)
    assert newest["ts"] == world["events"][6].ts.isoformat()
    assert calls[1]["classification"] == "gateway-upstream" and calls[2]["classification"] == "unmanaged"

    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        store.add([UsageEvent(id="live-1", ts=world["now"], provider="openai", host="api.openai.com",
                              path="/v1/chat/completions", model="gpt-4o-mini", cost_usd=0.0003, user="dana")])
    calls = client.get("/api/calls", headers=AUTH).json()["calls"]
    assert len(calls) == 13 and calls[0]["id"] == "live-1"
    assert (calls[0]["classification"], calls[0]["reconciled"]) == ("unmanaged", False)  # by its route, for now


def test_latest_calls_on_each_backend(store_url: str) -> None:
    now = utc_now()
    fill(store_url, now)
    with Store.open(store_url) as store:
        store.add([UsageEvent(id="tie", ts=world_events(now)[6].ts, route="gateway", host=GATEWAY_HOST, path="/")])
        latest = CallQueries(store).latest_calls(4)
    assert [(call.event.id, call.classification, call.reconciled) for call in latest] == [
        ("tie", "gateway", False), ("g-recent", "gateway", True), ("up-by-likeness", "gateway-upstream", True),
        ("u-unpriced", "unmanaged", True)]  # one time: the larger id first, as the order is stable
    assert latest[1].event.ts == world_events(now)[6].ts and latest[1].event.ts.tzinfo is UTC
    assert (latest[1].event.tokens_estimated, latest[1].event.prompt_tokens) == (False, 1000)


def test_alerts_are_listed_and_acknowledged(client: httpx.Client, home: Path, world: dict) -> None:
    client.headers.update(AUTH)
    spike, first_seen, budget = world["alerts"]
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        stored = {alert.id: alert.to_json() for alert in AlertStore(store).alerts()}
    listed = client.get("/api/alerts").json()["alerts"]
    assert [alert["id"] for alert in listed] == [budget.id, first_seen.id, spike.id]  # newest first
    assert listed == [stored[alert["id"]] for alert in listed]

    acked = client.post(f"/api/alerts/{spike.id}/ack", json={"by": "pat"})
    assert acked.status_code == 200
    assert (acked.json()["id"], acked.json()["acked"], acked.json()["acked_by"]) == (spike.id, True, "pat")
    assert [alert["id"] for alert in client.get("/api/alerts").json()["alerts"]] == [budget.id, first_seen.id]
    everything = client.get("/api/alerts", params={"all": "1"}).json()["alerts"]
    assert [(alert["id"], alert["acked"]) for alert in everything] == [
        (budget.id, False), (first_seen.id, False), (spike.id, True)]
    assert client.post(f"/api/alerts/{spike.id}/ack").json()["acked_by"] == "pat"  # the first one stands
    assert client.post(f"/api/alerts/{budget.id}/ack").json()["acked_by"] == "dashboard"
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        assert AlertStore(store).get(budget.id).acked_by == "dashboard"

    assert error_of(client.post("/api/alerts/nope/ack"), 404) == "no alert has the id 'nope'"


def test_apps_and_processes_seen(client: httpx.Client, world: dict) -> None:
    client.headers.update(AUTH)
    events = world["events"]
    for path, name, field in (("/api/apps", "apps", "app"), ("/api/processes", "processes", "process_name")):
        seen = client.get(path).json()[name]
        assert {entry["name"] for entry in seen} == {getattr(event, field) for event in events}
        for entry in seen:
            mine = [event for event in events if getattr(event, field) == entry["name"]]
            assert entry["calls"] == len(mine)
            assert entry["cost_usd"] == pytest.approx(sum(event.cost_usd or 0 for event in mine))
            assert entry["first_seen"] == min(event.ts for event in mine).isoformat()
            assert entry["last_seen"] == max(event.ts for event in mine).isoformat()
    apps = {entry["name"]: entry for entry in client.get("/api/apps").json()["apps"]}
    assert (apps["claude-code"]["calls"], apps["claude-code"]["estimated_calls"]) == (1, 1)
    assert (apps[None]["calls"], apps[None]["unpriced_calls"]) == (11, 2)  # calls from no known app
    later = (world["now"] - timedelta(minutes=5)).isoformat()
    assert [entry["name"] for entry in client.get("/api/processes", params={"since": later}).json()["processes"]] \
        == ["python3"]  # only g-recent is that new


def test_findings(client: httpx.Client, home: Path, world: dict) -> None:
    client.headers.update(AUTH)
    found = client.get("/api/findings").json()["findings"]
    assert {(f["kind"], f["event_id"], f["request_id"]) for f in found} == {
        ("unlogged_gateway_call", "g-unlogged", None), ("cost_mismatch", "g-mismatch", "chatcmpl-5"),
        ("spend_not_captured", None, "chatcmpl-8")}
    assert found == report_json(home)["findings"]
    assert client.get("/api/findings", params={"since": world["now"].isoformat()}).json() == {"findings": []}


@pytest.mark.parametrize(("path", "params", "message"), [
    ("/api/summary", {"since": "yesterday"},
     "since: 'yesterday' is not a time: use a span like 30m, 1h, 7d, 2w or an ISO 8601 time"),
    ("/api/summary", {"since": ""}, "since: '' is not a time"),
    ("/api/summary", {"by": "colour"}, "by: 'colour' is not one of user, device, app, provider, model, key, process"),
    ("/parts/summary", {"by": "colour"}, "by: 'colour' is not one of"),
    ("/api/calls", {"limit": "0"}, "limit: '0' is not a whole number from 1 to 1000"),
    ("/api/calls", {"limit": "1001"}, "limit: '1001' is not a whole number from 1 to 1000"),
    ("/api/calls", {"limit": "ten"}, "limit: 'ten' is not a whole number"),
    ("/api/calls", {"limit": "-5"}, "limit: '-5' is not a whole number"),
    ("/api/alerts", {"all": "maybe"}, "all: 'maybe' is not one of 1, true, yes, 0, false, no"),
    ("/api/alerts", {"limit": "99999999"}, "limit: '99999999' is not a whole number from 1 to 1000"),
    ("/api/apps", {"since": "3 days"}, "since: '3 days' is not a time"),
    ("/api/findings", {"since": "2026-13-01"}, "since: '2026-13-01' is not a time"),
])
def test_bad_query_values_are_400(client: httpx.Client, path: str, params: dict, message: str) -> None:
    assert error_of(client.get(path, params=params, headers=AUTH), 400).startswith(message)


def test_a_bad_acknowledgement_body_is_400_and_acknowledges_nothing(client: httpx.Client, world: dict) -> None:
    client.headers.update(AUTH)
    path = f"/api/alerts/{world['alerts'][0].id}/ack"
    assert error_of(client.post(path, content=b"{nope"), 400) == 'the body must be JSON, e.g. {"by": "alice"}'
    for body in ({"by": ""}, {"by": 7}, {"by": "x" * 201}, ["pat"]):
        assert error_of(client.post(path, json=body), 400).startswith('"by" must be a name of 1 to 200 characters')
    assert len(client.get("/api/alerts").json()["alerts"]) == 3


def test_unknown_paths_and_methods_answer_json(client: httpx.Client) -> None:
    assert error_of(client.get("/api/no-such-thing", headers=AUTH), 404) == "Not Found"
    assert error_of(client.delete("/api/calls", headers=AUTH), 405) == "Method Not Allowed"
    assert error_of(client.get("/static/secrets.txt"), 404) == "Not Found"


def test_an_unexpected_failure_is_500_and_the_dashboard_goes_on(client: httpx.Client,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, limit: int) -> list:
        raise RuntimeError("a bug")

    monkeypatch.setattr("offgate.store.queries.CallQueries.latest_calls", broken)
    assert error_of(client.get("/api/calls", headers=AUTH), 500) == "the dashboard failed to answer: its log says why"
    assert client.get("/api/alerts", headers=AUTH).status_code == 200


# -- /metrics ---------------------------------------------------------------------------------


def test_metrics_are_the_reports_numbers_and_the_open_alerts(client: httpx.Client, home: Path) -> None:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(response.text) for sample in family.samples}
    report = report_json(home)
    totals = report["totals"]

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert [value("offgate_calls", classification=name) for name in ("gateway", "gateway-upstream", "unmanaged")] \
        == [7, 2, 3]
    assert value("offgate_cost_usd", side="managed") == totals["managed_cost_usd"]
    assert value("offgate_cost_usd", side="unmanaged") == totals["unmanaged_cost_usd"] == pytest.approx(0.0021)
    assert value("offgate_coverage_ratio") == totals["coverage"]
    assert {labels[0][1]: v for (name, labels), v in samples.items() if name == "offgate_unmanaged_calls"} == {
        "anthropic": 1, "openai": 2, "litellm": 0}
    assert value("offgate_unmanaged_cost_usd", provider="anthropic") == pytest.approx(0.0015)
    assert [value("offgate_findings", kind=kind) for kind in report["findings_by_kind"]] == [1, 1, 1]
    assert value("offgate_unreconciled_calls") == 0
    assert value("offgate_unpriced_spend_rows") == totals["unpriced_spend_rows"] == 0
    assert [value("offgate_open_alerts", severity=s) for s in ("info", "warning", "critical")] == [1, 1, 1]

    client.post("/api/alerts/" + client.get("/api/alerts", headers=AUTH).json()["alerts"][0]["id"] + "/ack",
                headers=AUTH)
    again = client.get("/metrics", headers=AUTH).text
    assert 'offgate_open_alerts{severity="critical"} 0.0' in again  # read from the store on every scrape


# -- the PAC file -------------------------------------------------------------------------------


def test_the_pac_file_needs_no_token(client: httpx.Client) -> None:
    response = client.get("/proxy.pac")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ns-proxy-autoconfig; charset=utf-8"
    assert response.text == render_pac(PROXY_ADDRESS, [GATEWAY])
    assert GATEWAY_HOST in response.text  # the configured gateway is sent to the proxy too


def test_a_bad_proxy_address_is_refused_at_once(home: Path) -> None:
    with pytest.raises(ValueError, match="proxy address 'nowhere' must be HOST:PORT"):
        create_app(home, load_settings(home), TOKEN, "nowhere")


# -- a store that is down -------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_store_that_is_down_is_503_and_the_dashboard_goes_on(home: Path) -> None:
    use_store(home, f"postgresql://offgate:secret-pw@127.0.0.1:{closed_port()}/offgate")
    with serving(home) as base, httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        for path in ("/api/summary", "/api/calls", "/api/alerts", "/api/apps", "/api/processes", "/api/findings",
                     "/metrics", "/parts/summary"):
            message = error_of(client.get(path), 503)
            assert message.startswith("cannot open PostgreSQL database postgresql://offgate:***@127.0.0.1:"), path
            assert "secret-pw" not in message
        assert error_of(client.post("/api/alerts/abc/ack"), 503).startswith("cannot open PostgreSQL database")
        assert client.get("/proxy.pac").status_code == 200
        assert 'id="feed"' in client.get("/", headers=cookie(TOKEN)).text


def test_a_store_that_comes_back_is_used(home: Path) -> None:
    later = home / "not-yet"
    use_store(home, f"sqlite:///{later / 'offgate.db'}")
    with serving(home) as base, httpx.Client(base_url=base, headers=AUTH, timeout=30) as client:
        assert error_of(client.get("/api/calls"), 503).startswith(f"cannot open SQLite database {later}")
        later.mkdir()
        assert client.get("/api/calls").json() == {"calls": []}


# -- `offgate dashboard` ------------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_command_prints_the_login_link_and_stops_on_sigterm(home: Path, world: dict) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "offgate", "--home", str(home), "dashboard", "--listen-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    assert process.stdout is not None and process.stderr is not None
    try:
        line = process.stdout.readline()
        assert line.startswith("open http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else line
        link = line.removeprefix("open ").strip()
        token = (home / "dashboard-token").read_text().strip()
        assert link.endswith(f"/?token={token}")
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            assert client.get(link).status_code == 200  # the redirect followed, with the cookie: the page
            assert 'id="feed"' in client.get(link.split("?")[0]).text
            assert client.get(link.split("?")[0] + "api/calls").json()["calls"][0]["id"] == "g-recent"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert "offgate dashboard stopped" in process.stderr.read()
    finally:
        process.kill()
        process.wait()


def test_a_port_in_use_is_a_clear_error(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(cli, ["--home", str(home), "dashboard", "--listen-port", str(port)])
    assert result.exit_code == 2
    assert f"offgate: error: port {port} on 127.0.0.1 is already in use" in result.stderr


@pytest.mark.parametrize(("config", "message"), [
    ('[proxy]\ngateways = ["litellm.example.com"]\n',
     "gateway URL 'litellm.example.com' must be http:// or https:// with a host"),
    ('database_url = "mysql://db/offgate"\n', "database_url 'mysql://db/offgate' is not supported"),
    ("[dashboard]\nlisten_port = 70000\n", "dashboard.listen_port: Input should be less than or equal to 65535"),
], ids=["gateway", "database_url", "port"])
def test_bad_settings_stop_the_command_before_it_listens(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    result = runner.invoke(cli, ["--home", str(tmp_path), "dashboard", "--listen-port", "0"])
    assert result.exit_code == 2
    assert message in result.stderr
