"""A desktop notification daemon for tests: org.freedesktop.Notifications (specification 1.2)
served with dbus-fast on a private session bus, a dbus-daemon of the test's own, recording
every Notify call. Nothing here is built from source: dbus-fast ships wheels."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dbus_fast import BusType, DBusError, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusDict, DBusInt32, DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method, dbus_signal

from tests.support.required import unavailable

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
CLOSED_BY_CALL = 3  # NotificationClosed's reason for a CloseNotification call
SERVER_INFORMATION = ("offgate-test-daemon", "offgate", "1.0", "1.2")
CAPABILITIES = ["actions", "body"]

StringArray = Annotated[list[str], DBusSignature("as")]
ServerInformation = Annotated[tuple[str, str, str, str], DBusSignature("ssss")]
IdAndReason = Annotated[tuple[int, int], DBusSignature("uu")]
IdAndAction = Annotated[tuple[int, str], DBusSignature("us")]

# No service activation and no standard service directories: only what the test serves is on
# this bus, so a desktop's own notification daemon can never be started on it instead.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={directory}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@dataclass(frozen=True)
class Notification:
    """One Notify call as the daemon received it, hints unwrapped from their variants."""

    id: int
    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    expire_timeout: int


class NotificationsInterface(ServiceInterface):
    def __init__(self) -> None:
        super().__init__(BUS_NAME)
        self.received: list[Notification] = []
        self.open: set[int] = set()
        self._last_id = 0

    @dbus_method(name="GetCapabilities")
    def get_capabilities(self) -> StringArray:
        return CAPABILITIES

    @dbus_method(name="Notify")
    def notify(self, app_name: DBusStr, replaces_id: DBusUInt32, app_icon: DBusStr, summary: DBusStr,
               body: DBusStr, actions: StringArray, hints: DBusDict, expire_timeout: DBusInt32) -> DBusUInt32:
        if replaces_id in self.open:
            notification_id = replaces_id
        else:
            self._last_id += 1
            notification_id = self._last_id
        self.open.add(notification_id)
        self.received.append(Notification(notification_id, app_name, replaces_id, app_icon, summary, body,
                                          list(actions), {key: hint.value for key, hint in hints.items()},
                                          expire_timeout))
        return notification_id

    @dbus_method(name="CloseNotification")
    def close_notification(self, notification_id: DBusUInt32):  # no `-> None`: dbus-fast would read it as a signature
        if notification_id not in self.open:  # the specification: an error, and no signal
            raise DBusError(f"{BUS_NAME}.Error.NotFound", f"no notification {notification_id}")
        self.open.discard(notification_id)
        self.notification_closed(notification_id, CLOSED_BY_CALL)

    @dbus_method(name="GetServerInformation")
    def get_server_information(self) -> ServerInformation:
        return SERVER_INFORMATION

    @dbus_signal(name="NotificationClosed")
    def notification_closed(self, notification_id: int, reason: int) -> IdAndReason:
        return notification_id, reason

    @dbus_signal(name="ActionInvoked")  # never sent (no one clicks), but clients subscribe to it
    def action_invoked(self, notification_id: int, action_key: str) -> IdAndAction:
        return notification_id, action_key


class NotificationDaemon:
    """The interface above on its own connection, served from a thread with its own event loop
    so that blocking test code (and other processes) can send to it."""

    def __init__(self, bus_address: str) -> None:
        self.address = bus_address
        self.interface = NotificationsInterface()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        try:
            self._bus: MessageBus = self._run(self._serve(bus_address))
        except BaseException:
            self._stop_loop()
            raise

    def received(self) -> list[Notification]:
        return list(self.interface.received)

    def shown(self) -> list[tuple[str, str, str]]:
        """(app name, title, body) of each notification, in the order they came."""
        return [(notification.app_name, notification.summary, notification.body) for notification in self.received()]

    def stop(self) -> None:
        try:
            self._run(self._close())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _serve(self, bus_address: str) -> MessageBus:
        bus = await MessageBus(bus_address=bus_address, bus_type=BusType.SESSION).connect()
        bus.export(OBJECT_PATH, self.interface)
        reply = await bus.request_name(BUS_NAME)
        if reply is not RequestNameReply.PRIMARY_OWNER:
            raise RuntimeError(f"could not own {BUS_NAME} on the private bus: {reply.name}")
        return bus

    async def _close(self) -> None:
        self._bus.disconnect()
        await self._bus.wait_for_disconnect()


@contextmanager
def private_session_bus() -> Iterator[str]:
    """A dbus-daemon of its own on a socket in a temporary directory; yields its address, which
    DBUS_SESSION_BUS_ADDRESS holds meanwhile (for this process and the processes it starts)."""
    if shutil.which("dbus-daemon") is None:
        unavailable("dbus-daemon is not installed (apt-get install dbus)",
                    "dbus-daemon is missing: .ci/run installs the dbus package")
    with tempfile.TemporaryDirectory(prefix="offgate-bus-") as directory:
        config = Path(directory) / "bus.conf"
        config.write_text(BUS_CONFIG.format(directory=directory), encoding="utf-8")
        daemon = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        before = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        try:
            address = daemon.stdout.readline().strip()  # type: ignore[union-attr] - printed once it listens
            if not address:
                raise RuntimeError(f"dbus-daemon did not start: {daemon.communicate(timeout=10)[1].strip()}")
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
            yield address
        finally:
            if before is None:
                os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SESSION_BUS_ADDRESS"] = before
            daemon.terminate()
            daemon.communicate(timeout=10)


@contextmanager
def notification_daemon() -> Iterator[NotificationDaemon]:
    """A private session bus with the notification daemon on it."""
    with private_session_bus() as address:
        daemon = NotificationDaemon(address)
        try:
            yield daemon
        finally:
            daemon.stop()
