"""Notifications: the channels (desktop, mail, and webhooks posted by `posting`, with the
payloads Slack and Teams want), what they say (text), the shared outbox (deliveries) and
the dispatcher that sends through them."""

from __future__ import annotations

from analytics.notify import slack, teams
from analytics.notify.base import Channel
from analytics.notify.desktop import DesktopChannel
from analytics.notify.mail import EmailChannel
from analytics.notify.posting import WebhookChannel
from offgate.config import NotifySettings
from offgate.store.alerts import Alert


def channels_from(settings: NotifySettings) -> list[Channel]:
    """The channels the settings switch on, in a fixed order."""
    channels: list[Channel] = []
    if settings.desktop:
        channels.append(DesktopChannel())
    if settings.webhook.url:
        channels.append(WebhookChannel("webhook", settings.webhook.url, Alert.to_json))
    if settings.slack.url:
        channels.append(WebhookChannel("slack", settings.slack.url, slack.payload))
    if settings.teams.url:
        channels.append(WebhookChannel("teams", settings.teams.url, teams.payload))
    if settings.email.host:
        channels.append(EmailChannel(settings.email))
    return channels
