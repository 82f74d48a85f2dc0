"""Sending due alerts to every configured channel, within each channel's hourly limit,
retrying what fails.

- Severity: alerts below `notify.min_severity` are never sent.
- Rate limit: at most `notify.max_per_hour` sent per channel in any hour, counted from the
  notification table, so every process sharing the store counts together. What is over the
  limit waits in the outbox for a later tick (most severe first); an alert still unsent a
  day after it was raised is left to `offgate alerts`, since a stale notification is noise.
- Retries: a failed send is tried once more after a short pause, then again on later ticks,
  until `notify.retries` retries are spent; then it is given up. A channel that fails an alert is left alone
  for the rest of the tick, so one dead endpoint costs a tick one timeout, not one per alert.
- Nothing a channel does escapes: every failure is one log line naming the channel and the
  reason."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.notify.base import Channel, DeliveryError
from analytics.notify.deliveries import Deliveries, Due
from offgate.config import NotifySettings
from offgate.store import Store
from offgate.store.alerts import SEVERITIES, AlertStore

log = logging.getLogger("offgate.notify")

RATE_WINDOW = timedelta(hours=1)
SEND_WITHIN = timedelta(days=1)
RETRY_PAUSE_S = 1.0
ATTEMPTS_PER_TICK = 2


@dataclass
class DeliveryCounts:
    sent: int = 0
    failed: int = 0  # to be retried on a later tick
    gave_up: int = 0
    waiting: int = 0  # not tried this tick: over the hourly limit, or the channel failed


class Dispatcher:
    def __init__(self, store: Store, settings: NotifySettings, channels: Sequence[Channel]) -> None:
        self._settings = settings
        self._channels = list(channels)
        self._alerts = AlertStore(store)
        self._deliveries = Deliveries(store)
        self._severities = SEVERITIES[SEVERITIES.index(settings.min_severity):]

    @property
    def channel_names(self) -> list[str]:
        return [channel.name for channel in self._channels]

    def deliver(self, now: datetime | None = None) -> DeliveryCounts:
        """Send what is due on every channel; StoreError if the store fails."""
        now = now or datetime.now(UTC)
        counts = DeliveryCounts()
        for channel in self._channels:
            self._deliver_on(channel, now, counts)
        return counts

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def _deliver_on(self, channel: Channel, now: datetime, counts: DeliveryCounts) -> None:
        due = self._deliveries.due(channel.name, self._severities, now - SEND_WITHIN)
        allowed = max(0, self._settings.max_per_hour - self._deliveries.sent_since(channel.name, now - RATE_WINDOW))
        for tried, item in enumerate(due):
            if tried == allowed:
                counts.waiting += len(due) - tried
                log.info("notify %s: %d alerts wait for the hourly limit (%d per hour)",
                         channel.name, len(due) - tried, self._settings.max_per_hour)
                return
            status = self._send(channel, item, now)
            setattr(counts, status, getattr(counts, status) + 1)
            if status != "sent":
                counts.waiting += len(due) - tried - 1
                return

    def _send(self, channel: Channel, item: Due, now: datetime) -> str:
        """One alert on one channel: its status after this tick's attempts."""
        alert = self._alerts.get(item.alert_id)
        most = 1 + self._settings.retries
        attempts = item.attempts
        for attempt_this_tick in range(1, ATTEMPTS_PER_TICK + 1):
            attempts += 1
            try:
                channel.send(alert)
            except DeliveryError as exc:
                reason = str(exc)
            except Exception as exc:  # a bug in a channel must not stop the watcher
                reason = f"unexpected {type(exc).__name__}"
                log.debug("notify %s: unexpected failure", channel.name, exc_info=True)
            else:
                self._deliveries.record(alert.id, channel.name, "sent", attempts, now)
                return "sent"
            if attempts >= most:
                log.error("notify %s: gave up on alert %s (attempt %d of %d): %s", channel.name, alert.id, attempts,
                          most, reason)
                self._deliveries.record(alert.id, channel.name, "gave_up", attempts, now, reason)
                return "gave_up"
            again = attempt_this_tick < ATTEMPTS_PER_TICK
            log.warning("notify %s: alert %s not delivered (attempt %d of %d): %s; retrying %s", channel.name,
                        alert.id, attempts, most, reason, f"in {RETRY_PAUSE_S:g} s" if again else "on the next tick")
            if again:
                time.sleep(RETRY_PAUSE_S)
        self._deliveries.record(alert.id, channel.name, "failed", attempts, now, reason)
        return "failed"
