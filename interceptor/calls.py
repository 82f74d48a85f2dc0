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
    """One intercepted LLM call while it is in flight: an HTTP exchange, or a WebSocket
    session whose responses are recorded one by one."""

    match: Match
    parser: CallParser
    client_id: str
    host: str
    path: str
    method: str
    started: float | None  # None: a session between responses, waiting for its next message
    app: str | None = None
    key_fingerprint: str | None = None
    litellm_call_id: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    first_chunk: float | None = None
    done: bool = False

    def finished(self, reading: Reading, status_code: int | None, ended: float) -> FinishedCall:
        """What the writer records for this reading. Time and bytes are counted from the
        previous reading on, so each response of a session gets its own."""
        started = ended if self.started is None else self.started
        done = FinishedCall(self, reading, status_code, started, ended, self.first_chunk,
                            self.request_bytes, self.response_bytes)
        self.started, self.first_chunk, self.request_bytes, self.response_bytes = None, None, 0, 0
        return done


@dataclass(slots=True)
class FinishedCall:
    """What the writer thread turns into a UsageEvent."""

    call: Call
    reading: Reading
    status_code: int | None
    started: float
    ended: float
    first_chunk: float | None
    request_bytes: int
    response_bytes: int
