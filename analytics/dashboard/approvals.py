"""The approvals page: the requests the gateway's hook held, and the approvers' decisions,
made with the same store calls as `offgate approvals` (offgate.store.approvals), so each
decision writes the same audit row.

GET  /approvals                        the page (approvals.html and approvals.js)
GET  /api/session                      {"csrf", "approver", "may_decide"}: what the page sends and who it decides as
GET  /api/approvals[?limit=N]          every request, most recently asked first, and who decides here
POST /api/approvals/{id}/approve       body {"for": "24h", "amount": 5.0, "reason": "..."}, each optional
POST /api/approvals/{id}/deny          body {"reason": "..."}, optional

Who decides: the dashboard's approver, `dashboard.approver` in config.toml, else the OS account
running the dashboard (as for `offgate approvals`): whoever holds the dashboard's token acts as
them. A decision is refused (403) unless the policy lists them among its approvers (or lists
none), and needs the token or the page's CSRF header (auth.py), never the cookie alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from analytics.dashboard.api import MAX_NAME, whole_number
from analytics.dashboard.auth import authorized, csrf_value
from analytics.dashboard.errors import BadQuery, json_error
from analytics.dashboard.pages import STATIC, login_page
from analytics.dashboard.reads import iso_utc, reads
from offgate.policy import PolicySettings
from offgate.store.approvals import Approval, ApprovalStore
from offgate.timespan import parse_span

APPROVALS_PAGE = (STATIC / "approvals.html").read_text(encoding="utf-8")
APPROVER = web.AppKey("approver", str)
POLICY = web.AppKey("policy", PolicySettings)
DEFAULT_DURATION = "24h"  # as `offgate approvals approve`
REQUESTS_SHOWN, MAX_REQUESTS = 200, 1000
MAX_REASON = 1000


async def page(request: web.Request) -> web.Response:
    if not authorized(request):
        return login_page()
    return web.Response(text=APPROVALS_PAGE, content_type="text/html")


async def session(request: web.Request) -> web.Response:
    return web.json_response({"csrf": csrf_value(request), **_decider(request)})


async def listed(request: web.Request) -> web.Response:
    limit = whole_number(request, "limit", REQUESTS_SHOWN, MAX_REQUESTS)
    found = await reads(request).run(lambda store: ApprovalStore(store).requests(limit=limit))
    now = datetime.now(UTC)
    return web.json_response({**_decider(request), "approvers": list(request.app[POLICY].approvers),
                              "requests": [_approval_json(approval, now) for approval in found]})


async def approve(request: web.Request) -> web.Response:
    body = await _body(request)
    duration = _duration(body.get("for", DEFAULT_DURATION))
    amount = _amount(body.get("amount"))
    reason = _reason(body.get("reason"))
    return await _decide(request, lambda approvals, request_id, by: approvals.approve(
        request_id, by, duration, amount, reason))


async def deny(request: web.Request) -> web.Response:
    reason = _reason((await _body(request)).get("reason"))
    return await _decide(request, lambda approvals, request_id, by: approvals.deny(request_id, by, reason))


async def _decide(request: web.Request, decision: Callable[[ApprovalStore, str, str], Approval]) -> web.Response:
    by = request.app[APPROVER]
    refused = request.app[POLICY].refusal_to_decide(by)
    if refused:
        return json_error(403, f"{refused}: set dashboard.approver in config.toml to an approver's name, "
                               "or ask an approver")
    request_id = request.match_info["id"]
    approval = await reads(request).run(lambda store: decision(ApprovalStore(store), request_id, by))
    return web.json_response(_approval_json(approval, datetime.now(UTC)))


def _decider(request: web.Request) -> dict[str, Any]:
    approver = request.app[APPROVER]
    return {"approver": approver, "may_decide": request.app[POLICY].may_decide(approver)}


def _approval_json(approval: Approval, now: datetime) -> dict[str, Any]:
    return {"id": approval.id, "status": approval.status, "in_force": approval.lets_through(now),
            "rule": approval.rule, "reason": approval.reason, "user": approval.user, "team": approval.team,
            "model": approval.model, "estimated_cost_usd": approval.estimated_cost_usd,
            "requested_at": iso_utc(approval.requested_at), "times_requested": approval.times_requested,
            "decided_by": approval.decided_by, "decided_at": iso_utc(approval.decided_at),
            "expires_at": iso_utc(approval.expires_at), "amount_usd": approval.amount_usd, "note": approval.note}


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise BadQuery('the body must be JSON, e.g. {"for": "24h", "reason": "launch week"}') from None
    if not isinstance(body, dict):
        raise BadQuery('the body must be a JSON object, e.g. {"for": "24h"}')
    return body


def _duration(value: object) -> timedelta:
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise BadQuery('"for" must be a span such as 30m, 24h or 7d')
    try:
        return parse_span(value)
    except ValueError as exc:
        raise BadQuery(f'"for": {exc}') from None


def _amount(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise BadQuery('"amount" must be a number of USD, 0 or more, or null')
    return float(value)


def _reason(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise BadQuery(f'"reason" must be text of at most {MAX_REASON} characters')
    return value.strip() or None
