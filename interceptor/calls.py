"""The state of one intercepted call, from its request headers to its event.

Kept apart from addon.py so that file also loads as a plain `mitmdump -s` script
(dataclasses need their module in sys.modules, which a script's is not).
"""

from __future__ import annotations

from dataclasses import dataclass

from offgate.catalog.base import CallParser, Reading
from offgate.catalog.registry import Match
from offgate.metering import Metered, ResponseMeter


@dataclass(slots=True)
class Call:
    """One intercepted LLM call while it is in flight: an HTTP exchange, or a WebSocket
    session whose responses are recorded one by one."""

    match: Match
    parser: CallParser
    client_id: str
    host: str
    path: str
    method: str
    meter: ResponseMeter
    app: str | None = None
    key_fingerprint: str | None = None
    litellm_call_id: str | None = None
    done: bool = False

    def finished(self, reading: Reading, status_code: int | None, ended: float) -> FinishedCall:
        """What the writer records for this reading. Time and bytes are counted from the
        previous reading on, so each response of a session gets its own."""
        return FinishedCall(self, reading, status_code, self.meter.take(ended))


@dataclass(slots=True)
class FinishedCall:
    """What the writer thread turns into a UsageEvent."""

    call: Call
    reading: Reading
    status_code: int | None
    metered: Metered
