"""Anthropic's Admin API usage and cost reports (an admin key, sk-ant-admin...):

- `GET /v1/organizations/usage_report/messages`: tokens per 1-day bucket grouped by
  api_key_id, workspace_id and model; uncached input, cache reads and cache writes
  (`cache_creation`: 5-minute and 1-hour) apart; service_tier "batch" for the Batch API;
- `GET /v1/organizations/cost_report`: USD per day grouped by workspace_id and description
  (each result names its model); `amount` is a decimal string in cents;
- `GET /v1/organizations/api_keys`: each key's id and `partial_key_hint`.
Reports page with `page` = the previous answer's `next_page` while `has_more`; the key list
with `after_id` = `last_id`. Headers: `x-api-key` and `anthropic-version: 2023-06-01`.
Docs: https://docs.anthropic.com/en/api/admin-api/usage-cost/get-messages-usage-report,
.../get-cost-report, https://docs.anthropic.com/en/api/admin-api/apikeys/list-api-keys.
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

BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
BUCKETS_PER_PAGE = 31
LIST_PAGE = 100


class AnthropicBillSource(AdminApiBillSource):
    kind = "anthropic"
    default_base_url = BASE_URL
    api_name = "Anthropic's Admin API"
    missing_key = "Anthropic's usage and cost reports need an admin key: --key-file or ANTHROPIC_ADMIN_KEY"

    def lines(self, progress: Progress) -> Iterator[list[BillLine]]:
        hints, usage, costs = self._hints_usage_costs(
            {"x-api-key": self._key, "anthropic-version": API_VERSION}, progress,
            ("/v1/organizations/usage_report/messages", ["api_key_id", "workspace_id", "model", "service_tier"]),
            ("/v1/organizations/cost_report", ["workspace_id", "description"]))
        billed: dict[Cell, float] = defaultdict(float)
        for day, cost in costs:
            if str(cost.get("currency", "USD")).upper() != "USD":
                self.problems.append(f"{day}: a cost in {cost.get('currency')}, not USD, left out")
                continue
            billed[cell_of(day, cost.get("workspace_id"), cost.get("model"))] += float(cost.get("amount") or 0) / 100
        yield share_costs([_line(day, result, hints) for day, result in usage], billed)

    def _report(self, client: httpx.Client, path: str, group_by: list[str]) -> Iterator[tuple[date, dict[str, Any]]]:
        params: list[tuple[str, str | int]] = [
            ("starting_at", _rfc3339(self.since)), ("ending_at", _rfc3339(self.until)), ("bucket_width", "1d"),
            ("limit", BUCKETS_PER_PAGE), *(("group_by[]", name) for name in group_by)]
        return self._buckets(client, path, params, lambda bucket: datetime.fromisoformat(
            str(bucket["starting_at"]).replace("Z", "+00:00")).date())

    def _key_hints(self, client: httpx.Client) -> dict[str, str]:
        hints: dict[str, str] = {}
        after: str | None = None
        while True:
            body = self._get(client, "/v1/organizations/api_keys",
                             {"limit": LIST_PAGE, **({"after_id": after} if after else {})})
            hints.update({str(key["id"]): str(key.get("partial_key_hint") or "") for key in body.get("data") or []})
            after = body.get("last_id")
            if not body.get("has_more") or not after:
                return hints


def _line(day: date, result: dict[str, Any], hints: dict[str, str]) -> BillLine:
    creation = result.get("cache_creation") or {}
    key_id = result.get("api_key_id")
    return BillLine(
        provider="anthropic", day=day, model=result.get("model"), key_id=key_id,
        key_hint=hints.get(key_id) or None if key_id else None, account=result.get("workspace_id"),
        input_tokens=int(result.get("uncached_input_tokens") or 0),
        cache_read_tokens=int(result.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(creation.get("ephemeral_5m_input_tokens") or 0)
        + int(creation.get("ephemeral_1h_input_tokens") or 0),
        output_tokens=int(result.get("output_tokens") or 0), batch=result.get("service_tier") == "batch")


def _rfc3339(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
