"""Time windows given on the command line: a span back from now (`90m`, `1h`, `7d`, `2w`)
or an ISO 8601 time (naive times are UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The start of a window, as an aware UTC datetime; ValueError says what is accepted."""
    span = _span(text)
    if span is not None:
        return (now or datetime.now(UTC)) - span
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use a span like 30m, 1h, 7d, 2w or an ISO 8601 time"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_span(text: str) -> timedelta:
    """A length of time such as 30s, 5m, 1h, 7d or 2w; ValueError says what is accepted."""
    span = _span(text)
    if span is None:
        raise ValueError(f"{text!r} is not a length of time: use a number and a unit, like 30s, 5m, 1h or 1d")
    return span


def _span(text: str) -> timedelta | None:
    found = _SPAN.match(text)
    if not found:
        return None
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
