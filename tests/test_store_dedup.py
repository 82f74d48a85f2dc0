"""One call seen by two capture paths (the proxy and the browser extension) is recorded once,
on SQLite and PostgreSQL alike: same host and response id, another source, close in time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offgate.events import UsageEvent
from offgate.store import DUPLICATE_WINDOW, Store
from tests.store_writer import write_at_once

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def seen_by(source: str, *, response_id: str | None = "msg-1", host: str = "chatgpt.com",
            ts: datetime = T0, **fields: object) -> UsageEvent:
    return UsageEvent(source=source, host=host, path="/backend-api/f/conversation", provider="chatgpt",
                      response_id=response_id, ts=ts, **fields)


@pytest.mark.parametrize("first", ["proxy", "extension"])
def test_the_first_record_of_a_call_wins(store: Store, first: str) -> None:
    second = "extension" if first == "proxy" else "proxy"
    winner = seen_by(first, ts=T0)
    assert store.add([winner]) == 1
    # The extension's clock starts at the page's fetch, the proxy's when the request reached it.
    assert store.add([seen_by(second, ts=T0 + timedelta(milliseconds=40), host="ChatGPT.com")]) == 0
    assert [event.id for event in store.events()] == [winner.id]


def test_both_records_in_one_batch_keep_the_first(store: Store) -> None:
    proxy, extension = seen_by("proxy"), seen_by("extension")
    assert store.add([proxy, extension]) == 1
    assert [event.source for event in store.events()] == ["proxy"]


@pytest.mark.parametrize(
    "other",
    [
        seen_by("proxy", response_id=None),
        seen_by("proxy", response_id="msg-2"),
        seen_by("proxy", host="claude.ai"),
        seen_by("proxy", ts=T0 + DUPLICATE_WINDOW + timedelta(seconds=1)),
        seen_by("extension"),  # one path's equal ids: some apps number answers per conversation
    ],
    ids=["no-response-id", "other-response", "other-host", "far-apart", "same-source"],
)
def test_different_calls_are_all_kept(store: Store, other: UsageEvent) -> None:
    first = seen_by("extension", response_id="msg-1" if other.response_id else None)
    assert store.add([first]) == 1
    assert store.add([other]) == 1
    assert len(store.events()) == 2


def test_a_record_sent_again_is_kept_once(store: Store) -> None:
    event = seen_by("extension")
    assert store.add([event]) == 1
    assert store.add([event, event]) == 0
    assert len(store.events()) == 1


def test_two_paths_writing_at_once_record_each_call_once(store_url: str, tmp_path: Path) -> None:
    """The proxy and the native host are separate processes writing the same calls together."""
    count = 200
    write_at_once(store_url, ["proxy", "extension"], count, tmp_path, with_source=True)
    with Store.open(store_url) as store:
        events = store.events()
    assert sorted(event.response_id for event in events) == sorted(f"response-{n}" for n in range(count))
