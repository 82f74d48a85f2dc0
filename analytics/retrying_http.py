"""GET an HTTP API patiently, the one retry policy of every importer that reads one (LiteLLM's
spend logs, the providers' bills): connection failures, timeouts, 429 and 5xx are retried
(429 after the Retry-After the server asks for, else a doubling delay); 401/403 (a wrong key)
and other 4xx (a wrong request) fail at once with the server's own message."""

from __future__ import annotations

import time
from typing import Any, Literal, overload

import httpx

LONGEST_WAIT_S = 60.0


@overload
def get_retrying(client: httpx.Client, path: str, params: Any, *, describe: str, error: type[Exception],
                 refused_hint: str, retries: int, retry_delay: float,
                 missing_ok: Literal[False] = False) -> httpx.Response: ...


@overload
def get_retrying(client: httpx.Client, path: str, params: Any, *, describe: str, error: type[Exception],
                 refused_hint: str, retries: int, retry_delay: float, missing_ok: bool) -> httpx.Response | None: ...


def get_retrying(client: httpx.Client, path: str, params: Any, *, describe: str, error: type[Exception],
                 refused_hint: str, retries: int, retry_delay: float,
                 missing_ok: bool = False) -> httpx.Response | None:
    """The answer to GET path (None for a 404 when `missing_ok`); failures raise `error`, naming
    `describe` (the server), and a refused key's error ends with `refused_hint` (what key to pass)."""
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
            return response
        if status == 404 and missing_ok:
            return None
        if status in (401, 403):
            raise error(f"{describe} refused the key ({status}: {server_message(response)}); {refused_hint}")
        failure = f"answered {status} to {path}: {server_message(response)}"
        if status != 429 and status < 500:
            raise error(f"{describe} {failure}")
        wait = _retry_after(response)
    raise error(f"{describe}: {failure} (gave up after {retries + 1} attempts)")


def json_of(response: httpx.Response, *, describe: str, error: type[Exception]) -> Any:
    try:
        return response.json()
    except ValueError:
        raise error(f"{describe} did not answer JSON to {response.url.path}") from None


def server_message(response: httpx.Response) -> str:
    """The server's own message: {"error": {"message"}} (LiteLLM, OpenAI, Anthropic, OpenRouter)
    or FastAPI's {"detail"}."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if body.get("detail"):
            return str(body["detail"])[:300]
    return str(body)[:300]


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "")), 0.0), LONGEST_WAIT_S)
    except ValueError:
        return 0.0
