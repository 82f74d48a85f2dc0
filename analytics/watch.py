"""`offgate watch`: every tick, bring the recent window up to date, raise what is new, and
tell people.

A tick reconciles the calls of the alerts' lookback window (`alerts.lookback_hours`, 24 h by
default): those are the calls the detectors judge now, and LiteLLM may have logged their
spend rows since the last tick, which can move a call from unmanaged to managed. Older calls
keep the class they were given (their spend rows are long in), so a tick costs the same on
the first day and after a year. Then it raises the new alerts and sends what is due (see
analytics.notify.dispatcher). `run` repeats that until told to stop, and no failure, of a
channel or of the store, ends it: it is logged and the next tick tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.alerts import raise_new_alerts
from analytics.alerts.coaching import raise_coaching_alerts
from analytics.bill.gateway_keys import GatewayKey
from analytics.notify import channels_from
from analytics.notify.dispatcher import DeliveryCounts, Dispatcher
from analytics.reconcile import reconcile
from offgate.config import Settings
from offgate.store import Store, StoreError
from offgate.store.approvals import ApprovalStore
from offgate.timespan import parse_span
from offgate.vocabulary import UNMANAGED

log = logging.getLogger("offgate.watch")
SHORTEST_INTERVAL = timedelta(seconds=1)


def parse_interval(text: str) -> float:
    """Seconds between ticks, from text like 30s, 5m or 1h; ValueError says what is wrong."""
    interval = parse_span(text)
    if interval < SHORTEST_INTERVAL:
        raise ValueError(f"{text!r} is too short: the shortest interval is 1s")
    return interval.total_seconds()


@dataclass
class TickSummary:
    at: datetime
    calls: int  # reconciled in the window
    unmanaged: int
    new_alerts: int
    notifications: DeliveryCounts

    def line(self) -> str:
        sent = self.notifications
        at = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (f"tick {at}: calls reconciled {self.calls} ({self.unmanaged} unmanaged); new alerts "
                f"{self.new_alerts}; notifications sent {sent.sent}, to retry {sent.failed}, given up "
                f"{sent.gave_up}, waiting {sent.waiting}")


class Watcher:
    """One store, one set of channels. Safe to run in a thread of its own (`offgate up`)."""

    def __init__(self, store_url: str, settings: Settings, gateway_keys: Sequence[GatewayKey] = ()) -> None:
        """`gateway_keys`: the gateway's upstream keys, which the bills' reconciliation credits
        LiteLLM's spend to (analytics.bill.gateway_keys)."""
        self._settings = settings
        self._gateway_keys = gateway_keys
        self._store = Store.open(store_url)
        self._dispatcher = Dispatcher(self._store, settings.notify, channels_from(settings.notify))

    @property
    def channels(self) -> list[str]:
        return self._dispatcher.channel_names

    def tick(self, now: datetime | None = None) -> TickSummary:
        """One round; StoreError if the store fails (the channels' failures are only logged)."""
        now = now or datetime.now(UTC)
        window = timedelta(hours=self._settings.alerts.lookback_hours)
        reconciled = reconcile(self._store, self._settings.reconcile, since=now - window, now=now)
        new = raise_new_alerts(self._store, self._settings.alerts, now=now, gateway_keys=self._gateway_keys)
        approvals = ApprovalStore(self._store)
        new += approvals.raise_request_alerts(now)  # held at the gateway: the approvers are told
        new += approvals.raise_decision_alerts(now)  # decided: the requester is told
        new += raise_coaching_alerts(self._store, self._settings.policy, self._settings.proxy.gateways, now)
        sent = self._dispatcher.deliver(now)
        return TickSummary(now, reconciled.calls, reconciled.classes[UNMANAGED], len(new), sent)

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Tick every `interval_s` seconds until `stop` is set, logging one line per tick;
        then close (a later run opens what it needs again)."""
        try:
            while not stop.is_set():
                self._logged_tick()
                stop.wait(interval_s)
        finally:
            self.close()

    def close(self) -> None:
        """Close this thread's store connection and the channels' connections."""
        self._dispatcher.close()
        self._store.close()

    def _logged_tick(self) -> None:
        try:
            summary = self.tick()
        except StoreError as exc:
            log.error("tick failed, trying again on the next: %s", exc)
        except Exception:  # a bug must not end the watch: say so loudly, keep watching
            log.exception("tick failed, trying again on the next")
        else:
            log.info(summary.line())
