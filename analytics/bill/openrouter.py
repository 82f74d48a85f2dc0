"""OpenRouter's activity (a management key): `GET /api/v1/keys` lists the keys (`hash`, and
`label`, the hint "sk-or-v1-0e6...1c96"; paged by `offset`), and `GET /api/v1/activity?
api_key_hash=...` gives each key's last 30 completed UTC days per model and endpoint: `usage`
(USD spent), `requests`, `prompt_tokens`, `completion_tokens`, `reasoning_tokens`.
Docs: https://openrouter.ai/docs/api/api-reference/analytics/get-user-activity,
https://openrouter.ai/docs/api/api-reference/api-keys/list-api-keys.

Per call, `GET /api/v1/generation?id=gen-...` gives one generation's `total_cost` (USD) and
its native token counts (`native_tokens_prompt`, `_completion`, `_cached`, `_reasoning`);
an id it does not know (yet: a generation shows a few seconds after the call) is a 404.
Docs: https://openrouter.ai/docs/api/api-reference/generations/get-generation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

import httpx

from analytics.bill.admin_api import AdminApiBillSource
from analytics.bill.http import RETRIES, RETRY_DELAY_S, TIMEOUT_S
from analytics.bill.source import BillSourceError
from analytics.retrying_http import get_retrying, json_of
from analytics.spend.source import Progress
from offgate.store.bill import BillLine
from offgate.store.generations import GenerationCost
from offgate.store.sql import naive_utc

BASE_URL = "https://openrouter.ai"
GENERATION_INTERVAL_S = 0.2  # between look-ups: a month of calls is thousands, OpenRouter's limits are per second


class OpenRouterBillSource(AdminApiBillSource):
    kind = "openrouter"
    default_base_url = BASE_URL
    api_name = "OpenRouter's activity API"
    missing_key = "OpenRouter's activity needs a management key: --key-file or OPENROUTER_MANAGEMENT_KEY"

    def lines(self, progress: Progress) -> Iterator[list[BillLine]]:
        with httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self._key}"},
                          timeout=TIMEOUT_S) as client:
            keys = self._keys(client)
            for done, key in enumerate(keys, start=1):
                body = self._get(client, "/api/v1/activity", {"api_key_hash": key["hash"]})
                if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                    raise BillSourceError(f"{self.describe()}: /api/v1/activity did not answer with a list of activity")
                yield [line for item in body["data"] if (line := self._line(item, key)) is not None]
                progress(done, len(keys))

    def generations(self, interval: float = GENERATION_INTERVAL_S) -> OpenRouterGenerations:
        """The per-generation costs, read with the same key."""
        return OpenRouterGenerations(self._key, base_url=self.base_url, retry_delay=self._retry_delay,
                                     interval=interval)

    def _keys(self, client: httpx.Client) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = []
        while True:
            page = self._get(client, "/api/v1/keys", {"offset": len(keys)}).get("data") or []
            keys.extend(page)
            if not page:
                return keys

    def _line(self, item: dict[str, Any], key: dict[str, Any]) -> BillLine | None:
        day = date.fromisoformat(str(item["date"])[:10])
        if not self.since.date() <= day <= self.until.date():
            return None
        return BillLine(provider="openrouter", day=day, model=item.get("model_permaslug") or item.get("model"),
                        key_id=key["hash"], key_hint=key.get("label") or None, account=item.get("endpoint_id"),
                        input_tokens=int(item.get("prompt_tokens") or 0),
                        output_tokens=int(item.get("completion_tokens") or 0), requests=item.get("requests"),
                        cost_usd=float(item.get("usage") or 0.0))


class OpenRouterGenerations:
    """Each generation's billed cost, one `GET /api/v1/generation` a generation, paced and retried."""

    def __init__(self, key: str, *, base_url: str = BASE_URL, retry_delay: float = RETRY_DELAY_S,
                 interval: float = GENERATION_INTERVAL_S) -> None:
        self._key, self.base_url, self._retry_delay, self._interval = key, base_url.rstrip("/"), retry_delay, interval
        self.unknown: list[str] = []  # ids OpenRouter answered 404 for
        self.problems: list[str] = []

    def describe(self) -> str:
        return f"OpenRouter's generation API at {self.base_url}"

    def costs(self, ids: Sequence[str], progress: Progress) -> Iterator[GenerationCost]:
        with httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self._key}"},
                          timeout=TIMEOUT_S) as client:
            asked = 0.0
            for done, generation in enumerate(ids, start=1):
                time.sleep(max(asked + self._interval - time.monotonic(), 0.0))
                asked = time.monotonic()
                response = get_retrying(client, "/api/v1/generation", {"id": generation}, describe=self.describe(),
                                        error=BillSourceError, refused_hint="pass an OpenRouter API or management key",
                                        retries=RETRIES, retry_delay=self._retry_delay, missing_ok=True)
                if response is None:
                    self.unknown.append(generation)
                elif (cost := self._cost(generation, json_of(response, describe=self.describe(),
                                                             error=BillSourceError))) is not None:
                    yield cost
                progress(done, len(ids))

    def _cost(self, generation: str, body: Any) -> GenerationCost | None:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("total_cost"), int | float):
            self.problems.append(f"generation {generation}: OpenRouter's answer has no total_cost")
            return None
        created = data.get("created_at")
        return GenerationCost(
            id=generation, model=data.get("model"),
            created_at=naive_utc(datetime.fromisoformat(created)) if isinstance(created, str) else None,
            cost_usd=float(data["total_cost"]),
            native_tokens_prompt=int(data.get("native_tokens_prompt") or 0),
            native_tokens_completion=int(data.get("native_tokens_completion") or 0),
            native_tokens_cached=int(data.get("native_tokens_cached") or 0),
            native_tokens_reasoning=int(data.get("native_tokens_reasoning") or 0))
