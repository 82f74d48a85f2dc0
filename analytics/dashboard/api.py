"""The JSON API, and the page's summary (the report's HTML body) built from the same report.

GET  /api/summary?since=30d&by=provider   what `offgate report --format json` prints (its pricing bases and
                                          workstation part too); &device=NAME and &user=LOGIN (each
                                          repeatable, or a comma list) as its filters
GET  /api/calls?limit=50                  the newest calls, newest first
GET  /api/alerts[?all=1][&limit=N]        open alerts (all=1: acknowledged ones too), newest first
POST /api/alerts/{id}/ack                 acknowledge one; body {"by": NAME} optional
GET  /api/apps, /api/processes[?since=]   what was seen: calls, tokens, cost, first and last call
GET  /api/findings?since=30d              reconciliation findings, oldest first
GET  /parts/summary?since=30d&by=...      the report's HTML body, for the page
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from analytics.dashboard.errors import BadQuery
from analytics.dashboard.reads import GATEWAY_KEYS, reads
from analytics.report.document import Finding, Report
from analytics.report.model import build_report
from analytics.report.render_html import render_body
from offgate.store.alerts import AlertStore
from offgate.store.filters import CallFilter
from offgate.store.queries import CallQueries, LatestCall
from offgate.store.reconciliation import Reconciliations
from offgate.timespan import parse_since
from offgate.vocabulary import DIMENSIONS

DEFAULT_SINCE = "30d"  # as `offgate report`
DEFAULT_BY = "provider"
CALLS_SHOWN, MAX_CALLS = 50, 1000
ALERTS_SHOWN, MAX_ALERTS = 200, 1000
ACKED_BY = "dashboard"
MAX_NAME = 200
# What a person needs to see of a call; never prompt text, paths or keys (only the key's fingerprint).
CALL_FIELDS = (
    "id", "ts", "classification", "reconciled", "route", "source", "provider", "app", "endpoint", "host", "model",
    "streamed", "status_code", "prompt_tokens", "completion_tokens", "tokens_estimated", "cost_usd", "duration_ms",
    "process_name", "user", "device", "key_fingerprint",
)
SEEN_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "cost_usd", "estimated_calls", "unpriced_calls")
YES, NO = ("1", "true", "yes"), ("0", "false", "no")


async def summary(request: web.Request) -> web.Response:
    return web.json_response((await _report(request)).model_dump(mode="json"))


async def summary_part(request: web.Request) -> web.Response:
    return web.Response(text=render_body(await _report(request)), content_type="text/html")


async def calls(request: web.Request) -> web.Response:
    limit = whole_number(request, "limit", CALLS_SHOWN, MAX_CALLS)
    found = await reads(request).run(lambda store: CallQueries(store).latest_calls(limit))
    return web.json_response({"calls": [_call_json(call) for call in found]})


async def alerts(request: web.Request) -> web.Response:
    include_acked = _yes_or_no(request, "all")
    limit = whole_number(request, "limit", ALERTS_SHOWN, MAX_ALERTS)
    found = await reads(request).run(lambda store: AlertStore(store).alerts(include_acked=include_acked, limit=limit))
    return web.json_response({"alerts": [alert.to_json() for alert in found]})


async def acknowledge(request: web.Request) -> web.Response:
    alert_id, by = request.match_info["id"], await _acked_by(request)
    alert = await reads(request).run(lambda store: AlertStore(store).ack(alert_id, by=by))
    return web.json_response(alert.to_json())


async def apps(request: web.Request) -> web.Response:
    return await _seen(request, "app", "apps")


async def processes(request: web.Request) -> web.Response:
    return await _seen(request, "process_name", "processes")


async def findings(request: web.Request) -> web.Response:
    since = since_of(request, DEFAULT_SINCE)
    found = await reads(request).run(lambda store: Reconciliations(store).findings(since, None))
    return web.json_response({"findings": [Finding.from_stored(finding).model_dump(mode="json") for finding in found]})


async def _report(request: web.Request) -> Report:
    since = since_of(request, DEFAULT_SINCE)
    by = request.query.get("by", DEFAULT_BY)
    if by not in DIMENSIONS:
        raise BadQuery(f"by: {by!r} is not one of {', '.join(DIMENSIONS)}")
    only = CallFilter(devices=_names(request, "device"), users=_names(request, "user"))
    until = datetime.now(UTC)
    keys = request.app[GATEWAY_KEYS]
    return await reads(request).run(lambda store: build_report(store, since, until, by, only, keys))


async def _seen(request: web.Request, column: str, name: str) -> web.Response:
    since = since_of(request, None)
    found = await reads(request).run(lambda store: store.totals(column, since))
    return web.json_response({name: [
        {"name": group["key"], **{field: group[field] for field in SEEN_FIELDS},
         "first_seen": group["first_seen"].isoformat(), "last_seen": group["last_seen"].isoformat()}
        for group in found]})


def _call_json(call: LatestCall) -> dict[str, Any]:
    fields = {**call.event.model_dump(), "classification": call.classification, "reconciled": call.reconciled}
    return {name: fields[name].isoformat() if name == "ts" else fields[name] for name in CALL_FIELDS}


async def _acked_by(request: web.Request) -> str:
    if not request.body_exists:
        return ACKED_BY
    try:
        body = await request.json()
    except ValueError:
        raise BadQuery('the body must be JSON, e.g. {"by": "alice"}') from None
    by = body.get("by", ACKED_BY) if isinstance(body, dict) else None
    if not isinstance(by, str) or not 0 < len(by.strip()) <= MAX_NAME:
        raise BadQuery(f'"by" must be a name of 1 to {MAX_NAME} characters, e.g. {{"by": "alice"}}')
    return by.strip()


def since_of(request: web.Request, default: str | None) -> datetime | None:
    """The `since` parameter (a span back from now or an ISO time), else `default`; BadQuery if it is neither."""
    text = request.query.get("since", default)
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        raise BadQuery(f"since: {exc}") from None


def _names(request: web.Request, name: str) -> tuple[str, ...]:
    """A parameter given any number of times, each a comma list: its names, once each, in order."""
    names = [part.strip() for value in request.query.getall(name, []) for part in value.split(",") if part.strip()]
    if any(len(found) > MAX_NAME for found in names):
        raise BadQuery(f"{name}: a name is at most {MAX_NAME} characters")
    return tuple(dict.fromkeys(names))


def whole_number(request: web.Request, name: str, default: int, largest: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,7}", text) or not 1 <= int(text) <= largest:
        raise BadQuery(f"{name}: {text!r} is not a whole number from 1 to {largest}")
    return int(text)


def _yes_or_no(request: web.Request, name: str) -> bool:
    text = request.query.get(name, "0").lower()
    if text not in YES + NO:
        raise BadQuery(f"{name}: {text!r} is not one of {', '.join(YES + NO)}")
    return text in YES
