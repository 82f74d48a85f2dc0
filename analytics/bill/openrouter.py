"""OpenRouter's activity (a management key): `GET /api/v1/keys` lists the keys (`hash`, and
`label`, the hint "sk-or-v1-0e6...1c96"; paged by `offset`), and `GET /api/v1/activity?
api_key_hash=...` gives each key's last 30 completed UTC days per model and endpoint: `usage`
(USD spent), `requests`, `prompt_tokens`, `completion_tokens`, `reasoning_tokens`.
Docs: https://openrouter.ai/docs/api/api-reference/analytics/get-user-activity,
https://openrouter.ai/docs/api/api-reference/api-keys/list-api-keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx

from analytics.bill.admin_api import AdminApiBillSource
from analytics.bill.http import TIMEOUT_S
from analytics.bill.source import BillSourceError
from analytics.spend.source import Progress
from offgate.store.bill import BillLine

BASE_URL = "https://openrouter.ai"


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
