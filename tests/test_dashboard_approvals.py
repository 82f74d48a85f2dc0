"""The dashboard's approvals over HTTP against a real store, served by aiohttp on loopback:
requests are listed, an approver approves and denies with the same audit rows as
`offgate approvals`, a decision needs the token or the page's CSRF header (the cookie alone
decides nothing), a non-approver is refused, and bad input changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from offgate.cli import app as cli
from offgate.store.approvals import APPROVED, DENIED, PENDING
from tests.support.approvals_world import BIG_CALL, OPUS, configure, held, stored
from tests.support.dashboard_world import TOKEN, runner, serving

AUTH = {"Authorization": f"Bearer {TOKEN}"}
@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    configure(tmp_path, "carol")
    held(tmp_path, BIG_CALL, OPUS)
    with serving(tmp_path) as base, httpx.Client(base_url=base, timeout=30) as client:
        yield client


def session_of(client: httpx.Client) -> tuple[dict[str, str], str]:
    """Log in like the page does: the session cookie, and the CSRF value /api/session gives it."""
    answer = client.get("/", params={"token": TOKEN})
    assert answer.status_code == 303, answer.text
    cookie = {"Cookie": f"offgate_dashboard={answer.cookies['offgate_dashboard']}"}
    client.cookies.clear()
    session = client.get("/api/session", headers=cookie).json()
    assert (session["approver"], session["may_decide"]) == ("carol", True)
    return cookie, session["csrf"]


def test_requests_are_listed_and_an_approval_writes_the_clis_audit_row(client: httpx.Client, tmp_path: Path) -> None:
    listed = client.get("/api/approvals", headers=AUTH).json()
    assert (listed["approver"], listed["may_decide"], listed["approvers"]) == ("carol", True, ["carol", "dan"])
    assert {request["id"]: (request["status"], request["user"], request["rule"], request["model"],
                            request["estimated_cost_usd"]) for request in listed["requests"]} == {
        BIG_CALL.request_id: (PENDING, "alice", "big calls", "gpt-4o", 0.8),
        OPUS.request_id: (PENDING, "bob", "opus", "claude-opus-4-1", None)}
    assert len(client.get("/api/approvals", params={"limit": "1"}, headers=AUTH).json()["requests"]) == 1

    before = datetime.now(UTC).replace(microsecond=0)
    approved = client.post(f"/api/approvals/{BIG_CALL.request_id}/approve", headers=AUTH,
                           json={"for": "2h", "amount": 1.5, "reason": "launch week"})
    assert approved.status_code == 200, approved.text
    decided = approved.json()
    assert (decided["status"], decided["in_force"], decided["decided_by"], decided["amount_usd"], decided["note"]) == (
        APPROVED, True, "carol", 1.5, "launch week")
    expires = datetime.fromisoformat(decided["expires_at"])
    assert before + timedelta(hours=2) <= expires <= datetime.now(UTC) + timedelta(hours=2)
    denied = client.post(f"/api/approvals/{OPUS.request_id}/deny", headers=AUTH, json={"reason": "not this month"})
    assert denied.status_code == 200 and denied.json()["status"] == DENIED

    requests, audit = stored(tmp_path)
    assert requests == {BIG_CALL.request_id: (APPROVED, "carol", 1.5, "launch week"),
                        OPUS.request_id: (DENIED, "carol", None, "not this month")}
    assert audit[2:] == [
        (BIG_CALL.request_id, "carol", "approved", f"until {expires:%Y-%m-%d %H:%M:%S} UTC, up to $1.50, launch week"),
        (OPUS.request_id, "carol", "denied", "not this month")]
    listing = runner.invoke(cli, ["--home", str(tmp_path), "approvals", "list", "--all", "--audit"],
                            catch_exceptions=False)
    assert listing.exit_code == 0 and "requests: 2" in listing.stdout
    rows = {line.split()[1]: line.split()[3] for line in listing.stdout.splitlines() if line.startswith("│ ap-")}
    assert rows == {BIG_CALL.request_id: APPROVED, OPUS.request_id: DENIED}


def test_a_decision_needs_the_pages_csrf_header_not_the_cookie_alone(client: httpx.Client, tmp_path: Path) -> None:
    cookie, csrf = session_of(client)
    path = f"/api/approvals/{BIG_CALL.request_id}/approve"
    for headers in (cookie, {**cookie, "X-Offgate-CSRF": "forged"}, {**cookie, "X-Offgate-CSRF": csrf[:-1] + "0"}):
        refused = client.post(path, headers=headers, json={})
        assert refused.status_code == 403, refused.text
        assert "a decision needs the header Authorization: Bearer TOKEN, or the page's X-Offgate-CSRF header" in (
            refused.json()["error"])
    other_cookie, other_csrf = session_of(client)
    assert other_csrf != csrf  # bound to its session
    assert client.post(path, headers={**cookie, "X-Offgate-CSRF": other_csrf}, json={}).status_code == 403
    assert stored(tmp_path)[0][BIG_CALL.request_id][0] == PENDING
    cross_site = client.post(path, headers={**cookie, "X-Offgate-CSRF": csrf, "Origin": "http://evil.example"})
    assert cross_site.status_code == 403 and stored(tmp_path)[0][BIG_CALL.request_id][0] == PENDING
    accepted = client.post(path, headers={**cookie, "X-Offgate-CSRF": csrf}, json={})
    assert accepted.status_code == 200 and accepted.json()["status"] == APPROVED
    assert client.get("/api/session").json().get("csrf") is None  # nor is the value given without a session


def test_a_non_approver_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    configure(tmp_path, "mallory")
    held(tmp_path, BIG_CALL)
    with serving(tmp_path) as base, httpx.Client(base_url=base, timeout=30) as client:
        listed = client.get("/api/approvals", headers=AUTH).json()
        assert (listed["approver"], listed["may_decide"]) == ("mallory", False)
        for action in ("approve", "deny"):
            refused = client.post(f"/api/approvals/{BIG_CALL.request_id}/{action}", headers=AUTH, json={})
            assert refused.status_code == 403
            assert refused.json()["error"] == (
                "mallory is not among the policy's approvers (carol, dan): set dashboard.approver in config.toml "
                "to an approver's name, or ask an approver")
    requests, audit = stored(tmp_path)
    assert requests[BIG_CALL.request_id] == (PENDING, None, None, None) and len(audit) == 1


@pytest.mark.parametrize(("action", "body", "status", "message"), [
    ("approve", {"for": "a while"}, 400, '"for": '),
    ("approve", {"for": 24}, 400, '"for" must be a span such as 30m, 24h or 7d'),
    ("approve", {"amount": -1}, 400, '"amount" must be a number of USD, 0 or more, or null'),
    ("approve", {"amount": "5"}, 400, '"amount" must be a number of USD'),
    ("deny", {"reason": ["no"]}, 400, '"reason" must be text of at most 1000 characters'),
    ("deny", [1], 400, "the body must be a JSON object"),
])
def test_bad_input_is_explained_and_decides_nothing(client: httpx.Client, tmp_path: Path, action: str,
                                                    body: object, status: int, message: str) -> None:
    refused = client.post(f"/api/approvals/{BIG_CALL.request_id}/{action}", headers=AUTH, json=body)
    assert refused.status_code == status and message in refused.json()["error"]
    assert stored(tmp_path)[0][BIG_CALL.request_id][0] == PENDING


def test_the_page_wants_a_login(client: httpx.Client) -> None:
    login = client.get("/approvals")
    assert login.status_code == 200 and 'name="token"' in login.text and 'id="pending"' not in login.text
    cookie, _ = session_of(client)
    page = client.get("/approvals", headers=cookie)
    assert 'id="pending"' in page.text and '<script src="/static/approvals.js" defer></script>' in page.text


def test_an_unknown_request_is_404(client: httpx.Client) -> None:
    missing = client.post("/api/approvals/ap-nope/approve", headers=AUTH, json={})
    assert (missing.status_code, missing.json()["error"]) == (404, "no approval request 'ap-nope'")
