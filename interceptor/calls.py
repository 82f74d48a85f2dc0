"""The state of one intercepted call, from its request headers to its event.

Kept apart from addon.py so that file also loads as a plain `mitmdump -s` script
(dataclasses need their module in sys.modules, which a script's is not).
"""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.attribution import ClientProcess
from offgate.captured import CapturedCall
from offgate.catalog.base import CallParser, Reading
from offgate.catalog.registry import Match
from offgate.metering import Metered, ResponseMeter


@dataclass(slots=True)
class InterceptedCall:
    """One intercepted LLM call while it is in flight: an HTTP exchange, or a WebSocket
    session whose responses are recorded one by one."""

    match: Match
    parser: CallParser
    client_id: str
    host: str
    path: str
    method: str
    meter: ResponseMeter
    app: str | None = None
    key_fingerprint: str | None = None
    key_hint: str | None = None
    litellm_call_id: str | None = None
    # What the policy gate did to this call ("blocked", "coached") and under which rule.
    policy_outcome: str | None = None
    policy_rule: str | None = None
    done: bool = False

    def finished(self, reading: Reading, status_code: int | None, ended: float) -> FinishedCall:
        """What the writer records for this reading. Time and bytes are counted from the
        previous reading on, so each response of a session gets its own."""
        return FinishedCall(self, reading, status_code, self.meter.take(ended))


@dataclass(slots=True)
class FinishedCall:
    """One reading of a call, with its status and measures."""

    call: InterceptedCall
    reading: Reading
    status_code: int | None
    metered: Metered

    def captured(self, device: str, process: ClientProcess | None) -> CapturedCall:
        """What the writer journals and turns into a UsageEvent. `process`: the client's,
        if its lookup is done (else the writer looks it up)."""
        call = self.call
        known = {} if process is None else dict(pid=process.pid, process_name=process.process_name,
                                                 exe=process.exe, user=process.user)
        return CapturedCall.of(
            call.match, self.reading, self.status_code, app=call.app, client_id=call.client_id,
            **self.metered.facts(), source="proxy", host=call.host, method=call.method, path=call.path,
            litellm_call_id=call.litellm_call_id, key_fingerprint=call.key_fingerprint, key_hint=call.key_hint,
            device=device, policy_outcome=call.policy_outcome, policy_rule=call.policy_rule, **known,
        )
