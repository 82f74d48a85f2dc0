"""One LiteLLM spend row, however it arrived, as a SpendRecord.

Every source hands over rows with the column names of LiteLLM's `LiteLLM_SpendLogs` table:
REST and SQL give them typed as LiteLLM keeps them, a CSV file gives text, a JSON-lines file
something in between, so each value is read leniently and a value that cannot be read is a
SpendRowError naming the column. A row without a `spend` has an unknown cost (None), never
$0, unless the call failed (failed calls are not billed). The CustomLogger gets a
StandardLoggingPayload instead; `row_from_logging_payload` turns it into the row LiteLLM's
proxy writes for the same call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from offgate.store.spend import SpendRecord

# Prompt and reply text (when LiteLLM stores them at all) and the request body: never kept.
BULKY_COLUMNS = frozenset({"messages", "response", "proxy_server_request"})
JSON_COLUMNS = ("metadata", "request_tags")


class SpendRowError(ValueError):
    """A spend row that cannot be read; the message names the column and the value."""


def record_from_row(row: Mapping[str, Any]) -> SpendRecord:
    """A SpendRecord from one LiteLLM_SpendLogs row (column names as in LiteLLM's schema)."""
    request_id = _text(row.get("request_id"))
    if not request_id:
        raise SpendRowError("request_id is missing")
    start_time = _time(row.get("startTime"), "startTime")
    if start_time is None:
        raise SpendRowError("startTime is missing")
    raw = {column: value for column, value in row.items() if column not in BULKY_COLUMNS}
    for column in JSON_COLUMNS:
        if column in raw:
            raw[column] = _json(raw[column], column)
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    status = _text(row.get("status"))
    spend = _number(row.get("spend"), "spend")
    return SpendRecord(
        request_id=request_id,
        start_time=start_time,
        end_time=_time(row.get("endTime"), "endTime"),
        spend=0.0 if spend is None and status == "failure" else spend,
        prompt_tokens=_count(row.get("prompt_tokens"), "prompt_tokens"),
        completion_tokens=_count(row.get("completion_tokens"), "completion_tokens"),
        total_tokens=_count(row.get("total_tokens"), "total_tokens"),
        # Older LiteLLM schemas keep the call id only inside metadata.
        litellm_call_id=_text(row.get("litellm_call_id")) or _text(metadata.get("litellm_call_id")),
        call_type=_text(row.get("call_type")),
        model=_text(row.get("model")),
        model_group=_text(row.get("model_group")),
        custom_llm_provider=_text(row.get("custom_llm_provider")),
        api_base=_text(row.get("api_base")),
        api_key=_text(row.get("api_key")),
        user=_text(row.get("user")),
        end_user=_text(row.get("end_user")),
        team_id=_text(row.get("team_id")),
        status=status,
        raw=raw,
    )


def row_from_logging_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The LiteLLM_SpendLogs row LiteLLM's proxy writes for the call this
    StandardLoggingPayload describes (its `get_logging_payload`, minus the bulky columns),
    except that a call LiteLLM could not price keeps no `spend` where LiteLLM writes 0.
    `request_id` is the payload's id: the upstream response id, else the call id."""
    metadata = payload.get("metadata") or {}
    return {
        "request_id": payload.get("id"),
        "call_type": payload.get("call_type"),
        "api_key": metadata.get("user_api_key_hash") or "",
        "spend": payload.get("response_cost"),
        "total_tokens": payload.get("total_tokens") or 0,
        "prompt_tokens": payload.get("prompt_tokens") or 0,
        "completion_tokens": payload.get("completion_tokens") or 0,
        "startTime": payload.get("startTime"),
        "endTime": payload.get("endTime"),
        "completionStartTime": payload.get("completionStartTime"),
        "model": payload.get("model") or "",
        "model_id": payload.get("model_id") or "",
        "model_group": payload.get("model_group") or "",
        "custom_llm_provider": payload.get("custom_llm_provider") or "",
        "api_base": payload.get("api_base") or "",
        "user": metadata.get("user_api_key_user_id") or "",
        "metadata": {**metadata, "litellm_call_id": payload.get("litellm_call_id"),
                     "cost_breakdown": payload.get("cost_breakdown")},
        "cache_hit": str(payload.get("cache_hit")),
        "cache_key": payload.get("cache_key"),
        "request_tags": payload.get("request_tags") or [],
        "team_id": metadata.get("user_api_key_team_id") or "",
        "organization_id": metadata.get("user_api_key_org_id") or "",
        "end_user": payload.get("end_user") or "",
        "requester_ip_address": payload.get("requester_ip_address"),
        "session_id": payload.get("session_id"),
        "status": payload.get("status"),
        "litellm_call_id": payload.get("litellm_call_id"),
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _time(value: Any, column: str) -> datetime | None:
    """Naive UTC from a datetime (naive is UTC), epoch seconds, or ISO 8601 text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise SpendRowError(f"{column}: {value!r} is not an ISO 8601 time") from None
    else:
        raise SpendRowError(f"{column}: {value!r} is not a time")
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _number(value: Any, column: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpendRowError(f"{column}: {value!r} is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise SpendRowError(f"{column}: {value!r} is not a number")
    return number


def _count(value: Any, column: str) -> int:
    number = _number(value, column) or 0.0
    if number < 0 or not number.is_integer():
        raise SpendRowError(f"{column}: {value!r} is not a token count")
    return int(number)


def _json(value: Any, column: str) -> Any:
    """A JSON column: as given when already parsed, parsed when it is JSON text."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise SpendRowError(f"{column}: not JSON ({exc.msg} at {exc.pos})") from None
