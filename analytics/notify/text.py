"""What every channel says about an alert: a headline (severity and what happened, to
whom), the alert's own sentence, the facts behind it, and how to acknowledge it."""

from __future__ import annotations

from datetime import UTC

from offgate.money import usd
from offgate.store.alerts import Alert

_WHAT = {
    "spike": "{metric} spike for {who}",
    "surge": "surge in {metric} for {who}",
    "budget": "budget at risk for {who}",
    "first_seen": "new {who}",
    "unmanaged_share": "unmanaged share rising for {who}",
    "silent_device": "{who} has stopped reporting",
    "proxy_silent": "the proxy on {who} has stopped recording",
    "approval_request": "approval asked for {who}'s call at the gateway",
    "approval_decided": "approval request decided for {who}'s call at the gateway",
    "approval_expired": "approval expired for {who}'s call at the gateway",
    "unexplained_bill": "unexplained bill spend rising",
    "coaching": "{who} called an AI provider around the gateway",
}
_METRIC_NAMES = {"cost_usd": "cost", "calls": "calls", "tokens": "tokens", "share": "unmanaged share"}


def headline(alert: Alert) -> str:
    """'Warning: cost spike for user alice'."""
    who = "all unmanaged usage" if alert.dimension == "total" else f"{alert.dimension} {alert.entity}"
    metric = _METRIC_NAMES.get(alert.metric, alert.metric)
    what = _WHAT.get(alert.kind, "{kind} for {who}").format(metric=metric, who=who, kind=alert.kind)
    return f"{alert.severity.capitalize()}: {what}"


# What an alert's statistic and baseline are, by kind; a spike or surge: (Observed, Usual).
_FIGURES = {
    "budget": ("Month-end forecast", "Budget"),
    "unmanaged_share": ("Share now", "Share before"),
    "unexplained_bill": ("Unexplained share now", "Unexplained share before"),
    "first_seen": ("Calls so far", None),
    "silent_device": ("Silent for", None),
    "proxy_silent": ("Silent for", None),
}


def facts(alert: Alert) -> list[tuple[str, str]]:
    """(name, value) pairs: when, the figures, the q- or p-value and the alert's id."""
    found = [("When", alert.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    statistic_name, baseline_name = _FIGURES.get(alert.kind, ("Observed", "Usual"))
    if alert.statistic is not None:
        found.append((statistic_name, metric_value(alert.statistic, alert.metric)))
    if alert.baseline is not None and baseline_name is not None:
        found.append((baseline_name, metric_value(alert.baseline, alert.metric)))
    if alert.q_value is not None:
        found.append(("q-value", f"{alert.q_value:.2g}"))
    elif alert.p_value is not None:
        found.append(("p-value", f"{alert.p_value:.2g}"))
    found.append(("Alert", alert.id))
    return found


def ack_hint(alert: Alert) -> str:
    return f"Acknowledge it with: offgate alerts ack {alert.id}"


def metric_value(value: float, metric: str) -> str:
    if metric == "cost_usd":
        return usd(value, cents=True)
    if metric == "share":
        return f"{value:.0%}"
    if metric in ("calls", "tokens", "first_call"):
        return f"{value:,.0f}"
    if metric == "last_report":
        return f"{value:,.0f} hours"
    return f"{value:g}"
