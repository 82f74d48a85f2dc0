"""A pushed batch into the central PostgreSQL, in process: a batch of new records is COPied
straight into usage_event and stores every value exactly as the general path (the upsert)
does; a batch the COPY cannot carry, or that a concurrent push collides with, takes the
general path, whole, and nothing is counted twice."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg2
import pytest

from fleet import ingest
from fleet.ingest import RecordsRefused, apply_batch
from fleet.registry import Device, Registry
from fleet.wire import Batch, EnrollRequest
from offgate.events import UsageEvent
from offgate.store import Store, naive_utc

T0 = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
AGENT = {"version": "0.1.0", "running": {"proxy": True, "native_host": False},
         "last_records": {"proxy": None, "extension": None}, "pending": 0}
# Texts COPY's CSV could misread: quotes, commas, backslashes (a Windows path, one ending a text),
# the word null, an empty text, what is not ASCII.
AWKWARD = ['it\'s "quoted", with, commas', "C:\\Program Files\\app.exe", "ends in a backslash\\",
           'a backslash before a quote \\"', "null", "", "naïve ☕ 𝄞", "\\\\two\\\\"]


@pytest.fixture
def central(fresh_postgres_url: str) -> Iterator[Store]:
    with Store.open(fresh_postgres_url) as store:
        yield store


def enrolled(store: Store, name: str, owner: str | None = "alice") -> Device:
    registry = Registry(store)
    token = registry.create_token(None, None, "tests")
    answer = registry.enroll(EnrollRequest(token=token.secret, device_name=name, owner=owner, agent_version="0.1.0"))
    return registry.authenticate(answer.credential)


def record(**fields: Any) -> dict[str, Any]:
    return UsageEvent(**{"id": uuid.uuid4().hex, "ts": T0, "host": "api.openai.com", "path": "/v1/chat/completions",
                         "provider": "openai", "model": "gpt-4o-mini", "prompt_tokens": 10, "completion_tokens": 5,
                         "cost_usd": 0.001, **fields}).model_dump(mode="json")


def varied(count: int) -> list[dict[str, Any]]:
    """Records with every kind of value: awkward texts in every text column, times with and
    without an offset, no user (the owner's), an empty user (kept), exact floats, large counts."""
    records = []
    for n in range(count):
        text = AWKWARD[n % len(AWKWARD)]
        records.append(record(
            source="extension", route=("gateway", "direct")[n % 2], app=text, endpoint=text, method="PUT",
            streamed=n % 2 == 0, status_code=200 + n, cached_tokens=n or None, tokens_estimated=n % 3 == 0,
            cost_usd=0.1 + 0.2 if n % 4 else None, cost_note=text, provider_cost_usd=1e-9 * n, duration_ms=12.5,
            ttft_ms=0.0, request_bytes=2**62 + n, response_id=text, process_name=text, pid=n, exe=text,
            user=(None, "", "bob", text)[n % 4], key_fingerprint=f"{n:012x}", parse_status="partial",
            parse_error=text, key_hint=text, policy_rule=text, model=text, device="someone-else"))
        if n % 3 == 1:
            records[-1]["ts"] = (T0 + timedelta(minutes=n)).astimezone(timezone(timedelta(hours=-5))).isoformat()
        elif n % 3 == 2:
            records[-1]["ts"] = (T0 + timedelta(minutes=n)).replace(tzinfo=None).isoformat()  # no offset: UTC
    return records


def batch(records: list[dict[str, Any]], first_seq: int = 1, outbox: str = "outbox-1") -> Batch:
    body = {"outbox": outbox, "records": records, "record_seqs": list(range(first_seq, first_seq + len(records))),
            "deletions": [], "agent": AGENT}
    return Batch.model_validate_json(json.dumps(body), strict=True)  # as the collector reads it


def stored_rows(store: Store, device: str) -> dict[str, dict[str, Any]]:
    cursor = store.database.execute_sql('SELECT * FROM usage_event WHERE device = %s', (device,))
    columns = [column.name for column in cursor.description]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def rolled_up_calls(store: Store) -> tuple[int, int]:
    cursor = store.database.execute_sql("SELECT (SELECT count(*) FROM usage_event), "
                                        "(SELECT COALESCE(sum(calls), 0) FROM usage_daily)")
    records, daily = cursor.fetchone()
    return int(records), int(daily)


def test_a_batch_of_new_records_is_copied_and_stores_every_value_as_the_upsert_does(central: Store) -> None:
    copied, upserted = enrolled(central, "copied-laptop"), enrolled(central, "upserted-laptop")
    records = varied(24)
    assert ingest._copy_csv(batch(records).records, copied) is not None  # these take the COPY
    ack = apply_batch(central, copied, batch(records)).acknowledgement
    assert (ack.stored, ack.already_stored, ack.restamped) == (24, 0, 24)
    # The same values under other ids, with one record stored already: the general path.
    again = [{**one, "id": "u-" + one["id"]} for one in records]
    apply_batch(central, upserted, batch(again[:1]))
    ack = apply_batch(central, upserted, batch(again, first_seq=2)).acknowledgement
    assert (ack.stored, ack.already_stored) == (23, 1)
    by_copy, by_upsert = stored_rows(central, "copied-laptop"), stored_rows(central, "upserted-laptop")
    assert len(by_copy) == 24
    for one in records:
        one_copied, one_upserted = by_copy[one["id"]], by_upsert["u-" + one["id"]]
        assert {**one_copied, "id": None, "device": None} == {**one_upserted, "id": None, "device": None}
        assert one_copied["exe"] == one["exe"] and one_copied["parse_error"] == one["parse_error"]
        assert one_copied["user"] == ("alice" if one["user"] is None else one["user"])
        assert one_copied["ts"] == naive_utc(datetime.fromisoformat(one["ts"]))
    assert by_copy[records[1]["id"]]["cost_usd"] == 0.1 + 0.2 and by_copy[records[0]["id"]]["cost_usd"] is None
    assert by_copy[records[3]["id"]]["request_bytes"] == 2**62 + 3
    assert rolled_up_calls(central) == (48, 48)


def test_a_text_with_a_control_character_takes_the_general_path_and_is_stored_exactly(central: Store) -> None:
    device = enrolled(central, "noisy-laptop")
    records = [record(parse_error="line one\nline two\ttabbed \x01 \\n not a newline"), record(cost_note="plain")]
    assert ingest._copy_csv(batch(records).records, device) is None
    assert apply_batch(central, device, batch(records)).acknowledgement.stored == 2
    assert stored_rows(central, "noisy-laptop")[records[0]["id"]]["parse_error"] == records[0]["parse_error"]
    assert rolled_up_calls(central) == (2, 2)


def test_a_count_past_what_the_database_keeps_refuses_the_whole_batch(central: Store) -> None:
    device = enrolled(central, "careless-laptop")
    records = [record() for _ in range(5)] + [record(prompt_tokens=2**63)]  # orjson writes it, bigint cannot hold it
    with pytest.raises(RecordsRefused, match="the database refused a value: .*out of range"):
        apply_batch(central, device, batch(records))
    assert stored_rows(central, "careless-laptop") == {} and rolled_up_calls(central) == (0, 0)


def test_a_record_a_concurrent_push_stores_meanwhile_sends_the_batch_the_general_way(central: Store,
                                                                                    fresh_postgres_url: str) -> None:
    """The other push's record is not yet committed when this batch looks for its ids, so the
    COPY meets it on the primary key: the savepoint is undone and the upsert stores the rest,
    leaving the other's record as it was."""
    device = enrolled(central, "late-laptop")
    records = [record() for _ in range(50)]
    other = psycopg2.connect(fresh_postgres_url)
    try:
        with other.cursor() as cursor:  # the other push's transaction, open
            cursor.execute('INSERT INTO usage_event (id, ts, source, route, host, method, path, streamed, '
                           'tokens_estimated, request_bytes, response_bytes, parse_status, device) '
                           "VALUES (%s, %s, 'proxy', 'direct', 'h', 'POST', '/', false, false, 0, 0, 'ok', 'other')",
                           (records[25]["id"], T0.replace(tzinfo=None)))
        acknowledged: list[Any] = []
        pushing = threading.Thread(target=lambda: acknowledged.append(
            apply_batch(central, device, batch(records)).acknowledgement))
        pushing.start()
        pushing.join(2)
        assert pushing.is_alive()  # waiting on the other's uncommitted id
        other.commit()
        pushing.join(30)
    finally:
        other.close()
    [ack] = acknowledged
    assert (ack.stored, ack.already_stored) == (49, 1)
    assert len(stored_rows(central, "late-laptop")) == 49
    assert list(stored_rows(central, "other")) == [records[25]["id"]]
    assert rolled_up_calls(central) == (50, 50)
