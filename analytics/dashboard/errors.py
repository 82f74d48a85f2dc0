"""How the dashboard answers when it cannot: a JSON error saying why, for the API, the page's
parts and /metrics alike. Store failures are 503s: the dashboard keeps serving."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from offgate.store import StoreError
from offgate.store.alerts import UnknownAlertError
from offgate.store.approvals import UnknownRequestError

log = logging.getLogger("offgate.dashboard")


class BadQuery(ValueError):
    """A query parameter or body the request cannot be answered with; the message says which and why."""


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadQuery as exc:
        return json_error(400, str(exc))
    except (UnknownAlertError, UnknownRequestError) as exc:
        return json_error(404, str(exc))
    except StoreError as exc:
        log.warning("%s", exc)
        return json_error(503, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason)
    except Exception:
        log.exception("the dashboard failed to answer %s %s", request.method, request.path)
        return json_error(500, "the dashboard failed to answer: its log says why")
