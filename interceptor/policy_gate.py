"""The policy at the proxy: a direct call under a `block` rule is refused with the provider's
own error (when `[policy] enforce_block` is on), a call under `coach` is marked so on its record.

The policy is `offgate_policy` (config.toml's [policy]) with the central policy an enrolled
agent kept in the store over it (offgate.policy.with_central), followed while the proxy runs.

Gateway calls are never touched. The refusal is made by the proxy itself, so the call never
leaves the machine; the recorder still records it (status 403, policy_outcome "blocked").
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from mitmproxy import ctx, exceptions, http
from pydantic import ValidationError

from interceptor.attribution import UNKNOWN, ProcessCache
from interceptor.calls import InterceptedCall
from interceptor.fail_open import FailOpen
from interceptor.kept_policy import KeptPolicyWatch
from interceptor.recorder import ATTRIBUTION_WAIT  # a rule may name the user: wait as the recorder does
from offgate.policy import CallFacts, PolicyRule, PolicySettings, with_central

log = logging.getLogger("offgate")


class PolicyGate:
    def __init__(self, processes: ProcessCache, fail_open: FailOpen) -> None:
        self.processes = processes
        self.fail_open = fail_open
        self.policy = PolicySettings()
        self._local = PolicySettings()
        self._central: str | None = None  # the kept central policy's document
        self._watch: KeptPolicyWatch | None = None
        self._acts = False
        self._needs_user = False

    def load(self, loader: Any) -> None:
        loader.add_option(
            "offgate_policy", str, "",
            "The [policy] section as JSON (rules, enforce_block). Empty: [policy] in config.toml.",
        )

    def configure(self, updated: set[str]) -> None:
        if "offgate_policy" not in updated:
            return
        try:
            self._local = PolicySettings.model_validate_json(ctx.options.offgate_policy or "{}")
        except ValidationError as exc:
            raise exceptions.OptionsError(f"offgate_policy: {exc}") from exc
        self._apply()

    def running(self) -> None:
        loop = asyncio.get_running_loop()
        self._watch = KeptPolicyWatch(ctx.options.offgate_database_url,
                                      lambda document: loop.call_soon_threadsafe(self._central_changed, document))
        self._watch.start()

    def done(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def _central_changed(self, document: str | None) -> None:
        if document is None and self._central is None:
            return  # not enrolled, or no central policy yet: the local one is in force already
        self._central = document
        self._apply()
        log.info("offgate: the central policy %s", "no longer applies" if document is None else "is in force")

    def _apply(self) -> None:
        try:
            self.policy = with_central(self._local, self._central)
        except ValidationError:  # validated when kept; an older offgate's may not be: the local policy holds
            log.error("offgate: the central policy kept in the store is not valid here; following the local one")
            self.policy = self._local
        deciding = self.policy.workstation_rules()
        # Decided once per setting, not per call: with nothing to coach or block the gate does
        # nothing, and it waits for the calling process only when a rule names a user or team.
        self._acts = any(rule.action != "allow" for rule in deciding)
        self._needs_user = any(rule.user is not None or rule.team is not None for rule in deciding)

    async def request(self, flow: http.HTTPFlow) -> None:
        call: InterceptedCall | None = flow.metadata.get("offgate")
        if call is None or call.match.route != "direct" or not self._acts:
            return
        if self._needs_user:
            try:
                await self.processes.settled(call.client_id, ATTRIBUTION_WAIT)
            except Exception:  # fail-open
                self.fail_open.count()
        self.fail_open.run(self._decide, call, flow)

    def _decide(self, call: InterceptedCall, flow: http.HTTPFlow) -> None:
        process = self.processes.get(call.client_id, 0)
        user = None if process is UNKNOWN else process.user
        facts = CallFacts(app=call.app or call.match.app, provider=call.match.provider,
                          model=call.parser.reading.model, user=user, team=self.policy.team_of(user),
                          device=ctx.options.offgate_device or None)
        rule = self.policy.deciding_rule(facts)
        if rule is None or rule.action == "allow":
            return
        call.policy_rule = rule.name
        if rule.action == "block" and self.policy.enforce_block:
            call.policy_outcome = "blocked"
            message = refusal_message(rule, call.match.provider, list(ctx.options.offgate_gateways))
            flow.response = http.Response.make(403, json.dumps(provider_error(call.match.provider, message)),
                                               {"content-type": "application/json"})
            log.info("offgate: blocked a direct call to %s under rule %r", call.match.provider, rule.name)
        else:
            call.policy_outcome = "coached"  # a block rule not enforced coaches instead


def refusal_message(rule: PolicyRule, provider: str, gateways: list[str]) -> str:
    """What the person reads in their SDK's error: why, and how to go through the gateway."""
    parts = [f"offgate: direct calls to {provider} are blocked by the company's AI policy (rule {rule.name!r})."]
    if rule.message:
        parts.append(rule.message)
    if gateways:
        parts.append(f"Send your calls through the company's LiteLLM gateway at {gateways[0]}.")
    else:
        parts.append("Send your calls through the company's LiteLLM gateway.")
    parts.append("`offgate route <tool>` prints the settings that do it.")
    if rule.alternative_url:
        parts.append(f"See {rule.alternative_url}.")
    return " ".join(parts)


def provider_error(provider: str, message: str) -> dict[str, Any]:
    """A 403 body in the provider's own error shape, so its SDK raises its own error type."""
    if provider == "anthropic":
        return {"type": "error", "error": {"type": "permission_error", "message": message}}
    if provider in ("gemini", "vertex"):
        return {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}
    # OpenAI's shape, which the many OpenAI-compatible APIs share.
    return {"error": {"message": message, "type": "permission_error", "param": None, "code": "blocked_by_policy"}}
