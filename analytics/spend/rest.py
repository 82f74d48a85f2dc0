"""LiteLLM's REST API: `/spend/logs/v2` page by page, or `/spend/logs` on a proxy without it.

The window is fetched one UTC day at a time, oldest rows first (`sort_by=startTime`,
ascending), so rows LiteLLM logs while we page land on later pages and never shift the
earlier ones. Both endpoints stop at 10,000 rows:
- v2 counts at most 10,000 and says `total_is_capped`; such a window is halved and each
  half fetched again (v2 takes times to the second), so every row is fetched;
- `/spend/logs` returns its newest 10,000 with `x-litellm-spend-logs-truncated: true` and
  takes whole days only, so a day it truncates cannot be split: the rows it gave are
  imported and a warning names the incomplete day (import that day from the database).
Windows overlap by their boundary second; storing is idempotent by request_id.

Requests are retried as analytics.retrying_http does (429, 5xx and failed connections).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, overload

import httpx

from analytics.retrying_http import get_retrying, json_of
from analytics.spend.rows import SpendRowError, record_from_row
from analytics.spend.source import Progress, SpendInputError, SpendSourceError
from offgate.store import naive_utc
from offgate.store.spend import SpendRecord

V2_PATH = "/spend/logs/v2"
V1_PATH = "/spend/logs"
PAGE_SIZE = 1000  # v2's largest page
TRUNCATED_HEADER = "x-litellm-spend-logs-truncated"
DEFAULT_WINDOW = timedelta(days=30)
RETRIES = 3
RETRY_DELAY_S = 0.5
TIMEOUT_S = 60.0
SECOND = timedelta(seconds=1)


class _NoV2(Exception):
    """The proxy answers 404 to /spend/logs/v2: it predates it."""


class RestSpendSource:
    kind = "rest"

    def __init__(self, base_url: str, key: str | None, *, since: datetime | None = None,
                 until: datetime | None = None, retries: int = RETRIES, retry_delay: float = RETRY_DELAY_S,
                 timeout: float = TIMEOUT_S) -> None:
        if not key:
            raise SpendInputError("LiteLLM's spend API needs a key: pass --key or set LITELLM_MASTER_KEY")
        self.base_url = base_url.rstrip("/")
        self.until = naive_utc(until) if until else datetime.now(UTC).replace(tzinfo=None)
        self.since = naive_utc(since) if since else self.until - DEFAULT_WINDOW
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self._key = key
        self._retries = retries
        self._retry_delay = retry_delay
        self._timeout = timeout
        self._has_v2 = True  # until the proxy answers 404 to it

    def describe(self) -> str:
        return f"LiteLLM's spend API at {self.base_url}"

    def batches(self, progress: Progress) -> Iterator[list[SpendRecord]]:
        days = day_windows(self.since, self.until)
        headers = {"Authorization": f"Bearer {self._key}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=self._timeout) as client:
            for done, (start, end) in enumerate(days, start=1):
                if self._has_v2:
                    try:
                        yield from self._v2_window(client, start, end)
                    except _NoV2:
                        self._has_v2 = False
                if not self._has_v2:
                    yield self._v1_day(client, start)
                progress(done, len(days))

    # -- /spend/logs/v2 -------------------------------------------------------------------

    def _v2_window(self, client: httpx.Client, start: datetime, end: datetime) -> Iterator[list[SpendRecord]]:
        page = self._v2_page(client, start, end, 1)
        if page.get("total_is_capped"):
            middle = start + (end - start) // 2 // SECOND * SECOND
            if middle > start:
                yield from self._v2_window(client, start, middle)
                yield from self._v2_window(client, middle, end)
                return
            self.warnings.append(f"{_second(start)}: more than 10,000 spend rows within one second; "
                                 "only the first 10,000 were imported")
        yield self._records(page["data"])
        for number in range(2, int(page.get("total_pages") or 1) + 1):
            yield self._records(self._v2_page(client, start, end, number)["data"])

    def _v2_page(self, client: httpx.Client, start: datetime, end: datetime, page: int) -> dict[str, Any]:
        """One page; _NoV2 if the proxy has no such endpoint (a 404 to a first page)."""
        params = {"start_date": _second(start), "end_date": _second(_ceil_second(end)), "page": page,
                  "page_size": PAGE_SIZE, "sort_by": "startTime", "sort_order": "asc"}
        response = self._get(client, V2_PATH, params, missing_ok=page == 1)
        if response is None:
            raise _NoV2
        body = self._json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise SpendSourceError(f"{self.describe()}: {V2_PATH} did not answer with a page of rows")
        return body

    # -- /spend/logs (before v2) ------------------------------------------------------------

    def _v1_day(self, client: httpx.Client, start: datetime) -> list[SpendRecord]:
        day = start.date()
        params = {"start_date": day.isoformat(), "end_date": (day + timedelta(days=1)).isoformat(),
                  "summarize": "false"}
        response = self._get(client, V1_PATH, params, missing_ok=False)
        rows = self._json(response)
        if not isinstance(rows, list):
            raise SpendSourceError(f"{self.describe()}: {V1_PATH} did not answer with a list of rows")
        if response.headers.get(TRUNCATED_HEADER, "").lower() == "true":
            self.warnings.append(
                f"{day}: LiteLLM's /spend/logs gave only its newest {len(rows):,} rows of that day "
                "(it cannot be asked for less than a day); import that day from LiteLLM's database, "
                "or upgrade LiteLLM to one with /spend/logs/v2")
        return self._records(rows)

    # -- HTTP ----------------------------------------------------------------------------------

    @overload
    def _get(self, client: httpx.Client, path: str, params: dict[str, Any], *,
             missing_ok: Literal[False]) -> httpx.Response: ...

    @overload
    def _get(self, client: httpx.Client, path: str, params: dict[str, Any], *,
             missing_ok: bool) -> httpx.Response | None: ...

    def _get(self, client: httpx.Client, path: str, params: dict[str, Any], *,
             missing_ok: bool) -> httpx.Response | None:
        return get_retrying(client, path, params, describe=self.describe(), error=SpendSourceError,
                            refused_hint="pass the master key, or a key allowed to read spend logs, "
                            "with --key or LITELLM_MASTER_KEY",
                            retries=self._retries, retry_delay=self._retry_delay, missing_ok=missing_ok)

    def _json(self, response: httpx.Response) -> Any:
        return json_of(response, describe=self.describe(), error=SpendSourceError)

    def _records(self, rows: list[Any]) -> list[SpendRecord]:
        records = []
        for row in rows:
            try:
                if not isinstance(row, dict):
                    raise SpendRowError("not a JSON object")
                records.append(record_from_row(row))
            except SpendRowError as exc:
                self.problems.append(f"row {row.get('request_id') if isinstance(row, dict) else row!r}: {exc}")
        return records


def day_windows(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until] cut at each UTC midnight; the first and last window may be partial."""
    windows, start = [], since
    while start < until:
        end = min(datetime.combine(start.date() + timedelta(days=1), datetime.min.time()), until)
        windows.append((start, end))
        start = end
    return windows


def _second(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _ceil_second(moment: datetime) -> datetime:
    return moment if moment.microsecond == 0 else moment.replace(microsecond=0) + SECOND

