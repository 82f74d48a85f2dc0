"""GET a provider's admin API as JSON, with analytics.retrying_http's retries; a refused key is
one that is no admin key."""

from __future__ import annotations

from typing import Any

import httpx

from analytics.bill.source import BillSourceError
from analytics.retrying_http import get_retrying, json_of

RETRIES = 4
RETRY_DELAY_S = 0.5
TIMEOUT_S = 60.0


def get_json(client: httpx.Client, path: str, params: Any, *, describe: str, retries: int = RETRIES,
             retry_delay: float = RETRY_DELAY_S) -> Any:
    response = get_retrying(client, path, params, describe=describe, error=BillSourceError,
                            refused_hint="these reports need an admin key", retries=retries, retry_delay=retry_delay)
    return json_of(response, describe=describe, error=BillSourceError)
