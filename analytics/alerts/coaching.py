"""Coaching on the desktop: the proxy marks a direct call under a `coach` rule (or a `block`
rule, enforced or not) on its record; each watcher tick turns the last hour's marked calls
into one alert per app (the calling process), which the channels carry (a desktop
notification under `offgate up`). The interceptor stays lean: it only marks the record.

The alert's key is the app's, and its cooldown an hour: at most one per app per hour. It is a
warning, the channels' least severity by default, so the person is told without a setting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from offgate.events import UsageEvent
from offgate.policy import PolicySettings
from offgate.store import Store
from offgate.store.alerts import Alert, AlertStore

COACHING_COOLDOWN = timedelta(hours=1)


def raise_coaching_alerts(store: Store, policy: PolicySettings, gateways: list[str],
                          now: datetime | None = None) -> list[Alert]:
    """Store a coaching alert for each app with blocked or coached calls in the last hour
    and none in the hour before; returns the new ones, to notify."""
    now = now or datetime.now(UTC)
    first_by_app: dict[str, UsageEvent] = {}
    for call in store.acted_on_calls(now - COACHING_COOLDOWN, now):
        first_by_app.setdefault(_app(call), call)
    alerts = [_alert(app, call, policy, gateways) for app, call in first_by_app.items()]
    return AlertStore(store).raise_alerts(alerts, COACHING_COOLDOWN, now)


def _app(call: UsageEvent) -> str:
    return call.process_name or call.app or "an unknown process"


def _alert(app: str, call: UsageEvent, policy: PolicySettings, gateways: list[str]) -> Alert:
    rule = next((rule for rule in policy.rules if rule.name == call.policy_rule), None)
    provider = call.provider or "an AI provider"
    did = (f"was refused a direct call to {provider}" if call.policy_outcome == "blocked"
           else f"called {provider} directly, around the gateway")
    where = f"the company's LiteLLM gateway at {gateways[0]}" if gateways else "the company's LiteLLM gateway"
    sentences = [f"{app} {did} (rule {call.policy_rule!r}).",
                 *([rule.message] if rule is not None and rule.message else []),
                 f"Route it through {where}: `offgate route <tool>` prints the settings.",
                 *([f"See {rule.alternative_url}."] if rule is not None and rule.alternative_url else [])]
    return Alert(kind="coaching", severity="warning", dimension="app", entity=app, metric="policy", ts=call.ts,
                 message=" ".join(sentences),
                 details={"provider": call.provider, "model": call.model, "rule": call.policy_rule,
                          "outcome": call.policy_outcome, "user": call.user, "device": call.device})
