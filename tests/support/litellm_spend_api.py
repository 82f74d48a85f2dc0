"""A stand-in for LiteLLM's spend-log REST API on loopback (the real proxy cannot serve spend
logs here: it needs Prisma's engine). It answers as litellm 1.108's
`proxy/spend_tracking/spend_management_endpoints.py` does:

- `GET /spend/logs/v2`: start_date and end_date required ("YYYY-MM-DD" or "YYYY-MM-DD
  HH:MM:SS", UTC, both inclusive), page, page_size <= 1000, sort_by/sort_order; answers
  {data, total, page, page_size, total_pages, total_is_capped}, the total capped at 10,000;
- `GET /spend/logs?start_date&end_date&summarize=false`: dates only, newest first, at most
  10,000 rows, with `x-litellm-spend-logs-truncated: true` when it stopped there;
- 401 without the right bearer key, in LiteLLM's error shape; 404 for v2 on an older proxy;
- `GET /user/list?page&page_size` ({users, total, page, page_size, total_pages}, as
  `internal_user_endpoints.get_users`) and `GET /team/list` (a list of teams, as
  `team_endpoints.list_team`), from `users` and `teams`.

`failures` holds statuses to answer before answering properly, one per request; `broken`
makes a path's answers "html" (not JSON) or of the wrong "shape".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.support.loopback_api import Handler, LoopbackApi

ROW_CAP = 10_000


@dataclass
class FakeSpendApi(LoopbackApi):
    rows: list[dict[str, Any]]
    key: str
    has_v2: bool = True
    failures: list[int] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def routes(self) -> dict[str, Handler]:
        return {"/spend/logs/v2": self._v2, "/spend/logs": self._v1, "/user/list": self._users,
                "/team/list": self._teams}

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.path, dict(request.query)))
        if self.failures:
            status = self.failures.pop(0)
            return web.json_response({"error": {"message": f"injected {status}", "code": str(status)}}, status=status)
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return web.json_response({"error": {"message": "Authentication Error, Invalid proxy server token passed.",
                                                 "type": "auth_error", "param": "None", "code": "401"}}, status=401)
        if self.broken.get(request.path) == "html":
            return web.Response(text="<html><body>Bad gateway</body></html>", content_type="text/html")
        if self.broken.get(request.path) == "shape":
            return web.json_response({"rows": []} if request.path == "/spend/logs" else [])
        return None

    async def _v2(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if not self.has_v2:
            return web.json_response({"detail": "Not Found"}, status=404)
        query = request.query
        start, end = _parse(query["start_date"]), _parse(query["end_date"])
        page, page_size = int(query.get("page", 1)), min(int(query.get("page_size", 50)), 1000)
        chosen = sorted((row for row in self.rows if start <= _moment(row) <= end),
                        key=lambda row: (_moment(row), row["request_id"]),
                        reverse=query.get("sort_order", "desc") != "asc")
        total = min(len(chosen), ROW_CAP)
        return web.json_response({
            "data": chosen[(page - 1) * page_size: page * page_size], "total": total, "page": page,
            "page_size": page_size, "total_pages": math.ceil(total / page_size),
            "total_is_capped": len(chosen) > ROW_CAP,
        })

    async def _v1(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        start = datetime.strptime(request.query["start_date"], "%Y-%m-%d").replace(tzinfo=UTC)
        end = datetime.strptime(request.query["end_date"], "%Y-%m-%d").replace(tzinfo=UTC)
        chosen = sorted((row for row in self.rows if start <= _moment(row) <= end), key=_moment, reverse=True)
        headers = {"x-litellm-spend-logs-truncated": "true"} if len(chosen) >= ROW_CAP else {}
        return web.json_response(chosen[:ROW_CAP], headers=headers)


    async def _users(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        page, page_size = int(request.query.get("page", 1)), min(int(request.query.get("page_size", 25)), 100)
        return web.json_response({"users": self.users[(page - 1) * page_size: page * page_size],
                                  "total": len(self.users), "page": page, "page_size": page_size,
                                  "total_pages": max(math.ceil(len(self.users) / page_size), 1)})

    async def _teams(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        return refused if refused is not None else web.json_response(self.teams)


def _parse(text: str) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise web.HTTPBadRequest(text=f"Invalid date format: {text}")


def _moment(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["startTime"])
