"""Posting JSON to a webhook, the one way the webhook, Slack and Teams channels send: they
differ only in the payload they make of an alert.

A webhook URL is a secret (whoever has it can post to the channel), so errors name only
its scheme and host: https://hooks.slack.com/…"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from analytics.notify.base import DeliveryError
from offgate.store.alerts import Alert

TIMEOUT_S = 10.0


class WebhookChannel:
    """POSTs one JSON payload per alert, made by `payload`, to `url`."""

    def __init__(self, name: str, url: str, payload: Callable[[Alert], Any]) -> None:
        self.name = name
        self._url = url
        self._payload = payload

    def send(self, alert: Alert) -> None:
        post_json(self._url, self._payload(alert))

    def close(self) -> None:
        pass  # every post opens and closes its own connection


def post_json(url: str, payload: Any) -> None:
    """POST `payload` as JSON; DeliveryError unless the answer is 2xx."""
    where = webhook_origin(url)
    try:
        response = httpx.post(url, json=payload, timeout=TIMEOUT_S)
    except httpx.TimeoutException:
        raise DeliveryError(f"{where} did not answer within {TIMEOUT_S:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DeliveryError(f"cannot reach {where}: {exc}") from None
    if not response.is_success:
        raise DeliveryError(f"{where} answered {response.status_code} {response.reason_phrase}")


def webhook_origin(url: str) -> str:
    """The URL without its path, query or credentials: safe to log."""
    try:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "the webhook URL (not a valid URL)"
    return origin + ("/…" if parts.path.strip("/") or parts.query else "")
