"""A stand-in for OpenAI's organization Usage, Costs, Projects and project API keys APIs on
loopback, answering in their documented shapes (tests/fixtures/bills/README.md cites them):
one bucket per page (so every answer pages with next_page / has_more), `failures` (statuses,
one per request, each 429 with `retry-after: 0`) before answering, and 401 for a wrong key in
OpenAI's error shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from analytics.bill.importing import BillImportSummary, import_bill
from analytics.bill.source import BillSource
from offgate.store import Store
from offgate.store.bill import BillLine, BillLog
from tests.support.loopback_api import Handler, LoopbackApi


def import_twice(source: Callable[[], BillSource],
                 store: Store) -> tuple[BillImportSummary, BillImportSummary, list[BillLine]]:
    """Import a fresh `source()` twice (the rerun must change nothing), and the lines then stored."""
    first = import_bill(source(), BillLog(store), lambda done, total: None)
    again = import_bill(source(), BillLog(store), lambda done, total: None)
    return first, again, BillLog(store).lines()


class AdminApi(LoopbackApi):
    """What the providers' stand-ins share: each request kept in `requests`, a wrong key refused in
    the provider's shape, then `failures` answered first (each 429 with `retry-after: 0`)."""

    key: str
    failures: list[int]
    requests: list[str]

    def _key_given(self, request: web.Request) -> bool:
        raise NotImplementedError

    def _wrong_key(self) -> web.Response:
        raise NotImplementedError

    def _error(self, status: int) -> dict[str, Any]:
        """The provider's error body for an injected failure."""
        raise NotImplementedError

    def _refusal(self, request: web.Request) -> web.Response | None:
        self.requests.append(request.path_qs)
        if not self._key_given(request):
            return self._wrong_key()
        if self.failures:
            status = self.failures.pop(0)
            return web.json_response(self._error(status), status=status,
                                     headers={"retry-after": "0"} if status == 429 else {})
        return None


@dataclass
class FakeOpenAiAdmin(AdminApi):
    key: str
    usage: dict[date, list[dict[str, Any]]]  # results per day, as documented
    costs: dict[date, list[dict[str, Any]]]
    api_keys: dict[str, list[dict[str, Any]]]  # project id -> its keys
    failures: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def routes(self) -> dict[str, Handler]:
        return {"/v1/organization/usage/completions": self._usage, "/v1/organization/costs": self._costs,
                "/v1/organization/projects": self._projects,
                "/v1/organization/projects/{project}/api_keys": self._keys}

    def _key_given(self, request: web.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.key}"

    def _wrong_key(self) -> web.Response:
        error = {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}
        return web.json_response({"error": error}, status=401)

    def _error(self, status: int) -> dict[str, Any]:
        return {"error": {"message": "Rate limit reached", "type": "requests"}}

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
        project = request.match_info["project"]
        keys = [{"object": "organization.project.api_key", **key} for key in self.api_keys[project]]
        return web.json_response(_listed(keys, request))


def _listed(items: list[dict[str, Any]], request: web.Request) -> dict[str, Any]:
    """One item per page, after `after`, as OpenAI's lists answer."""
    ids = [item["id"] for item in items]
    start = ids.index(request.query["after"]) + 1 if "after" in request.query else 0
    page = items[start:start + 1]
    return {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": start + 1 < len(items)}


@dataclass
class FakeAnthropicAdmin(AdminApi):
    """Anthropic's usage report, cost report and API key list, in their documented shapes: one
    bucket (or key) per page, `failures` first (429 with `retry-after: 0`), 401 for a wrong key."""

    key: str
    usage: dict[date, list[dict[str, Any]]]
    costs: dict[date, list[dict[str, Any]]]  # amounts in cents, as decimal strings
    api_keys: list[dict[str, Any]]
    failures: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def routes(self) -> dict[str, Handler]:
        return {"/v1/organizations/usage_report/messages": self._usage,
                "/v1/organizations/cost_report": self._costs, "/v1/organizations/api_keys": self._keys}

    def _key_given(self, request: web.Request) -> bool:
        return request.headers.get("x-api-key") == self.key and request.headers.get("anthropic-version") == "2023-06-01"

    def _wrong_key(self) -> web.Response:
        return web.json_response({"type": "error", "error": {"type": "authentication_error",
                                                             "message": "invalid x-api-key"}}, status=401)

    def _error(self, status: int) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}

    async def _usage(self, request: web.Request) -> web.Response:
        return self._buckets(request, self.usage)

    async def _costs(self, request: web.Request) -> web.Response:
        return self._buckets(request, self.costs)

    def _buckets(self, request: web.Request, results: dict[date, list[dict[str, Any]]]) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        start = datetime.fromisoformat(request.query["starting_at"].replace("Z", "+00:00")).date()
        days = sorted(day for day in results if day >= start)
        index = int(request.query.get("page", "0"))
        day = days[index]
        bucket = {"starting_at": f"{day}T00:00:00Z", "ending_at": f"{day}T23:59:59Z", "results": results[day]}
        more = index + 1 < len(days)
        return web.json_response({"data": [bucket], "has_more": more, "next_page": str(index + 1) if more else None})

    async def _keys(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        ids = [key["id"] for key in self.api_keys]
        start = ids.index(request.query["after_id"]) + 1 if "after_id" in request.query else 0
        page = [{"type": "api_key", "status": "active", **key} for key in self.api_keys[start:start + 1]]
        return web.json_response({"data": page, "has_more": start + 1 < len(ids),
                                  "first_id": page[0]["id"] if page else None,
                                  "last_id": page[-1]["id"] if page else None})


@dataclass
class FakeOpenRouterAdmin(AdminApi):
    """OpenRouter's key list (paged by offset, one key a page), per-key activity and
    per-generation records (404 for an id it does not know), with `failures` first (429 with
    `retry-after: 0`)."""

    key: str
    keys: list[dict[str, Any]]  # {hash, label, name}
    activity: dict[str, list[dict[str, Any]]]  # key hash -> its activity items
    generations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> its `data`
    failures: list[int] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def routes(self) -> dict[str, Handler]:
        return {"/api/v1/keys": self._keys, "/api/v1/activity": self._activity,
                "/api/v1/generation": self._generation}

    def _key_given(self, request: web.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.key}"

    def _wrong_key(self) -> web.Response:
        return web.json_response({"error": {"code": 401, "message": "No auth credentials found"}}, status=401)

    def _error(self, status: int) -> dict[str, Any]:
        return {"error": {"code": status, "message": "Rate limit exceeded"}}

    async def _keys(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        offset = int(request.query.get("offset", "0"))
        return web.json_response({"data": self.keys[offset:offset + 1]})

    async def _activity(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        return web.json_response({"data": self.activity.get(request.query["api_key_hash"], [])})

    async def _generation(self, request: web.Request) -> web.Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        generation = self.generations.get(request.query["id"])
        if generation is None:
            return web.json_response({"error": {"code": 404, "message": "Generation not found"}}, status=404)
        return web.json_response({"data": generation})
