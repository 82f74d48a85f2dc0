"""GET a provider's admin API as JSON, patiently: connection failures, timeouts, 429 and 5xx
are retried (429 after the Retry-After the provider asks for, else a doubling delay); 401/403
(a key that is no admin key) and other 4xx fail at once with the provider's own message."""

from __future__ import annotations

import time
from typing import Any

import httpx

from analytics.bill.source import BillSourceError

RETRIES = 4
RETRY_DELAY_S = 0.5
LONGEST_WAIT_S = 60.0
TIMEOUT_S = 60.0


def get_json(client: httpx.Client, path: str, params: Any, *, describe: str, retries: int = RETRIES,
             retry_delay: float = RETRY_DELAY_S) -> Any:
    failure, wait = "", 0.0
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(wait or retry_delay * 2 ** (attempt - 1))
        wait = 0.0
        try:
            response = client.get(path, params=params)
        except httpx.TransportError as exc:
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            continue
        status = response.status_code
        if status < 400:
            try:
                return response.json()
            except ValueError:
                raise BillSourceError(f"{describe} did not answer JSON to {path}") from None
        if status in (401, 403):
            raise BillSourceError(f"{describe} refused the key ({status}: {_detail(response)}); "
                                  "these reports need an admin key")
        failure = f"answered {status} to {path}: {_detail(response)}"
        if status != 429 and status < 500:
            raise BillSourceError(f"{describe} {failure}")
        wait = _retry_after(response)
    raise BillSourceError(f"{describe}: {failure} (gave up after {retries + 1} attempts)")


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "")), 0.0), LONGEST_WAIT_S)
    except ValueError:
        return 0.0


def _detail(response: httpx.Response) -> str:
    """The provider's own message: {"error": {"message"}} (OpenAI, Anthropic, OpenRouter)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    return str(body)[:300]
