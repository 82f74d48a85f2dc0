"""The OTLP export against a real OTLP/HTTP receiver on loopback (tests/support/otlp_receiver.py,
which decodes ExportLogsServiceRequest with opentelemetry-proto's classes), on real SQLite and
PostgreSQL: each record goes out once with the GenAI semantic conventions' attribute names,
however late it was stored; a receiver that is down loses nothing and gets nothing twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.export.otlp import ExportFailed, OtlpExport
from analytics.export.outbox import ExportOutbox
from offgate.config import ConfigError, ExportSettings, load_settings
from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.otlp_receiver import OtlpReceiver

T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    yield running
    running.stop()


def event(event_id: str, **fields: object) -> UsageEvent:
    return UsageEvent(**{"id": event_id, "ts": T0, "host": "api.openai.com", "path": "/v1/chat/completions",
                         "route": "direct", "provider": "openai", "device": "laptop", **fields})


def exporter(store: Store, receiver: OtlpReceiver, headers: dict[str, str] | None = None) -> OtlpExport:
    # A short timeout: the exporter's own retries give up quickly on a receiver that is down.
    settings = ExportSettings(otlp_endpoint=receiver.endpoint, headers=headers or {})
    return OtlpExport(store, settings, timeout_s=1.0)


def test_each_record_goes_out_once_with_the_genai_attributes(store: Store, receiver: OtlpReceiver) -> None:
    store.add([event("before-start", model="gpt-4o", prompt_tokens=120, completion_tokens=30, cached_tokens=100,
                     response_id="chatcmpl-1", cost_usd=0.0125, app="Cursor", user="alice", status_code=200)])
    export = exporter(store, receiver, headers={"authorization": "Bearer otlp-secret"})
    assert export.drain().sent == 1  # what was stored before the export started goes out too
    [sent] = receiver.logs
    assert sent.attributes == {
        "gen_ai.provider.name": "openai", "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 100, "gen_ai.response.id": "chatcmpl-1",
        "server.address": "api.openai.com", "http.response.status_code": 200,
        "offgate.record_id": "before-start", "offgate.route": "direct", "offgate.source": "proxy",
        "offgate.device": "laptop", "offgate.user": "alice", "offgate.app": "Cursor", "offgate.cost_usd": 0.0125,
        "offgate.tokens_estimated": False,
    }
    assert sent.time_unix_nano == int(T0.timestamp()) * 10**9 + T0.microsecond * 1000
    assert (sent.event_name, sent.scope, sent.body) == ("offgate.llm_call", "offgate", "direct openai call")
    assert sent.resource["service.name"] == "offgate"
    assert receiver.requests[0]["authorization"] == "Bearer otlp-secret"

    # A record of a device that was offline for days reaches the store late: a cursor on ts
    # would never see it; the outbox does.
    store.add([event("late", ts=T0 - timedelta(days=5)), event("new", ts=T0 + timedelta(minutes=1))])
    assert store.add([event("new")]) == 0  # written again: not queued again
    assert export.drain().sent == 2
    assert export.drain().sent == 0
    assert receiver.record_ids() == ["before-start", "late", "new"]
    export.close()


def test_a_receiver_down_then_up_loses_nothing_and_gets_nothing_twice(store: Store,
                                                                      receiver: OtlpReceiver) -> None:
    export = exporter(store, receiver)
    store.add([event(f"call-{n}", ts=T0 + timedelta(seconds=n)) for n in range(3)])
    receiver.stop()
    with pytest.raises(ExportFailed, match="did not accept 3 log records; they stay queued"):
        export.drain()
    store.add([event("call-3", ts=T0 - timedelta(days=2))])  # recorded while the receiver is down
    assert ExportOutbox(store).pending() == 4
    receiver.start()
    summary = export.drain()
    assert (summary.sent, summary.pending) == (4, 0)
    assert receiver.record_ids() == ["call-0", "call-1", "call-2", "call-3"]
    assert export.drain().sent == 0 and len(receiver.logs) == 4
    export.close()


def test_a_batch_over_the_batch_size_goes_out_whole_in_order(store: Store, receiver: OtlpReceiver) -> None:
    store.add([event(f"call-{n:04d}", ts=T0 + timedelta(seconds=n)) for n in range(1203)])
    export = exporter(store, receiver)
    assert export.drain().sent == 1203
    assert receiver.record_ids() == [f"call-{n:04d}" for n in range(1203)]
    assert len(receiver.requests) == 3  # batches of 500
    export.close()


def test_the_extensions_record_replaced_by_the_proxys_goes_out_once(store: Store, receiver: OtlpReceiver) -> None:
    export = exporter(store, receiver)
    export.drain()
    store.add([event("from-extension", source="extension", host="chatgpt.com", response_id="resp-1")])
    store.add([event("from-proxy", source="proxy", host="chatgpt.com", response_id="resp-1",
                     ts=T0 + timedelta(milliseconds=40))])
    assert export.drain().sent == 1
    assert receiver.record_ids() == ["from-proxy"]
    export.close()


def test_while_one_process_drains_another_waits_its_turn(store: Store, store_url: str,
                                                         receiver: OtlpReceiver) -> None:
    store.add([event("only")])
    first, second = exporter(store, receiver), exporter(store, receiver)
    first.drain()  # starts the export
    assert second.drain().sent == 0  # each has started (starting waits for a drain under way)
    store.add([event("next")])
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Store.open(store_url) as other, ExportOutbox(other).draining() as mine:
            assert mine
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    summary = second.drain()
    release.set()
    holder.join(10)
    assert (summary.sent, summary.pending, summary.busy) == (0, 1, True)
    assert second.drain().sent == 1
    assert receiver.record_ids() == ["only", "next"]
    first.close()
    second.close()


def test_export_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[export]\notlp_endpoint = "collector:4318"\ninterval = "often"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path)
    assert "export.otlp_endpoint: must be an http:// or https:// URL such as http://collector:4318" in str(raised.value)
    assert "export.interval: 'often' is not a length of time" in str(raised.value)
    (tmp_path / "config.toml").write_text('[export]\notlp_endpoint = "https://otel.example.com:4318/"\n'
                                          'headers = {"dd-api-key" = "k"}\ninterval = "1m"\n')
    export = load_settings(tmp_path).export
    assert (export.logs_url, export.headers, export.interval_s) == (
        "https://otel.example.com:4318/v1/logs", {"dd-api-key": "k"}, 60.0)
    assert load_settings(tmp_path, export={"otlp_endpoint": None}).export.logs_url is None


def test_stopping_drops_the_queue_and_queues_nothing_more(store: Store, receiver: OtlpReceiver) -> None:
    export = exporter(store, receiver)
    export.drain()
    store.add([event("waiting")])
    outbox = ExportOutbox(store)
    assert outbox.stop() == 1
    store.add([event("after-stop", ts=T0 + timedelta(seconds=1))])
    assert outbox.pending() == 0
    assert exporter(store, receiver).drain().sent == 2  # started again: everything stored, anew
    assert receiver.record_ids() == ["waiting", "after-stop"]
    export.close()
