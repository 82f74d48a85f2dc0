"""The usage records as OpenTelemetry log records, sent over OTLP/HTTP (protobuf).

Attribute names follow the GenAI semantic conventions (gen_ai.provider.name, and the older
gen_ai.system that many backends still group by; gen_ai.request.model, gen_ai.usage.*);
what only offgate knows is under offgate.*. `offgate.record_id` lets a receiver drop the
one kind of duplicate no sender can rule out: a batch the receiver stored whose answer
never arrived is sent again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from analytics.export.outbox import ExportOutbox
from offgate.config import ExportSettings
from offgate.errors import OffgateError
from offgate.store import Store

log = logging.getLogger("offgate.export")

BATCH = 500
TIMEOUT_S = 10.0
EVENT_NAME = "offgate.llm_call"
# record field -> attribute; None values are left out (OTLP has no null).
_ATTRIBUTES = {
    "provider": ("gen_ai.provider.name", "gen_ai.system"),
    "model": ("gen_ai.request.model", "gen_ai.response.model"),
    "prompt_tokens": ("gen_ai.usage.input_tokens",),
    "completion_tokens": ("gen_ai.usage.output_tokens",),
    "cached_tokens": ("gen_ai.usage.cache_read.input_tokens",),
    "response_id": ("gen_ai.response.id",),
    "host": ("server.address",),
    "status_code": ("http.response.status_code",),
    "id": ("offgate.record_id",),
    "route": ("offgate.route",),
    "source": ("offgate.source",),
    "device": ("offgate.device",),
    "user": ("offgate.user",),
    "app": ("offgate.app",),
    "endpoint": ("offgate.endpoint",),
    "cost_usd": ("offgate.cost_usd",),
    "tokens_estimated": ("offgate.tokens_estimated",),
    "duration_ms": ("offgate.duration_ms",),
}


class ExportFailed(OffgateError):
    """The receiver did not take a batch; it stays queued and is sent again."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    sent: int  # log records the receiver accepted
    pending: int  # outbox entries still waiting
    busy: bool = False  # another process was draining this store


def log_record(record: dict[str, Any], resource: Resource, scope: InstrumentationScope) -> ReadableLogRecord:
    attributes: dict[str, Any] = {}
    for field, names in _ATTRIBUTES.items():
        if (value := record.get(field)) is not None:
            attributes.update(dict.fromkeys(names, value))
    ts: datetime = record["ts"]
    body = f"{record['route']} {record.get('provider') or 'unknown provider'} call"
    return ReadableLogRecord(
        LogRecord(timestamp=_nanoseconds(ts.replace(tzinfo=UTC)), observed_timestamp=_nanoseconds(datetime.now(UTC)),
                  severity_number=SeverityNumber.INFO, severity_text="INFO", body=body, attributes=attributes,
                  event_name=EVENT_NAME),
        resource=resource, instrumentation_scope=scope)


class OtlpExport:
    """Drains a store's export outbox to one OTLP/HTTP receiver."""

    def __init__(self, store: Store, settings: ExportSettings, timeout_s: float = TIMEOUT_S) -> None:
        if settings.logs_url is None:
            raise OffgateError("no export is configured: set [export] otlp_endpoint in config.toml")
        self._outbox = ExportOutbox(store)
        self._url = settings.logs_url
        self._exporter = OTLPLogExporter(endpoint=settings.logs_url, headers=settings.headers, timeout=timeout_s)
        offgate_version = version("offgate")
        self._resource = Resource.create({"service.name": "offgate", "service.version": offgate_version})
        self._scope = InstrumentationScope("offgate", offgate_version)
        self._started = False

    def drain(self, stop: threading.Event | None = None) -> ExportSummary:
        """Send every queued record, oldest first, in batches; a batch leaves the outbox only
        once the receiver accepted it. ExportFailed if the receiver refuses or is unreachable."""
        if not self._started:
            self._outbox.ensure()
            self._started = True
        sent = 0
        while stop is None or not stop.is_set():
            with self._outbox.draining() as mine:
                if not mine:
                    return ExportSummary(sent, self._outbox.pending(), busy=True)
                batch = self._outbox.read(BATCH)
                if not batch.entries:
                    break
                records = [log_record(record, self._resource, self._scope) for record in batch.records]
                if records and self._exporter.export(records) is not LogRecordExportResult.SUCCESS:
                    raise ExportFailed(f"{self._url} did not accept {len(records)} log records; they stay queued")
                self._outbox.acknowledge(batch.last_seq)
                sent += len(records)
        return ExportSummary(sent, self._outbox.pending())

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """Drain every `interval_s` until `stop` is set; a failure is logged and retried."""
        try:
            while not stop.is_set():
                try:
                    summary = self.drain(stop)
                    if summary.sent:
                        log.info("exported %d records to %s; %d waiting", summary.sent, self._url, summary.pending)
                except ExportFailed as exc:
                    log.warning("export failed: %s; trying again in %.0f s", exc, interval_s)
                stop.wait(interval_s)
        finally:
            self.close()

    def close(self) -> None:
        self._exporter.shutdown()


def _nanoseconds(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000
