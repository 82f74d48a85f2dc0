"""The outbox on a workstation's store, on real SQLite and PostgreSQL: entries are written by
the store's own transactions once enrolment started the outbox (none before), a record
written again adds none, a rolled-back write leaves none, the proxy's record replacing the
extension's goes out as a record and a deletion, and positions are never reused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fleet.outbox import Outbox
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.schema import UsageEventRow

T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def event(event_id: str, **fields: object) -> UsageEvent:
    return UsageEvent(**{"id": event_id, "ts": T0, "host": "api.openai.com", "path": "/v1/chat/completions",
                         "device": "laptop", **fields})


def test_a_store_not_enrolled_keeps_no_outbox(store: Store) -> None:
    store.add([event("a"), event("b")])
    outbox = Outbox(store)
    assert not outbox.is_started()
    assert outbox.pending() == 0


def test_starting_takes_every_record_so_far_and_then_each_new_one_once(store: Store) -> None:
    store.add([event("old-1"), event("old-2", ts=T0 - timedelta(days=3))])
    outbox = Outbox(store)
    outbox_id = outbox.start()
    store.add([event("new-1", prompt_tokens=12, cost_usd=0.25)])
    assert store.add([event("new-1"), event("old-1")]) == 0  # written again: no entry either
    batch = outbox.read(100)
    assert [record["id"] for record in batch.records] == ["old-2", "old-1", "new-1"]  # oldest first, then new
    assert batch.record_seqs == sorted(batch.record_seqs) and batch.deletions == []
    assert batch.entries == 3 and batch.last_seq == batch.record_seqs[-1]
    new = batch.records[2]
    assert (new["ts"], new["prompt_tokens"], new["cost_usd"], new["device"]) == (
        "2026-03-04T05:06:07.123456Z", 12, 0.25, "laptop")
    assert UsageEvent.model_validate(new) == event("new-1", prompt_tokens=12, cost_usd=0.25)
    assert outbox.ensure() == outbox_id  # started once: the same outbox


def test_a_write_rolled_back_leaves_no_entry(store: Store) -> None:
    outbox = Outbox(store)
    outbox.start()
    with pytest.raises(RuntimeError), store.database.atomic():
        store.add([event("doomed")])
        raise RuntimeError("the writer's transaction fails after the insert")
    assert store.count() == 0
    assert outbox.pending() == 0


def test_the_proxy_record_replacing_the_extensions_goes_out_as_a_record_and_a_deletion(store: Store) -> None:
    outbox = Outbox(store)
    outbox.start()
    seen_in_page = event("from-extension", source="extension", host="chatgpt.com", response_id="resp-1")
    store.add([seen_in_page])
    first = outbox.read(100)
    assert [record["id"] for record in first.records] == ["from-extension"]
    outbox.acknowledge(first.last_seq)
    store.add([event("from-proxy", source="proxy", host="chatgpt.com", response_id="resp-1",
                     ts=T0 + timedelta(milliseconds=40))])
    assert [e.id for e in store.events()] == ["from-proxy"]
    second = outbox.read(100)
    assert [record["id"] for record in second.records] == ["from-proxy"]
    assert [deletion["id"] for deletion in second.deletions] == ["from-extension"]
    assert min(second.record_seqs + [d["seq"] for d in second.deletions]) > first.last_seq


def test_in_one_batch_a_records_last_entry_says_what_became_of_it(store: Store) -> None:
    outbox = Outbox(store)
    outbox.start()
    store.add([event("from-extension", source="extension", host="chatgpt.com", response_id="resp-2")])
    store.add([event("from-proxy", source="proxy", host="chatgpt.com", response_id="resp-2")])
    batch = outbox.read(100)
    assert batch.entries == 3  # put, delete, put
    assert [record["id"] for record in batch.records] == ["from-proxy"]
    assert [deletion["id"] for deletion in batch.deletions] == ["from-extension"]


def test_positions_are_never_reused_even_once_the_outbox_is_empty(store: Store) -> None:
    outbox = Outbox(store)
    outbox.start()
    store.add([event("a"), event("b")])
    batch = outbox.read(100)
    outbox.acknowledge(batch.last_seq)
    assert outbox.pending() == 0
    store.add([event("c")])
    assert outbox.read(100).record_seqs[0] > batch.last_seq


def test_a_store_made_anew_since_enrolment_gets_an_outbox_with_all_it_holds(store: Store) -> None:
    """The credential outlived the store (deleted, restored from an old backup): the pusher's
    first look makes the outbox, with every record in it, and new ones follow."""
    store.add([event("a", ts=T0), event("b", ts=T0 + timedelta(seconds=1))])
    outbox = Outbox(store)
    assert not outbox.is_started()
    outbox_id = outbox.ensure()
    store.add([event("c", ts=T0 + timedelta(seconds=2))])
    assert [record["id"] for record in outbox.read(100).records] == ["a", "b", "c"]
    assert outbox.ensure() == outbox_id
    assert outbox.pending() == 3


def test_reading_stops_at_the_limit_and_acknowledging_forgets_only_what_was_read(store: Store) -> None:
    outbox = Outbox(store)
    outbox.start()
    store.add([event(f"e{number}", ts=T0 + timedelta(seconds=number)) for number in range(5)])
    batch = outbox.read(2)
    assert [record["id"] for record in batch.records] == ["e0", "e1"]
    outbox.acknowledge(batch.last_seq)
    assert outbox.pending() == 3
    assert [record["id"] for record in outbox.read(10).records] == ["e2", "e3", "e4"]


def test_a_record_updated_after_its_push_goes_out_again_as_it_is_now(store: Store) -> None:
    outbox = Outbox(store)
    outbox.start()
    store.add([event("session", source="agent-log", prompt_tokens=100, completion_tokens=10)])
    outbox.acknowledge(outbox.read(100).last_seq)  # pushed
    # The session grows in the agent's log (offgate.store.agent_logs), and the proxy is named a witness.
    row = UsageEventRow
    row.update(prompt_tokens=900, completion_tokens=90).where(row.id == "session").execute(store.database)
    row.update(witnesses="agent-log,proxy").where(row.id == "session").execute(store.database)
    batch = outbox.read(100)
    assert [(r["id"], r["prompt_tokens"], r["completion_tokens"], r["witnesses"]) for r in batch.records] == [
        ("session", 900, 90, "agent-log,proxy")]  # two entries, its last one sent, once
    assert batch.entries == 2 and batch.deletions == []
