"""What offgate's published JSON documents share: the report (analytics/report/document.py)
and the alert, which is also the generic webhook's payload (offgate/store/alerts.py).

Each is a pydantic model: `model_dump(mode="json")` is the JSON offgate prints, serves and
posts, and its JSON Schema is published in docs/schemas/ (analytics/schemas.py writes them).
A field's docstring is its description there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, PlainSerializer, WithJsonSchema


class Contract(BaseModel):
    """A published document: exactly the fields declared, each always present in the JSON."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True,
                              json_schema_serialization_defaults_required=True)


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# A moment in time, written as ISO 8601 in UTC with its offset: "2026-11-20T11:00:00+00:00".
UtcTime = Annotated[AwareDatetime, PlainSerializer(_iso_utc, return_type=str, when_used="json"),
                    WithJsonSchema({"type": "string", "format": "date-time"})]
