"""A real OTLP/HTTP logs receiver on loopback: decodes each ExportLogsServiceRequest with
opentelemetry-proto's own classes and keeps the log records, flattened for assertions.
It can be stopped and started again on the same port (a receiver that is down, then up)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from offgate.demo.threaded_server import ThreadedServer


@dataclass(frozen=True)
class ReceivedLog:
    attributes: dict[str, Any]
    resource: dict[str, Any]
    time_unix_nano: int
    body: str
    event_name: str
    scope: str


class OtlpReceiver:
    def __init__(self) -> None:
        self.logs: list[ReceivedLog] = []
        self.requests: list[Mapping[str, str]] = []  # the headers of each request (any case)
        self.port = 0
        self._server: ThreadedServer | None = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/logs", self._take)
        self._server = ThreadedServer(port=self.port)
        self.port = self._server.serve(app)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def record_ids(self) -> list[str]:
        return [log.attributes["offgate.record_id"] for log in self.logs]

    async def _take(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-protobuf":
            return web.Response(status=415, text="protobuf only")
        self.requests.append(request.headers)
        message = ExportLogsServiceRequest.FromString(await request.read())
        for resource_logs in message.resource_logs:
            resource = _attributes(resource_logs.resource.attributes)
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    self.logs.append(ReceivedLog(_attributes(record.attributes), resource, record.time_unix_nano,
                                                 record.body.string_value, record.event_name, scope_logs.scope.name))
        return web.Response(body=ExportLogsServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)
