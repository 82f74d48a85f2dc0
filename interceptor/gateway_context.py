"""offgate's context on gateway calls: the device, the calling app and its user, as request
headers (offgate.gateway_context) that the gateway's pre-call hook turns into LiteLLM's tags
and spend-log metadata. A client's own x-offgate-* headers never pass as the proxy's: they are
replaced, or removed when the proxy knows nothing to put there. Direct calls are untouched.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import ctx, http

from interceptor.attribution import UNKNOWN, ProcessCache
from interceptor.calls import InterceptedCall
from interceptor.fail_open import FailOpen
from interceptor.recorder import ATTRIBUTION_WAIT
from offgate.gateway_context import CONTEXT_HEADERS, header_value


class GatewayContext:
    def __init__(self, processes: ProcessCache, fail_open: FailOpen) -> None:
        self.processes = processes
        self.fail_open = fail_open

    def load(self, loader: Any) -> None:
        loader.add_option(
            "offgate_gateway_context", bool, True,
            "Add x-offgate-device, x-offgate-app and x-offgate-user to calls to the gateway, for its LiteLLM "
            "logs (proxy.gateway_context in config.toml).",
        )

    async def request(self, flow: http.HTTPFlow) -> None:
        call: InterceptedCall | None = flow.metadata.get("offgate")
        if call is None or call.match.route != "gateway" or not ctx.options.offgate_gateway_context:
            return
        try:
            await self.processes.settled(call.client_id, ATTRIBUTION_WAIT)
        except Exception:  # fail-open
            self.fail_open.count()
        self.fail_open.run(self._add_headers, call, flow)

    def _add_headers(self, call: InterceptedCall, flow: http.HTTPFlow) -> None:
        process = self.processes.get(call.client_id, 0)
        known = {"device": ctx.options.offgate_device, "app": call.app or process.process_name,
                 "user": None if process is UNKNOWN else process.user}
        for name, header in CONTEXT_HEADERS.items():
            value = header_value(known[name] or "")
            if value is None:
                flow.request.headers.pop(header, None)
            else:
                flow.request.headers[header] = value
