"""Time and bytes of one response, as a capture path sees its pieces go by.

A WebSocket session carries many responses: each gets the time and bytes since the one
before it, so the meter is read and reset at every response (`take`). The proxy and the
native host meter the same way through this one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True, frozen=True)
class Metered:
    started: float  # epoch seconds
    ended: float
    first_byte: float | None  # the first piece from the server
    request_bytes: int
    response_bytes: int

    def facts(self) -> dict[str, Any]:
        """The UsageEvent fields this measures."""
        return dict(
            ts=datetime.fromtimestamp(self.started, UTC),
            duration_ms=_ms(self.started, self.ended),
            ttft_ms=_ms(self.started, self.first_byte),
            request_bytes=self.request_bytes,
            response_bytes=self.response_bytes,
        )


@dataclass(slots=True)
class ResponseMeter:
    started: float | None = None  # None: between responses, waiting for the next piece
    first_byte: float | None = None
    last: float | None = None
    request_bytes: int = 0
    response_bytes: int = 0

    def note(self, at: float, from_client: bool, size: int) -> None:
        """One piece went by: a request body, a response chunk, a WebSocket message."""
        if self.started is None:
            self.started = at
        self.last = at
        if from_client:
            self.request_bytes += size
        else:
            self.response_bytes += size
            if self.first_byte is None:
                self.first_byte = at

    def take(self, ended: float | None = None) -> Metered:
        """This response's figures (ended at `ended`, else at its last piece); then reset."""
        end = ended if ended is not None else (self.last if self.last is not None else self.started)
        if end is None:  # nothing went by (a session closed before any message)
            end = datetime.now(UTC).timestamp()
        metered = Metered(self.started if self.started is not None else end, end, self.first_byte,
                          self.request_bytes, self.response_bytes)
        self.started = self.first_byte = self.last = None
        self.request_bytes = self.response_bytes = 0
        return metered


def _ms(start: float, end: float | None) -> float | None:
    return None if end is None else round(max(0.0, (end - start) * 1000), 3)
