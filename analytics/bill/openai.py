"""OpenAI's organization Usage and Costs APIs (an admin key, sk-admin-...):

- `GET /v1/organization/usage/completions`: tokens per 1-day bucket, grouped by project_id,
  api_key_id, model and batch (input_tokens include input_cached_tokens);
- `GET /v1/organization/costs`: USD per 1-day bucket, grouped by project_id and line_item
  ("gpt-4o-mini-2024-07-18, input"); it names no key;
- `GET /v1/organization/projects` and `/projects/{id}/api_keys`: each key's id and
  `redacted_value`, the hint the join needs.
Usage and costs page with `page` = the previous answer's `next_page` while `has_more`; the
lists with `after` = `last_id`. A model's cost of a day and project is shared among its keys
by their tokens at list price (by tokens where the model has none).
Docs: https://platform.openai.com/docs/api-reference/usage, .../usage/costs,
.../project-api-keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx

from analytics.bill.admin_api import AdminApiBillSource
from analytics.bill.sharing import Cell, cell_of, share_costs
from analytics.spend.source import Progress
from offgate.store.bill import BillLine

BASE_URL = "https://api.openai.com"
BUCKETS_PER_PAGE = 31
LIST_PAGE = 100


class OpenAiBillSource(AdminApiBillSource):
    kind = "openai"
    default_base_url = BASE_URL
    api_name = "OpenAI's organization usage API"
    missing_key = "OpenAI's usage and costs need an admin key: --key-file or OPENAI_ADMIN_KEY"

    def lines(self, progress: Progress) -> Iterator[list[BillLine]]:
        hints, usage, costs = self._hints_usage_costs(
            {"Authorization": f"Bearer {self._key}"}, progress,
            ("/v1/organization/usage/completions", ["project_id", "api_key_id", "model", "batch"]),
            ("/v1/organization/costs", ["project_id", "line_item"]))
        yield _priced(usage, costs, hints, self.problems)

    def _report(self, client: httpx.Client, path: str, group_by: list[str]) -> Iterator[tuple[date, dict[str, Any]]]:
        params: list[tuple[str, str | int]] = [
            ("start_time", int(self.since.replace(tzinfo=UTC).timestamp())),
            ("end_time", int(self.until.replace(tzinfo=UTC).timestamp())),
            ("bucket_width", "1d"), ("limit", BUCKETS_PER_PAGE), *(("group_by", name) for name in group_by)]
        return self._buckets(client, path, params,
                             lambda bucket: datetime.fromtimestamp(int(bucket["start_time"]), UTC).date())

    def _listed(self, client: httpx.Client, path: str) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            body = self._get(client, path, {"limit": LIST_PAGE, **({"after": after} if after else {})})
            yield from body.get("data") or []
            after = body.get("last_id")
            if not body.get("has_more") or not after:
                return

    def _key_hints(self, client: httpx.Client) -> dict[str, str]:
        projects = self._listed(client, "/v1/organization/projects")
        return {str(key["id"]): str(key.get("redacted_value") or "") for project in projects
                for key in self._listed(client, f"/v1/organization/projects/{project['id']}/api_keys")}


def _priced(usage: list[tuple[date, dict[str, Any]]], costs: list[tuple[date, dict[str, Any]]],
            hints: dict[str, str], problems: list[str]) -> list[BillLine]:
    billed: dict[Cell, float] = defaultdict(float)
    for day, cost in costs:
        amount = cost.get("amount") or {}
        if str(amount.get("currency", "usd")).lower() != "usd":
            problems.append(f"{day}: a cost in {amount.get('currency')}, not USD, left out")
            continue
        model = str(cost.get("line_item") or "").partition(", ")[0]
        billed[cell_of(day, cost.get("project_id"), model)] += float(amount.get("value") or 0.0)
    return share_costs([_line(day, result, hints) for day, result in usage], billed)


def _line(day: date, result: dict[str, Any], hints: dict[str, str]) -> BillLine:
    cached = int(result.get("input_cached_tokens") or 0)
    key_id = result.get("api_key_id")
    return BillLine(provider="openai", day=day, model=result.get("model"), key_id=key_id,
                    key_hint=hints.get(key_id) or None if key_id else None, account=result.get("project_id"),
                    input_tokens=int(result.get("input_tokens") or 0) - cached, cache_read_tokens=cached,
                    output_tokens=int(result.get("output_tokens") or 0),
                    requests=result.get("num_model_requests"), batch=bool(result.get("batch")))
