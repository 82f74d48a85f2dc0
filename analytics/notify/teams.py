"""Microsoft Teams incoming webhook (a Workflows "post to a channel when a webhook request
is received" flow, or a legacy connector): a message with one Adaptive Card attachment."""

from __future__ import annotations

from typing import Any

from analytics.notify.text import ack_hint, facts, headline
from offgate.store.alerts import Alert

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_COLORS = {"critical": "Attention", "warning": "Warning", "info": "Default"}


def payload(alert: Alert) -> dict[str, Any]:
    card = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(alert), "weight": "Bolder", "size": "Medium", "wrap": True,
             "color": _COLORS.get(alert.severity, "Default")},
            {"type": "TextBlock", "text": alert.message, "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts(alert)]},
            {"type": "TextBlock", "text": ack_hint(alert), "wrap": True, "isSubtle": True},
        ],
    }
    return {"type": "message",
            "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}
