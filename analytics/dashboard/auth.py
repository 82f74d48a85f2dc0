"""Who may use the dashboard: whoever holds its token.

The token comes as a cookie (set by logging in: the login form, or a `?token=` link once) or
as `Authorization: Bearer TOKEN` (scripts, Prometheus), and is compared in constant time.
The cookie is HttpOnly and SameSite=Strict, so no other site's page can send it along; a
POST whose Origin is another site is refused too.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from analytics.dashboard.errors import json_error

COOKIE = "offgate_dashboard"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
TOKEN = web.AppKey("token", str)
PROTECTED_PREFIXES = ("/api/", "/parts/")
PROTECTED_PATHS = ("/metrics",)


def token_matches(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


def authorized(request: web.Request) -> bool:
    token = request.app[TOKEN]
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    presented = [credentials.strip() if scheme.lower() == "bearer" else "", request.cookies.get(COOKIE, "")]
    return any(given and token_matches(given, token) for given in presented)


def logged_in(token: str) -> web.Response:
    """Set the cookie and show the dashboard (a redirect, so the address holds no token)."""
    response = web.Response(status=303, headers={"Location": "/"})
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True, samesite="Strict")
    return response


@web.middleware
async def require_token(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    if request.method == "POST" and not _same_origin(request):
        return json_error(403, "requests from other sites are refused")
    protected = request.path.startswith(PROTECTED_PREFIXES) or request.path in PROTECTED_PATHS
    if protected and not authorized(request):
        return json_error(401, "log in with the dashboard's token: the link `offgate dashboard` prints, "
                               "or the header Authorization: Bearer TOKEN",
                          headers={"WWW-Authenticate": 'Bearer realm="offgate"'})
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")  # browsers send it with every POST; scripts need not
    return origin is None or origin == f"{request.scheme}://{request.host}"
