"""What a notification channel is: a name, and a way to send one alert that either returns
(delivered) or raises DeliveryError with a reason that is safe to log."""

from __future__ import annotations

from typing import Protocol

from offgate.store.alerts import Alert


class DeliveryError(Exception):
    """An alert did not reach a channel. The message says why and never holds a password
    or a webhook's secret path."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver the alert, or raise DeliveryError."""

    def close(self) -> None:
        """Release what the channel holds between sends."""
