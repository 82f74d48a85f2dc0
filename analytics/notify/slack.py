"""Slack incoming webhook (https://api.slack.com/messaging/webhooks): `text` is the
notification's fallback, `blocks` the message (a header, the alert's sentence, its facts)."""

from __future__ import annotations

from typing import Any

from analytics.notify.text import ack_hint, facts, headline
from offgate.store.alerts import Alert

HEADER_MAX_CHARS = 150  # Slack's limit for a header block's text


def payload(alert: Alert) -> dict[str, Any]:
    title = headline(alert)
    context = " · ".join(f"*{name}:* {escape(value)}" for name, value in facts(alert))
    return {
        "text": escape(f"{title}: {alert.message}"),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_MAX_CHARS]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": escape(alert.message)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context},
                                             {"type": "mrkdwn", "text": escape(ack_hint(alert))}]},
        ],
    }


def escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup: these three are escaped, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
