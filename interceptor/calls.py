"""The state of one intercepted call, from its request headers to its event.

Kept apart from addon.py so that file also loads as a plain `mitmdump -s` script
(dataclasses need their module in sys.modules, which a script's is not).
"""

from __future__ import annotations

from dataclasses import dataclass

from offgate.catalog.base import CallParser, Reading
from offgate.catalog.registry import Match


@dataclass(slots=True)
class Call:
    """One intercepted LLM call while it is in flight."""

    match: Match
    parser: CallParser
    client_id: str
    host: str
    path: str
    method: str
    started: float
    app: str | None = None
    key_fingerprint: str | None = None
    litellm_call_id: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    first_chunk: float | None = None
    done: bool = False


@dataclass(slots=True)
class FinishedCall:
    """What the writer thread turns into a UsageEvent."""

    call: Call
    reading: Reading
    status_code: int | None
    ended: float
