"""What the providers' admin-API bill sources share: the key they cannot do without, the
window, patient GETs (analytics.bill.http) and the usage/cost reports' paging by 1-day bucket
(OpenAI's and Anthropic's: `page` = the previous answer's `next_page` while `has_more`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import httpx

from analytics.bill.http import RETRY_DELAY_S, TIMEOUT_S, get_json
from analytics.bill.source import BillInputError, BillSourceError
from analytics.spend.source import Progress

Report = list[tuple[date, dict[str, Any]]]


class AdminApiBillSource:
    default_base_url: str
    api_name: str  # "OpenAI's organization usage API"
    missing_key: str  # what to pass when no key was given

    def __init__(self, key: str | None, *, since: datetime, until: datetime, base_url: str | None = None,
                 retry_delay: float = RETRY_DELAY_S) -> None:
        if not key:
            raise BillInputError(self.missing_key)
        self._key, self.since, self.until = key, since, until
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._retry_delay = retry_delay
        self.problems: list[str] = []

    def describe(self) -> str:
        return f"{self.api_name} at {self.base_url}"

    def _hints_usage_costs(self, headers: dict[str, str], progress: Progress, usage: tuple[str, list[str]],
                           costs: tuple[str, list[str]]) -> tuple[dict[str, str], Report, Report]:
        """The keys' hints, then the usage and the cost report (path, group_by), whole."""
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=TIMEOUT_S) as client:
            hints = self._key_hints(client)
            progress(1, 3)
            usage_results = list(self._report(client, *usage))
            progress(2, 3)
            cost_results = list(self._report(client, *costs))
            progress(3, 3)
        return hints, usage_results, cost_results

    def _key_hints(self, client: httpx.Client) -> dict[str, str]:
        """Each key's id and the hint of it the provider shows."""
        raise NotImplementedError

    def _report(self, client: httpx.Client, path: str, group_by: list[str]) -> Iterator[tuple[date, dict[str, Any]]]:
        """A usage or cost report's results of the window, each with its day."""
        raise NotImplementedError

    def _get(self, client: httpx.Client, path: str, params: Any) -> Any:
        return get_json(client, path, params, describe=self.describe(), retry_delay=self._retry_delay)

    def _buckets(self, client: httpx.Client, path: str, params: list[tuple[str, str | int]],
                 day_of: Callable[[dict[str, Any]], date]) -> Iterator[tuple[date, dict[str, Any]]]:
        """Each result of each 1-day bucket with its day, page after page."""
        page: str | None = None
        while True:
            body = self._get(client, path, params + ([("page", page)] if page else []))
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise BillSourceError(f"{self.describe()}: {path} did not answer with a page of buckets")
            for bucket in body["data"]:
                day = day_of(bucket)
                for result in bucket.get("results") or []:
                    yield day, result
            page = body.get("next_page")
            if not body.get("has_more") or not page:
                return
