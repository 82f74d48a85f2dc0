"""One call seen by two capture paths (the proxy and the browser extension) is recorded once,
on SQLite and PostgreSQL alike: same host and response id, same device and user, another
source, close in time. The proxy's record is the one kept: a page script can replay a
response id through the extension, so an extension record never displaces a proxy record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.same_call import DUPLICATE_WINDOW
from tests.support.store_writer import write_at_once

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def seen_by(source: str, *, response_id: str | None = "msg-1", host: str = "chatgpt.com",
            ts: datetime = T0, device: str | None = "laptop-1", user: str | None = "alice",
            **fields: object) -> UsageEvent:
    return UsageEvent(source=source, host=host, path="/backend-api/f/conversation", provider="chatgpt",
                      response_id=response_id, ts=ts, device=device, user=user, **fields)


def stored(store: Store) -> list[tuple[str, str]]:
    return sorted((event.source, event.id) for event in store.events())


def test_the_extension_record_of_a_call_the_proxy_recorded_is_dropped(store: Store) -> None:
    proxy = seen_by("proxy", ts=T0)
    assert store.add([proxy]) == 1
    # The extension's clock starts at the page's fetch, the proxy's when the request reached it.
    assert store.add([seen_by("extension", ts=T0 + timedelta(milliseconds=40), host="ChatGPT.com")]) == 0
    assert stored(store) == [("proxy", proxy.id)]


def test_the_proxy_record_replaces_the_extension_record_stored_first(store: Store) -> None:
    assert store.add([seen_by("extension", ts=T0 + timedelta(milliseconds=40))]) == 1
    proxy = seen_by("proxy", ts=T0, host="ChatGPT.com")
    assert store.add([proxy]) == 1
    assert stored(store) == [("proxy", proxy.id)]


@pytest.mark.parametrize("order", ["proxy-first", "extension-first"])
def test_both_records_in_one_batch_keep_the_proxy_record(store: Store, order: str) -> None:
    proxy, extension = seen_by("proxy"), seen_by("extension")
    assert store.add([proxy, extension] if order == "proxy-first" else [extension, proxy]) == 1
    assert stored(store) == [("proxy", proxy.id)]


def test_a_proxy_record_written_again_replaces_nothing(store: Store) -> None:
    """An app numbering answers per conversation: two of the extension's calls share an id.
    The proxy's record of the first replaces one; the same record written again (a spool
    replayed after a failure) must not take the other's place."""
    first, second = seen_by("extension", ts=T0), seen_by("extension", ts=T0 + timedelta(seconds=30))
    assert store.add([first, second]) == 2
    proxy = seen_by("proxy", ts=T0 - timedelta(milliseconds=40))
    assert store.add([proxy]) == 1
    assert store.add([proxy]) == 0
    assert stored(store) == sorted([("extension", second.id), ("proxy", proxy.id)])


@pytest.mark.parametrize(
    "other",
    [
        {"device": "laptop-2"},
        {"user": "bob"},
        {"device": "laptop-2", "user": "bob"},
        {"device": None},
    ],
    ids=["other-device", "other-user", "other-device-and-user", "device-unknown"],
)
def test_the_same_response_id_from_another_device_or_user_is_another_call(store: Store, other: dict) -> None:
    """In a shared store: DeepSeek's web app numbers answers per conversation, so two people
    get the same small ids within minutes."""
    mine = seen_by("proxy")
    theirs = seen_by("extension", ts=T0 + timedelta(seconds=5), **other)
    assert store.add([mine]) == 1
    assert store.add([theirs]) == 1
    assert stored(store) == sorted([("proxy", mine.id), ("extension", theirs.id)])


def test_a_record_that_does_not_know_its_user_matches_on_the_device(store: Store) -> None:
    """The proxy names no user when it cannot tell which process made the call."""
    assert store.add([seen_by("extension", user="alice")]) == 1
    proxy = seen_by("proxy", user=None)
    assert store.add([proxy]) == 1
    assert stored(store) == [("proxy", proxy.id)]


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


@pytest.mark.e2e
def test_two_paths_writing_at_once_record_each_call_once(store_url: str, tmp_path: Path) -> None:
    """The proxy and the native host are separate processes writing the same calls together:
    each call is kept once, as the proxy's record, whichever wrote it first."""
    count = 200
    write_at_once(store_url, ["proxy", "extension"], count, tmp_path, with_source=True)
    with Store.open(store_url) as store:
        events = store.events()
    assert sorted(event.response_id for event in events) == sorted(f"response-{n}" for n in range(count))
    assert {event.source for event in events} == {"proxy"}
