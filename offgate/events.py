"""UsageEvent: the one record every capture path produces.

Token fields follow LiteLLM's convention so they compare with its spend rows:
`prompt_tokens` counts every input token (cache reads and writes included),
`completion_tokens` includes reasoning tokens. Cached, reasoning and audio tokens are
parts of those two counts, None when the call does not report them.

Every text field is made storable where the event is made: what a page or a provider sent
may hold characters no store keeps (PostgreSQL refuses NUL; lone surrogates cannot be
encoded as UTF-8), and a value of any length. So one odd call can never strand others.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Source = Literal["proxy", "extension", "import", "agent-log"]
Route = Literal["direct", "gateway"]
ParseStatus = Literal["ok", "partial", "unparsed"]
PolicyOutcome = Literal["blocked", "coached"]

# NUL (PostgreSQL text cannot hold it) and UTF-16 surrogates (no UTF-8 for them alone).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Names, ids and short values; the indexed columns (provider, model, response id) stay
# far below PostgreSQL's ~2700-byte index entry limit even at 4 bytes a character.
MAX_TEXT_CHARS = 256
LONG_TEXT_CHARS = {"path": 2048, "exe": 2048, "cost_note": 1024, "parse_error": 1024}


def storable_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` without the characters a store cannot hold, cut to `limit` characters."""
    return UNSTORABLE.sub("", text)[:limit]


def new_event_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class UsageEvent(BaseModel):
    """One LLM call as offgate saw it. The field names are the keys of the JSON output."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    ts: datetime = Field(default_factory=utc_now, description="when the request started (UTC)")
    source: Source = "proxy"
    route: Route = "direct"
    provider: str | None = None
    app: str | None = None
    endpoint: str | None = None
    host: str
    method: str = "POST"
    path: str
    model: str | None = None
    streamed: bool = False
    status_code: int | None = None
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)
    cached_tokens: int | None = Field(default=None, ge=0)
    cache_write_tokens: int | None = Field(default=None, ge=0)
    reasoning_tokens: int | None = Field(default=None, ge=0)
    audio_prompt_tokens: int | None = Field(default=None, ge=0, description="the prompt tokens that were audio")
    audio_completion_tokens: int | None = Field(default=None, ge=0, description="the completion tokens that were audio")
    tokens_estimated: bool = False
    cost_usd: float | None = Field(default=None, ge=0)
    cost_note: str | None = None
    provider_cost_usd: float | None = Field(default=None, ge=0, description="cost the provider itself reported")
    duration_ms: float | None = Field(default=None, ge=0)
    ttft_ms: float | None = Field(default=None, ge=0)
    request_bytes: int = Field(default=0, ge=0)
    response_bytes: int = Field(default=0, ge=0)
    response_id: str | None = None
    litellm_call_id: str | None = None
    process_name: str | None = None
    pid: int | None = None
    exe: str | None = None
    user: str | None = None
    device: str | None = None
    key_fingerprint: str | None = None
    parse_status: ParseStatus = "ok"
    parse_error: str | None = None
    witnesses: str | None = Field(default=None, description="every source that saw this call, comma-separated, "
                                  "when more than the one that recorded it")
    key_hint: str | None = Field(default=None, description="the key as its provider's console shows it")
    policy_outcome: PolicyOutcome | None = Field(
        default=None, description="what the capture path did under the policy: refused the call, or coached")
    policy_rule: str | None = Field(default=None, description="the name of the policy rule it acted on")

    @field_validator("provider", "app", "endpoint", "host", "method", "path", "model", "cost_note",
                     "response_id", "litellm_call_id", "process_name", "exe", "user", "device",
                     "key_fingerprint", "key_hint", "parse_error", "witnesses", "policy_rule")
    @classmethod
    def _storable(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return storable_text(value, LONG_TEXT_CHARS.get(info.field_name or "", MAX_TEXT_CHARS))

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # Naive times are taken as UTC (that is how the store keeps them).
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
