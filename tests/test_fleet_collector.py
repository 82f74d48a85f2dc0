"""The collector (`offgate serve`, its own process) on a real PostgreSQL, spoken to over HTTP
as an agent would, and as a careless or hostile one might: every kind of bad input gets its
own 4xx with a JSON code and stores nothing at all; a record is stored once however often it
is pushed; a late retry cannot undo what a newer push did; a device writes only as itself."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from fleet.registry import Registry
from fleet.wire import ENROLL_PATH, INGEST_PATH, MAX_BATCH_ITEMS, MAX_BODY_BYTES, MAX_INFLATED_BYTES
from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.fleet_world import Collector, central_environment, offgate

pytestmark = pytest.mark.e2e  # a collector as its own process

T0 = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
AGENT = {"version": "0.1.0", "running": {"proxy": True, "native_host": False},
         "last_records": {"proxy": "2026-05-06T07:08:09Z", "extension": None}, "pending": 0}


@pytest.fixture(scope="module")
def collector(central: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    running = Collector(central, tmp_path_factory.mktemp("collector") / "home").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token(central: str) -> str:
    with Store.open(central) as store:
        return Registry(store).create_token(timedelta(days=1), None, "tests").secret


def enrol(collector: Collector, token: str, name: str) -> httpx.Response:
    return httpx.post(collector.url + ENROLL_PATH, json={"token": token, "device_name": name, "owner": "alice",
                                                          "agent_version": "0.1.0"})


def credential_for(collector: Collector, token: str, name: str) -> str:
    answer = enrol(collector, token, name)
    assert answer.status_code == 201, answer.text
    assert answer.json()["device_name"] == name
    return answer.json()["credential"]


def record(device: str, **fields: Any) -> dict[str, Any]:
    return UsageEvent(**{"id": uuid.uuid4().hex, "ts": T0, "host": "api.openai.com", "path": "/v1/chat/completions",
                         "provider": "openai", "model": "gpt-4o-mini", "prompt_tokens": 10, "completion_tokens": 5,
                         "cost_usd": 0.001, "device": device, **fields}).model_dump(mode="json")


def batch(records: list[dict[str, Any]], first_seq: int = 1, outbox: str = "outbox-1",
          deletions: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"outbox": outbox, "records": records, "record_seqs": list(range(first_seq, first_seq + len(records))),
            "deletions": deletions or [], "agent": AGENT, **extra}


def push(collector: Collector, credential: str | None, body: dict[str, Any]) -> httpx.Response:
    """A batch as the agent sends it: JSON, gzip-compressed."""
    return send(collector, credential, gzip.compress(json.dumps(body).encode()))


def send(collector: Collector, credential: str | None, content: bytes, *, encoding: str | None = "gzip",
         content_type: str = "application/json") -> httpx.Response:
    """These very bytes, with these headers."""
    headers = {"Content-Type": content_type}
    if credential is not None:
        headers["Authorization"] = f"Bearer {credential}"
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return httpx.post(collector.url + INGEST_PATH, content=content, headers=headers, timeout=60)


def stored(central: str, **where: str) -> list[tuple[Any, ...]]:
    """(id, device, user) of the central records matching `where` (column = value), by id."""
    clauses = " AND ".join(f'"{column}" = %s' for column in where) or "TRUE"
    with psycopg2.connect(central) as connection, connection.cursor() as cursor:
        cursor.execute(f'SELECT id, device, "user" FROM usage_event WHERE {clauses} ORDER BY id', list(where.values()))
        rows = cursor.fetchall()
    connection.close()
    return rows


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    return error["message"]


def test_a_device_pushes_its_records_and_a_record_pushed_twice_is_stored_once(collector: Collector, token: str,
                                                                             central: str) -> None:
    credential = credential_for(collector, token, "laptop-once")
    records = [record("laptop-once") for _ in range(3)]
    first = push(collector, credential, batch(records))
    assert first.status_code == 200, first.text
    assert first.json() | {"device": "laptop-once"} == {"device": "laptop-once", "stored": 3, "already_stored": 0,
                                                         "deleted": 0, "skipped": 0, "restamped": 0,
                                                         "acked_through": 3, "policy_version": "none"}
    again = push(collector, credential, batch(records))  # the acknowledgement was lost: the agent sends it again
    assert again.json()["stored"] == 0 and again.json()["skipped"] == 3
    # A new outbox (the store made anew) numbers from 1 again: applied, and still stored once.
    fresh_outbox = push(collector, credential, batch(records, outbox="outbox-2"))
    assert (fresh_outbox.json()["stored"], fresh_outbox.json()["already_stored"]) == (0, 3)
    assert [row[0] for row in stored(central, device="laptop-once")] == sorted(r["id"] for r in records)


def test_a_late_retry_never_brings_back_a_record_deleted_since(collector: Collector, token: str,
                                                              central: str) -> None:
    credential = credential_for(collector, token, "laptop-late")
    from_extension = record("laptop-late", source="extension", host="chatgpt.com")
    from_proxy = record("laptop-late", source="proxy", host="chatgpt.com")
    earlier = batch([from_extension], first_seq=1)
    assert push(collector, credential, earlier).json()["stored"] == 1
    later = batch([from_proxy], first_seq=3, deletions=[{"seq": 2, "id": from_extension["id"]}])
    assert push(collector, credential, later).json()["deleted"] == 1
    # The first push, retried by the agent after a timeout, arrives last.
    assert push(collector, credential, earlier).json() | {"device": "-"} == {
        "device": "-", "stored": 0, "already_stored": 0, "deleted": 0, "skipped": 1, "restamped": 0,
        "acked_through": 3, "policy_version": "none"}
    assert [row[0] for row in stored(central, device="laptop-late")] == [from_proxy["id"]]


def test_a_record_naming_another_device_is_stored_as_the_senders(collector: Collector, token: str,
                                                               central: str) -> None:
    victim = credential_for(collector, token, "victim-laptop")
    push(collector, victim, batch([record("victim-laptop")]))
    before = stored(central, device="victim-laptop")
    forger = credential_for(collector, token, "forger-laptop")
    forged = [record("victim-laptop", user=None), record("victim-laptop", user="bob")]
    answer = push(collector, forger, batch(forged))
    assert (answer.json()["stored"], answer.json()["restamped"]) == (2, 2)
    assert stored(central, device="victim-laptop") == before
    assert stored(central, device="forger-laptop") == sorted(
        [(forged[0]["id"], "forger-laptop", "alice"), (forged[1]["id"], "forger-laptop", "bob")])
    assert "device forger-laptop pushed records naming enrolled device(s) victim-laptop: stored as forger-laptop's" \
        in collector.log.read_text()


def test_a_device_deletes_only_its_own_records(collector: Collector, token: str, central: str) -> None:
    owner = credential_for(collector, token, "keeper")
    kept = record("keeper")
    push(collector, owner, batch([kept]))
    other = credential_for(collector, token, "deleter")
    answer = push(collector, other, batch([], deletions=[{"seq": 1, "id": kept["id"]}]))
    assert answer.json()["deleted"] == 0
    assert [row[0] for row in stored(central, device="keeper")] == [kept["id"]]


def test_every_value_of_a_record_is_stored_as_pushed_its_time_in_utc(collector: Collector, token: str,
                                                                     central: str) -> None:
    credential = credential_for(collector, token, "exact-laptop")
    full = record("exact-laptop", source="extension", route="gateway",
                  app="chatgpt", endpoint="chat", method="PUT", streamed=True, status_code=429, cached_tokens=3,
                  cache_write_tokens=4, reasoning_tokens=1, audio_prompt_tokens=2, audio_completion_tokens=0,
                  tokens_estimated=True, cost_usd=0.1 + 0.2, cost_note="it's \"quoted\", with, commas\n",
                  provider_cost_usd=1e-9, duration_ms=12.5, ttft_ms=0.0, request_bytes=2**40, response_bytes=7,
                  response_id="resp_1", litellm_call_id="call-1", process_name="python3", pid=4242,
                  exe="C:\\Program Files\\app.exe", user="bob", key_fingerprint="0123456789ab",
                  parse_status="partial", parse_error="")
    full["ts"] = "2026-05-06T09:08:09.123456+02:00"  # an agent may give any offset
    assert push(collector, credential, batch([full])).json()["stored"] == 1
    with Store.open(central) as store:
        [back] = [event for event in store.events() if event.id == full["id"]]
    assert back.ts == datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert back.model_dump(mode="json", exclude={"ts"}) == {k: v for k, v in full.items() if k != "ts"}


def test_the_devices_list_shows_what_each_device_said_with_its_last_push(collector: Collector, token: str,
                                                                        central: str) -> None:
    credential = credential_for(collector, token, "reporting-laptop")
    agent = {**AGENT, "pending": 1234, "running": {"proxy": True, "native_host": True}}
    push(collector, credential, batch([record("reporting-laptop")], agent=agent))
    listed = offgate(Path("/nonexistent-home-unused"), "fleet", "devices", "--json",
                     environment=central_environment(central))
    assert listed.returncode == 0, listed.stderr
    device = next(d for d in json.loads(listed.stdout) if d["name"] == "reporting-laptop")
    assert (device["owner"], device["agent_version"], device["pending"], device["records_stored"]) == (
        "alice", "0.1.0", 1234, 1)
    assert device["running"] == {"proxy": True, "native_host": True,
                                 "last_records": {"proxy": "2026-05-06T07:08:09Z", "extension": None}}
    assert device["last_seen_at"] and device["revoked_at"] is None


# -- refusals: each a clear 4xx, nothing stored ---------------------------------------------------


def test_a_revoked_device_is_refused_and_nothing_it_sends_is_stored(collector: Collector, token: str,
                                                                   central: str, tmp_path: Path) -> None:
    credential = credential_for(collector, token, "stolen-laptop")
    assert push(collector, credential, batch([record("stolen-laptop")])).status_code == 200
    revoked = offgate(tmp_path, "fleet", "revoke", "stolen-laptop", environment=central_environment(central))
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked device stolen-laptop: its pushes are refused from now on" in revoked.stdout
    message = refused(push(collector, credential, batch([record("stolen-laptop")], first_seq=2)), 403,
                      "device_revoked")
    assert message.startswith("device stolen-laptop was revoked at ")
    assert len(stored(central, device="stolen-laptop")) == 1


def test_enrolment_tokens_are_refused_when_unknown_expired_used_up_or_revoked(collector: Collector,
                                                                             central: str, tmp_path: Path) -> None:
    with Store.open(central) as store:
        registry = Registry(store)
        expired = registry.create_token(timedelta(microseconds=1), None)
        once = registry.create_token(None, 1)
        withdrawn = registry.create_token(None, None)
        registry.revoke_token(withdrawn.id)
    assert refused(enrol(collector, "ogt_never-issued", "nobody-1"), 401, "token_unknown") == \
        "this enrolment token is unknown to the collector"
    assert refused(enrol(collector, expired.secret, "nobody-2"), 403, "token_expired").startswith(
        f"enrolment token {expired.id} expired at ")
    assert enrol(collector, once.secret, "first-comer").status_code == 201
    assert refused(enrol(collector, once.secret, "second-comer"), 403, "token_used_up") == (
        f"enrolment token {once.id} was used 1 times, all it allows: ask for a new one")
    assert refused(enrol(collector, withdrawn.secret, "nobody-3"), 403, "token_revoked") == (
        f"enrolment token {withdrawn.id} was revoked")
    listed = json.loads(offgate(tmp_path, "fleet", "devices", "--json",
                                environment=central_environment(central)).stdout)
    names = {device["name"] for device in listed}
    assert "first-comer" in names and not names & {"nobody-1", "nobody-2", "second-comer", "nobody-3"}


def test_a_push_without_a_valid_credential_is_refused(collector: Collector) -> None:
    body = batch([record("anyone")])
    assert refused(push(collector, None, body), 401, "unauthenticated") == (
        "no device credential: send Authorization: Bearer <credential>")
    assert refused(push(collector, "ogd_made-up", body), 401, "unauthenticated") == (
        "this device credential is unknown to the collector")


# Each case: 50 good records and one bad thing, as a batch; the answer's status, code and message.
BAD_BATCHES = {
    "an unknown field in a record": (lambda good, r: batch([*good, {**r, "prompt": "the user's text"}]), 422,
                                     "unknown_field",
                                     "unknown field records.50.prompt (1 unknown in all): nothing was stored"),
    "an unknown field in the batch": (lambda good, r: batch([*good, r], surprise=1), 422, "unknown_field",
                                      "unknown field surprise (1 unknown in all): nothing was stored"),
    "a number given as text": (lambda good, r: batch([*good, {**r, "prompt_tokens": "12"}]), 422, "invalid",
                               "records.50.prompt_tokens: Input should be a valid integer (1 problems in all): "
                               "nothing was stored"),
    "a negative token count": (lambda good, r: batch([*good, {**r, "completion_tokens": -1}]), 422, "invalid",
                               "records.50.completion_tokens: Input should be greater than or equal to 0 "
                               "(1 problems in all): nothing was stored"),
    "a record without its host": (lambda good, r: batch([*good, {k: v for k, v in r.items() if k != "host"}]), 422,
                                  "invalid", "records.50.host: Field required (1 problems in all): nothing was stored"),
    "positions that do not match the records": (lambda good, r: {**batch([*good, r]), "record_seqs": [1] * 50}, 422,
                                                "invalid", "body: Value error, record_seqs has 50 entries for 51 "
                                                "records (1 problems in all): nothing was stored"),
    "a NUL the database cannot keep": (lambda good, r: batch([*good, {**r, "model": "gpt\u00004o"}]), 422, "invalid",
                                      "records.50.model: String should match pattern '^[^\\x00]*$' (1 problems in "
                                      "all): nothing was stored"),
    "a text longer than a record keeps": (lambda good, r: batch([*good, {**r, "model": "m" * 257}]), 422, "invalid",
                                          "records.50.model: String should have at most 256 characters (1 problems "
                                          "in all): nothing was stored"),
    "a count the database cannot keep": (lambda good, r: batch([*good, {**r, "prompt_tokens": 2**64}]), 422,
                                         "invalid", None),
    "too many records": (lambda good, r: batch([*good, *[r] * (MAX_BATCH_ITEMS - 49)]), 413, "too_large",
                         f"records: List should have at most {MAX_BATCH_ITEMS} items after validation, "
                         f"not {MAX_BATCH_ITEMS + 1}"),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_a_bad_batch_is_refused_whole_with_its_own_code(collector: Collector, token: str, central: str,
                                                       case: str) -> None:
    name = f"careless-{uuid.uuid4().hex[:8]}"
    credential = credential_for(collector, token, name)
    make, status, code, message = BAD_BATCHES[case]
    text = refused(push(collector, credential, make([record(name) for _ in range(50)], record(name))), status, code)
    if message is None:  # the database's own words
        assert text.startswith("the database refused a value: ") and text.endswith(": nothing was stored")
    else:
        assert text == message
    assert stored(central, device=name) == []  # the 50 good records went nowhere either


def test_malformed_bodies_are_refused_with_their_own_code(collector: Collector, token: str, central: str) -> None:
    name = "malformed-sender"
    credential = credential_for(collector, token, name)
    assert refused(send(collector, credential, b"not gzip at all"), 400, "bad_gzip").startswith(
        "the body is not valid gzip: ")
    whole = gzip.compress(json.dumps(batch([record(name)])).encode())
    assert refused(send(collector, credential, whole[:len(whole) // 2]), 400, "bad_gzip") == (
        "the gzip stream is cut short")
    assert refused(send(collector, credential, gzip.compress(b'{"outbox": "x", "records": [')), 400,
                   "bad_json").startswith("the body is not JSON: ")
    assert refused(send(collector, credential, b'{"outbox": "x"}', encoding="br"), 415,
                   "unsupported_media_type") == "Content-Encoding 'br': send gzip or none"
    assert refused(send(collector, credential, b"<batch/>", encoding=None, content_type="text/xml"), 415,
                   "unsupported_media_type") == "the body must be application/json, not text/xml"
    assert stored(central, device=name) == []


def test_oversized_bodies_are_refused_before_they_cost_much(collector: Collector, token: str, central: str) -> None:
    name = "oversized-sender"
    credential = credential_for(collector, token, name)
    incompressible = b"".join(uuid.uuid4().bytes for _ in range(MAX_BODY_BYTES // 16 + 1))
    assert refused(send(collector, credential, incompressible), 413, "too_large") == (
        f"the body is over the limit of {MAX_BODY_BYTES} bytes")
    bomb = gzip.compress(b" " * (MAX_INFLATED_BYTES + 1))  # small as sent, too big once inflated
    assert len(bomb) < MAX_BODY_BYTES
    assert refused(send(collector, credential, bomb), 413, "too_large") == (
        f"the batch inflates to more than {MAX_INFLATED_BYTES} bytes")
    assert stored(central, device=name) == []


def test_unknown_paths_and_methods_answer_json_too(collector: Collector) -> None:
    assert refused(httpx.get(collector.url + "/v1/everything"), 404, "not_found") == "Not Found"
    assert refused(httpx.get(collector.url + INGEST_PATH), 405, "method_not_allowed") == "Method Not Allowed"


def test_a_record_changed_after_its_push_is_pushed_again_and_updated_counted_once(collector: Collector, token: str,
                                                                                central: str) -> None:
    credential = credential_for(collector, token, "laptop-grows")
    session = record("laptop-grows", prompt_tokens=100, completion_tokens=10, cost_usd=0.01, source="proxy")
    assert push(collector, credential, batch([session])).json()["stored"] == 1
    # The device's store updated it (a coding agent's log saw the call too; the session grew): its new entry.
    grown = {**session, "prompt_tokens": 900, "completion_tokens": 90, "cost_usd": 0.09, "witnesses": "proxy,goose"}
    answer = push(collector, credential, batch([grown], first_seq=2))
    assert (answer.json()["stored"], answer.json()["already_stored"], answer.json()["acked_through"]) == (0, 1, 2)
    # Another device sending the same id cannot change it.
    forger = credential_for(collector, token, "laptop-forges")
    assert push(collector, forger, batch([{**session, "cost_usd": 99.0}])).json()["stored"] == 0
    with psycopg2.connect(central) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT prompt_tokens, completion_tokens, cost_usd, witnesses FROM usage_event WHERE id = %s",
                       (session["id"],))
        assert cursor.fetchall() == [(900, 90, 0.09, "proxy,goose")]
        cursor.execute("SELECT sum(calls), sum(prompt_tokens), sum(cost_usd) FROM usage_daily WHERE device = %s",
                       ("laptop-grows",))
        assert cursor.fetchone() == (1, 900, 0.09)
        cursor.execute("SELECT records_stored FROM fleet_device WHERE name = %s", ("laptop-grows",))
        assert cursor.fetchone() == (1,)
    connection.close()
    # A value the device no longer has (sent as null, or left out) is emptied centrally too.
    for at, emptied in ((3, {**grown, "witnesses": None}), (4, {k: v for k, v in grown.items() if k != "cost_usd"})):
        assert push(collector, credential, batch([emptied], first_seq=at)).json()["already_stored"] == 1
    with psycopg2.connect(central) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT prompt_tokens, cost_usd, witnesses FROM usage_event WHERE id = %s", (session["id"],))
        assert cursor.fetchall() == [(900, None, "proxy,goose")]
        cursor.execute("SELECT sum(calls), sum(cost_usd), sum(unpriced_calls) FROM usage_daily WHERE device = %s",
                       ("laptop-grows",))
        assert cursor.fetchone() == (1, None, 1)
    connection.close()
