"""What an agent and the collector say to each other, over HTTPS, as JSON.

- `POST /v1/enroll` with an EnrollRequest (the enrolment token inside) -> EnrollResponse,
  the device's credential.
- `POST /v1/ingest` with `Authorization: Bearer <credential>`, a gzip-compressed Batch
  (`Content-Encoding: gzip`) -> Acknowledgement. The batch is applied whole or not at all.
- `GET /v1/policy` with the credential (and `If-None-Match: "<version>"`) -> PolicyReply, the
  central policy in force (304 when it is that version). Every Acknowledgement names the
  version in force, so an agent fetches the policy only when it changed.
- `GET /v1/health` -> 200 while the collector reaches its database (for load balancers).

Every error is a status with an ErrorBody: `{"error": {"code": ..., "message": ...}}`.
Requests are validated strictly (an unknown field is refused: a typo or a newer agent is
told so instead of losing the field); replies are read leniently, so a newer collector may
add to them.
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

from offgate.events import LONG_TEXT_CHARS, MAX_TEXT_CHARS, UsageEvent

ENROLL_PATH = "/v1/enroll"
INGEST_PATH = "/v1/ingest"
HEALTH_PATH = "/v1/health"
POLICY_PATH = "/v1/policy"

# One batch: records and deletions together. The agent sends fewer (PUSH_BATCH_RECORDS).
MAX_BATCH_ITEMS = 5000
MAX_BODY_BYTES = 4 * 1024 * 1024  # as sent (gzip)
MAX_INFLATED_BYTES = 32 * 1024 * 1024  # once inflated: a gzip bomb stops here
MAX_ENROLL_BYTES = 16 * 1024

Part = Literal["proxy", "native_host"]


class ErrorCode:
    """The `code` of each refusal, one per kind of bad input, stable for scripts."""

    BAD_GZIP = "bad_gzip"  # 400
    BAD_JSON = "bad_json"  # 400
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415
    TOO_LARGE = "too_large"  # 413
    UNKNOWN_FIELD = "unknown_field"  # 422
    INVALID = "invalid"  # 422
    UNAUTHENTICATED = "unauthenticated"  # 401: no credential, or one the collector never issued
    DEVICE_REVOKED = "device_revoked"  # 403
    TOKEN_UNKNOWN = "token_unknown"  # 401
    TOKEN_EXPIRED = "token_expired"  # 403
    TOKEN_USED_UP = "token_used_up"  # 403
    TOKEN_REVOKED = "token_revoked"  # 403
    STORE_UNAVAILABLE = "store_unavailable"  # 503: try again later
    INTERNAL = "internal_error"  # 500: a fault of the collector's own; try again later
    NOT_FOUND = "not_found"  # 404
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _pushed_record() -> type[BaseModel]:
    """UsageEvent as the collector takes it: the same fields, defaults and bounds, but every
    check runs in pydantic's core, none in Python (half the collector's cost per record). A
    text the store cannot hold (a NUL) or longer than UsageEvent keeps is refused, not
    cleaned: the agent's own UsageEvent cleaned what it recorded, so only a damaged record
    has one, and the agent quarantines it. Times are made naive UTC where they are stored."""
    fields: dict[str, Any] = {}
    for name, field in UsageEvent.model_fields.items():
        annotation = field.annotation
        if annotation is str or (isinstance(annotation, types.UnionType) and str in typing.get_args(annotation)):
            limit = LONG_TEXT_CHARS.get(name, MAX_TEXT_CHARS) if name != "id" else 64
            text: Any = Annotated[str, StringConstraints(max_length=limit, pattern=_STORABLE)]
            annotation = text if annotation is str else text | None
        fields[name] = (annotation, field)
    return create_model("PushedRecord", __config__=ConfigDict(extra="forbid"), **fields)


_STORABLE = "^[^\\x00]*$"  # PostgreSQL's text holds no NUL
if TYPE_CHECKING:
    PushedRecord = UsageEvent  # the same fields; the checks differ
else:
    PushedRecord = _pushed_record()


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EnrollRequest(_Request):
    token: str = Field(min_length=1, max_length=200)
    device_name: str = Field(min_length=1, max_length=128)
    owner: str | None = Field(default=None, min_length=1, max_length=128)
    agent_version: str = Field(min_length=1, max_length=64)


class EnrollResponse(_Reply):
    device_id: str
    device_name: str  # the name the collector stores this device's records under
    credential: str


class AgentReport(_Request):
    """What the agent says of itself with every push."""

    version: str = Field(min_length=1, max_length=64)
    running: dict[Part, bool]
    last_records: dict[Literal["proxy", "extension"], datetime | None] = Field(
        description="the newest local record of each capture path")
    pending: int = Field(ge=0, description="outbox entries still waiting after this batch")
    quarantined: int = Field(default=0, ge=0, description="outbox entries the collector refused, kept on the device")


class Deletion(_Request):
    seq: int = Field(gt=0)
    id: str = Field(min_length=1, max_length=64)


class Batch(_Request):
    """Records written and deleted on the device since its last push, in outbox order.
    `outbox` names the device's outbox; `record_seqs[i]` is the position of `records[i]` in it."""

    outbox: str = Field(min_length=1, max_length=64)
    records: list[PushedRecord] = Field(max_length=MAX_BATCH_ITEMS)
    record_seqs: list[int] = Field(max_length=MAX_BATCH_ITEMS)
    deletions: list[Deletion] = Field(max_length=MAX_BATCH_ITEMS)
    agent: AgentReport

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.record_seqs) != len(self.records):
            raise ValueError(f"record_seqs has {len(self.record_seqs)} entries for {len(self.records)} records")
        if len(self.records) + len(self.deletions) > MAX_BATCH_ITEMS:
            raise ValueError(f"more than {MAX_BATCH_ITEMS} records and deletions in one batch")
        if any(seq <= 0 for seq in self.record_seqs):
            raise ValueError("record_seqs must be positive")
        return self


class Acknowledgement(_Reply):
    device: str
    stored: int  # records new to the central store
    already_stored: int  # records it had (pushed before, or under the same id); updated where they changed
    deleted: int
    skipped: int  # entries at or before `acked_through` already: applied by an earlier push
    restamped: int  # records that named another device: stored as this device's
    acked_through: int
    policy_version: str | None = None  # the central policy in force (None: a collector older than policies)


class PolicyReply(_Reply):
    version: str
    policy: dict[str, Any] | None  # the `[policy]` settings set centrally; None: no central policy


class ErrorDetail(_Reply):
    code: str
    message: str


class ErrorBody(_Reply):
    error: ErrorDetail
