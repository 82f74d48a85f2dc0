"""Every text a UsageEvent carries is one a store can keep: whatever a page or a provider
sent, an event is stored as it is validated, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from offgate.events import UsageEvent
from offgate.store import Store


def odd_event() -> UsageEvent:
    return UsageEvent(
        id="odd", ts="2026-12-01T10:00:00.123456Z", host="api.openai\x00.com",
        path="/v1/chat/completions?q=" + "x" * 10_000,
        model="gpt-4o\x00-mini", response_id="resp\ud800-1", user="al\udfffice",
        process_name="p" * 1000, parse_error="bad \x00 byte", cost_note="n" * 5000,
    )


def test_nul_and_lone_surrogates_are_dropped_and_lengths_capped() -> None:
    event = odd_event()
    assert (event.host, event.model, event.response_id, event.user) == (
        "api.openai.com", "gpt-4o-mini", "resp-1", "alice")
    assert event.parse_error == "bad  byte"
    assert (len(event.path), len(event.process_name), len(event.cost_note)) == (2048, 256, 1024)
    assert event.path.startswith("/v1/chat/completions?q=xxx")
    # The JSON form (journal, `offgate events --json`) reads back to the same event.
    assert UsageEvent.model_validate_json(event.model_dump_json()) == event


def test_an_odd_event_is_stored_as_validated(store_url: str) -> None:
    event = odd_event()
    with Store.open(store_url) as store:
        assert store.add([event]) == 1
        (stored,) = store.events()
    assert stored == event
