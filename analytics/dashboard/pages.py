"""The page, the login page, the files they load, and the PAC file."""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template

from aiohttp import web

from analytics.dashboard.auth import TOKEN, authorized, logged_in, token_matches
from analytics.report.render_html import STYLESHEET

STATIC = Path(__file__).with_name("static")
DASHBOARD_PAGE = (STATIC / "dashboard.html").read_text(encoding="utf-8")
LOGIN_PAGE = Template((STATIC / "login.html").read_text(encoding="utf-8"))
# name -> (file, content type). The report's stylesheet is the page's too: one house style.
ASSETS = {
    "report.css": (STYLESHEET, "text/css"),
    "dashboard.css": (STATIC / "dashboard.css", "text/css"),
    "page.js": (STATIC / "page.js", "text/javascript"),
    "dashboard.js": (STATIC / "dashboard.js", "text/javascript"),
    "approvals.js": (STATIC / "approvals.js", "text/javascript"),
}
PAC = web.AppKey("pac", str)
PAC_CONTENT_TYPE = "application/x-ns-proxy-autoconfig"


async def index(request: web.Request) -> web.Response:
    """The dashboard, or the login page; `?token=` logs in once and leaves the address clean."""
    given = request.query.get("token")
    if given is not None:
        if token_matches(given, request.app[TOKEN]):
            return logged_in(request)
        return login_page("The link's token is not this dashboard's: use the link `offgate dashboard` prints.", 401)
    if not authorized(request):
        return login_page()
    return web.Response(text=DASHBOARD_PAGE, content_type="text/html")


async def log_in(request: web.Request) -> web.Response:
    given = (await request.post()).get("token")
    if isinstance(given, str) and given.strip() and token_matches(given.strip(), request.app[TOKEN]):
        return logged_in(request)
    return login_page("That is not this dashboard's token.", 401)


async def asset(request: web.Request) -> web.Response:
    found = ASSETS.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    path, content_type = found
    return web.Response(body=path.read_bytes(), content_type=content_type, charset="utf-8")


async def proxy_pac(request: web.Request) -> web.Response:
    """The PAC file (offgate.pac), without the token: systems fetch PAC URLs without credentials."""
    return web.Response(text=request.app[PAC], content_type=PAC_CONTENT_TYPE)


def login_page(problem: str = "", status: int = 200) -> web.Response:
    message = f'<p class="problem" id="login-problem" role="alert">{escape(problem)}</p>' if problem else ""
    return web.Response(text=LOGIN_PAGE.substitute(message=message), status=status, content_type="text/html")
