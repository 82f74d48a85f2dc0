"""Desktop notifications through desktop-notifier (D-Bus on Linux, the Notification Center
on macOS, WinRT on Windows), under the app name "offgate".

desktop-notifier never raises when a notification cannot be shown: it logs the exception
and moves on. The one sign of success is its `on_dispatched` callback, so a send without it
is a failure, and the library's log record is caught to give the reason in one line.

The notifier keeps its connection (its D-Bus socket) between sends, on an event loop of the
channel's own, as desktop-notifier's own synchronous wrapper does; after a failure it is
rebuilt, so a notification service that restarts is found again."""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar

from desktop_notifier import DesktopNotifier, Urgency

from analytics.notify.base import DeliveryError
from analytics.notify.text import headline
from offgate.store.alerts import Alert

APP_NAME = "offgate"
TIMEOUT_S = 10.0
_URGENCY = {"info": Urgency.Low, "warning": Urgency.Normal, "critical": Urgency.Critical}
_LIBRARY_LOGGER = "desktop_notifier.backends.base"  # where it logs "Notification failed"

# The failures desktop-notifier logged during the current send (unset outside a send).
_failures: ContextVar[list[BaseException]] = ContextVar("desktop_notification_failures")


class _CatchFailure(logging.Filter):
    """Takes desktop-notifier's failure record (a warning with a traceback) during our sends."""

    def filter(self, record: logging.LogRecord) -> bool:
        failures = _failures.get(None)
        if failures is None or record.exc_info is None or record.exc_info[1] is None:
            return True
        failures.append(record.exc_info[1])
        return False


logging.getLogger(_LIBRARY_LOGGER).addFilter(_CatchFailure())


class DesktopChannel:
    name = "desktop"

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._notifier: DesktopNotifier | None = None

    def send(self, alert: Alert) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(asyncio.wait_for(self._send(alert), TIMEOUT_S))
        except TimeoutError:
            self._notifier = None
            raise DeliveryError(f"the notification service did not answer within {TIMEOUT_S:g} s") from None

    def close(self) -> None:
        """Drop the connection; a later send opens a new one."""
        self._notifier = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    async def _send(self, alert: Alert) -> None:
        notifier = self._notifier or DesktopNotifier(app_name=APP_NAME, app_icon=None)
        shown: list[bool] = []
        failures: list[BaseException] = []
        _failures.set(failures)
        urgency = _URGENCY.get(alert.severity, Urgency.Normal)
        await notifier.send(title=headline(alert), message=alert.message, urgency=urgency,
                            on_dispatched=lambda: shown.append(True))
        if not shown:
            self._notifier = None
            reason = "; ".join(str(failure) or type(failure).__name__ for failure in failures) or "no reason given"
            raise DeliveryError(f"no desktop notification service took it: {reason}")
        self._notifier = notifier
