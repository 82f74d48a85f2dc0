"""The local dashboard: a page, its JSON API, Prometheus metrics and the PAC file, served by
aiohttp on 127.0.0.1 (settings `dashboard`), over the same store and with the same numbers
as `offgate report`.

All but the login page, its stylesheets and /proxy.pac need the token (`dashboard_token`):
the session cookie that logging in with it opens, or `Authorization: Bearer TOKEN` (auth.py).
Only requests naming the dashboard's own host are answered (hosts.py). The page is plain JS
and CSS served from this package: nothing is fetched from anywhere else.

`offgate dashboard` serves it alone; `offgate up` runs `create_app` and `start_dashboard` on
the event loop it shares with the proxy, and calls the runner's `cleanup()` when it stops.
"""

from analytics.dashboard.app import create_app
from analytics.dashboard.server import (
    DashboardError,
    ListenError,
    dashboard_token,
    dashboard_url,
    exposure_warning,
    login_url,
    start_dashboard,
)

__all__ = ["DashboardError", "ListenError", "create_app", "dashboard_token", "dashboard_url", "exposure_warning",
           "login_url", "start_dashboard"]
