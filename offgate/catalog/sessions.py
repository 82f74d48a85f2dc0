"""WebSocket APIs: one connection carries a session of many responses.

Each response a session completes is its own reading, with its own usage and response id:
the provider bills it so, a LiteLLM spend log lists it so, and a person reading the
records expects one per answer, not one per connection. A subclass reads each message in
`on_ws_message`, writing into `self.reading` as an HTTP parser does, sets
`response_under_way` when a response starts and calls `complete_response()` on the
provider's terminal event for it.

When the session closes, one more reading is owed if a response was cut off, if
messages since the last response could not be read, or if the session completed no
response at all (so every session leaves a record).
"""

from __future__ import annotations

from typing import Any

from offgate.catalog.base import CallParser, Reading


class SessionParser(CallParser):
    websocket = True
    expects_stream_end = False  # a session's responses end one by one, checked below

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading.streamed = True  # a response arrives as events, however it is read
        self.response_under_way = False
        self._completed: list[Reading] = []
        self._responses = 0

    def complete_response(self) -> None:
        """The response under way ended: its reading is done, and the next one starts
        knowing what the session said about the model."""
        done = self._settle(complete=True)
        self._completed.append(done)
        self._responses += 1
        self.reading = Reading(model=done.model, response_model=done.response_model, streamed=True)
        self.response_under_way = False
        self._failures = []
        self.reset_text_room()

    def reject_response(self, reason: str) -> None:
        """The provider answered the request under way with an error instead: recorded,
        but with no text to estimate from, since no answer was generated or billed."""
        self._fail(reason)
        self.reading.prompt_texts.clear()
        self.reading.completion_texts.clear()
        self.complete_response()

    def take_readings(self) -> list[Reading]:
        done, self._completed = self._completed, []
        return done

    def finish_session(self, complete: bool = True) -> list[Reading]:
        owed = self.take_readings()
        if self.response_under_way or self._failures or self._responses == 0:
            # A response under way was cut off however the session ended: say so, not "cut off".
            reading = self._settle(complete or self.response_under_way)
            if self.response_under_way and reading.status == "ok":
                reading.status = "partial"
                reading.error = "session ended before the response completed"
            owed.append(reading)
        return owed
