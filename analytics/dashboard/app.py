"""The dashboard's aiohttp application: routes, and the middleware every answer goes through."""

from __future__ import annotations

import getpass
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from analytics.bill.gateway_keys import configured_gateway_keys
from analytics.dashboard import api, approvals, fleet, metrics, pages
from analytics.dashboard.auth import SESSIONS, TOKEN, Sessions, log_out, require_token
from analytics.dashboard.errors import json_errors
from analytics.dashboard.hosts import LISTEN_HOST, known_hosts_only
from analytics.dashboard.reads import GATEWAY_KEYS, STORE_READS, StoreReads
from offgate.config import Settings, database_url_for
from offgate.pac import render_pac

SECURITY_HEADERS = {
    # Only this server's own files run and load: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # No address (a login link holds the token) goes to other sites; "no-referrer" would make
    # Chromium send `Origin: null` with the login form, which the origin check refuses.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(home: Path, settings: Settings, token: str, proxy_address: str) -> web.Application:
    """The dashboard over the store of `settings` (ConfigError if its database_url is not
    one), opened on first use, answering to the names of `settings.dashboard.listen_host`
    (hosts.py). /proxy.pac sends the catalog's hosts and the gateways to `proxy_address`
    ("host:port"; ValueError if it is not one, or a gateway is no URL)."""
    app = web.Application(middlewares=[_security_headers, known_hosts_only, json_errors, require_token])
    app[TOKEN] = token
    app[SESSIONS] = Sessions()
    app[LISTEN_HOST] = settings.dashboard.listen_host
    app[STORE_READS] = StoreReads(database_url_for(settings, home))
    app[GATEWAY_KEYS] = configured_gateway_keys(settings, home)
    app[pages.PAC] = render_pac(proxy_address, settings.proxy.gateways)
    app[fleet.SILENCE] = settings.alerts.device_silence
    app[approvals.APPROVER] = settings.dashboard.approver or getpass.getuser()
    app[approvals.POLICY] = settings.policy
    app.router.add_get("/", pages.index)
    app.router.add_get("/fleet", fleet.page)
    app.router.add_get("/approvals", approvals.page)
    app.router.add_post("/login", pages.log_in)
    app.router.add_post("/logout", log_out)
    app.router.add_get("/static/{name}", pages.asset)
    app.router.add_get("/proxy.pac", pages.proxy_pac)
    app.router.add_get("/metrics", metrics.scrape)
    app.router.add_get("/parts/summary", api.summary_part)
    app.router.add_get("/api/summary", api.summary)
    app.router.add_get("/api/calls", api.calls)
    app.router.add_get("/api/alerts", api.alerts)
    app.router.add_post("/api/alerts/{id}/ack", api.acknowledge)
    app.router.add_get("/api/apps", api.apps)
    app.router.add_get("/api/processes", api.processes)
    app.router.add_get("/api/findings", api.findings)
    app.router.add_get("/api/fleet", fleet.fleet_json)
    app.router.add_get("/api/session", approvals.session)
    app.router.add_get("/api/approvals", approvals.listed)
    app.router.add_post("/api/approvals/{id}/approve", approvals.approve)
    app.router.add_post("/api/approvals/{id}/deny", approvals.deny)
    app.on_cleanup.append(_close)
    return app


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


async def _close(app: web.Application) -> None:
    app[STORE_READS].close()
