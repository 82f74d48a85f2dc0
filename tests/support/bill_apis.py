"""A stand-in for OpenAI's organization Usage, Costs, Projects and project API keys APIs on
loopback, answering in their documented shapes (tests/fixtures/bills/README.md cites them):
one bucket per page (so every answer pages with next_page / has_more), `failures` (statuses,
one per request, each 429 with `retry-after: 0`) before answering, and 401 for a wrong key in
OpenAI's error shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from offgate.demo.threaded_server import ThreadedServer


@dataclass
class FakeOpenAiAdmin:
    key: str
    usage: dict[date, list[dict[str, Any]]]  # results per day, as documented
    costs: dict[date, list[dict[str, Any]]]
    api_keys: dict[str, list[dict[str, Any]]]  # project id -> its keys
    failures: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._server = ThreadedServer()

    def __enter__(self) -> FakeOpenAiAdmin:
        app = web.Application()
        app.router.add_get("/v1/organization/usage/completions", self._usage)
        app.router.add_get("/v1/organization/costs", self._costs)
        app.router.add_get("/v1/organization/projects", self._projects)
        app.router.add_get("/v1/organization/projects/{project}/api_keys", self._keys)
        self.port = self._server.serve(app)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.requests.append(request.path_qs)
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return web.json_response({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                                "code": "invalid_api_key"}}, status=401)
        if self.failures:
            status = self.failures.pop(0)
            return web.json_response({"error": {"message": "Rate limit reached", "type": "requests"}}, status=status,
                                     headers={"retry-after": "0"} if status == 429 else {})
        return None

    async def _usage(self, request: web.Request) -> web.Response:
        return self._buckets(request, self.usage, "usage")

    async def _costs(self, request: web.Request) -> web.Response:
        return self._buckets(request, self.costs, "costs")

    def _buckets(self, request: web.Request, results: dict[date, list[dict[str, Any]]],
                       kind: str) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        start = datetime.fromtimestamp(int(request.query["start_time"]), UTC).date()
        days = sorted(day for day in results if day >= start)
        index = int(request.query.get("page", "0"))
        day = days[index]
        stamp = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
        bucket_object = "organization.usage.completions.result" if kind == "usage" else "organization.costs.result"
        bucket = {"object": "bucket", "start_time": stamp, "end_time": stamp + 86400,
                  "results": [{"object": bucket_object, **result} for result in results[day]]}
        more = index + 1 < len(days)
        return web.json_response({"object": "page", "data": [bucket], "has_more": more,
                                  "next_page": str(index + 1) if more else None})

    async def _projects(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        projects = [{"id": project, "object": "organization.project", "name": project, "status": "active"}
                    for project in self.api_keys]
        return web.json_response(_listed(projects, request))

    async def _keys(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        keys = [{"object": "organization.project.api_key", **key} for key in self.api_keys[request.match_info["project"]]]
        return web.json_response(_listed(keys, request))


def _listed(items: list[dict[str, Any]], request: web.Request) -> dict[str, Any]:
    """One item per page, after `after`, as OpenAI's lists answer."""
    ids = [item["id"] for item in items]
    start = ids.index(request.query["after"]) + 1 if "after" in request.query else 0
    page = items[start:start + 1]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": start + 1 < len(items)}
