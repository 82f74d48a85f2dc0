"""Who may use the dashboard: whoever holds its token, or a session opened with it.

Logging in (the login form, or a `?token=` link once) checks the token and opens a session:
a random value kept in this process's memory with its expiry, sent back as the cookie, so the
token itself never sits in a browser. Logging out, or SESSION_LIFETIME_S passing, ends the
session; a restart ends them all (log in again). Scripts and Prometheus send
`Authorization: Bearer TOKEN` instead, compared in constant time. The cookie is HttpOnly and
SameSite=Strict, so no other site's page can send it along; a POST whose Origin is another
site is refused too.

Decisions (POST /api/approvals/...) need more than the cookie: the bearer token, or the
header X-Offgate-CSRF holding the session's own value (an HMAC of the session under the token),
which the page reads from GET /api/session. No other site's page can set that header on a
request to the dashboard or read the value, so a forged form or link decides nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from analytics.dashboard.errors import json_error

COOKIE = "offgate_dashboard"
SESSION_LIFETIME_S = 12 * 3600
MAX_SESSIONS = 1000  # the oldest goes first beyond this: logging in in a loop cannot fill memory
PROTECTED_PREFIXES = ("/api/", "/parts/")
PROTECTED_PATHS = ("/metrics",)
DECISION_PREFIX = "/api/approvals/"  # POSTs under it decide: they need the header, not the cookie alone
CSRF_HEADER = "X-Offgate-CSRF"


class Sessions:
    """The open sessions: each value and when it expires (on `clock`, in seconds)."""

    def __init__(self, lifetime_s: float = SESSION_LIFETIME_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._lifetime_s = lifetime_s
        self._clock = clock
        self._expiry: dict[str, float] = {}  # in the order opened

    def open(self) -> str:
        now = self._clock()
        self._expiry = {value: end for value, end in self._expiry.items() if end > now}
        while len(self._expiry) >= MAX_SESSIONS:
            del self._expiry[next(iter(self._expiry))]
        value = secrets.token_urlsafe(32)
        self._expiry[value] = now + self._lifetime_s
        return value

    def is_open(self, value: str) -> bool:
        end = self._expiry.get(value)
        return end is not None and end > self._clock()

    def close(self, value: str) -> None:
        self._expiry.pop(value, None)


TOKEN = web.AppKey("token", str)
SESSIONS = web.AppKey("sessions", Sessions)


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def authorized(request: web.Request) -> bool:
    return _bearer_matches(request) or request.app[SESSIONS].is_open(request.cookies.get(COOKIE, ""))


def csrf_value(request: web.Request) -> str | None:
    """The value the page sends in CSRF_HEADER with its decisions: bound to its session, None without one."""
    session = request.cookies.get(COOKIE, "")
    if not request.app[SESSIONS].is_open(session):
        return None
    return hmac.new(request.app[TOKEN].encode(), session.encode(), hashlib.sha256).hexdigest()


def may_decide(request: web.Request) -> bool:
    """The bearer token, or an open session with its CSRF value in the header."""
    if _bearer_matches(request):
        return True
    expected = csrf_value(request)
    return expected is not None and hmac.compare_digest(request.headers.get(CSRF_HEADER, "").encode(),
                                                        expected.encode())


def _bearer_matches(request: web.Request) -> bool:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""
    return bool(bearer) and token_matches(bearer, request.app[TOKEN])


def logged_in(request: web.Request) -> web.Response:
    """Open a session and show the dashboard (a redirect, so the address holds no token)."""
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(COOKIE, request.app[SESSIONS].open(), max_age=SESSION_LIFETIME_S, path="/",
                        httponly=True, samesite="Strict")
    return response


async def log_out(request: web.Request) -> web.Response:
    """End the session the cookie names; back to the login page."""
    request.app[SESSIONS].close(request.cookies.get(COOKIE, ""))
    response = web.Response(status=303, headers={"Location": "/"})
    response.del_cookie(COOKIE, path="/")
    return response


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        return json_error(403, "requests from other sites are refused")
    protected = request.path.startswith(PROTECTED_PREFIXES) or request.path in PROTECTED_PATHS
    if protected and not authorized(request):
        return json_error(401, "log in with the dashboard's token: the link `offgate dashboard` prints, "
                               "or the header Authorization: Bearer TOKEN",
                          headers={"WWW-Authenticate": 'Bearer realm="offgate"'})
    if request.method == "POST" and request.path.startswith(DECISION_PREFIX) and not may_decide(request):
        return json_error(403, f"a decision needs the header Authorization: Bearer TOKEN, or the page's "
                               f"{CSRF_HEADER} header: reload the page")
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")  # browsers send it with every POST; scripts need not
    return origin is None or origin == f"{request.scheme}://{request.host}"
