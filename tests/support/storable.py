"""What the store can hold: checks on a UsageEvent before it is written, and a round trip
through real stores that says which field of which event could not be stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.same_call import DUPLICATE_WINDOW

BIGINT_MAX = 2**63 - 1  # the store's integer columns are 64-bit


def unstorable_fields(event: UsageEvent) -> dict[str, str]:
    """The fields no store can hold as they are, and why: text with NUL characters
    (PostgreSQL refuses them) or lone surrogates (UTF-8 cannot encode them), integers
    beyond 64 bits."""
    problems = {}
    for name, value in event:
        if isinstance(value, str):
            if "\x00" in value:
                problems[name] = f"NUL character in {value[:80]!r}"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                problems[name] = f"lone surrogate in {value[:80]!r}"
        elif isinstance(value, int) and not isinstance(value, bool) and not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
            problems[name] = f"{value} does not fit a 64-bit integer"
    return problems


class RoundTrip:
    """Writes each example's events to every store in an hour of their own (so no example
    sees another's, and none is taken for a duplicate of another's) and reads them back."""

    def __init__(self, stores: Mapping[str, Store], start: datetime = datetime(2030, 1, 1, tzinfo=UTC)) -> None:
        assert timedelta(hours=1) > DUPLICATE_WINDOW
        self.stores = stores
        self._next = start

    def next_hour(self) -> datetime:
        """The start of a fresh hour for the next example's events."""
        hour, self._next = self._next, self._next + timedelta(hours=1)
        return hour

    def check(self, events: Sequence[UsageEvent], hour: datetime) -> None:
        """Every event is storable, stored once in each store, and reads back equal."""
        for event in events:
            problems = unstorable_fields(event)
            assert not problems, f"un-storable event from {event.provider} {event.endpoint}: {problems}"
        expected = sorted(events, key=lambda event: (event.ts, event.id))
        for backend, store in self.stores.items():
            assert store.add(events) == len(events), backend
            assert store.events(since=hour, until=hour + timedelta(hours=1)) == expected, backend
