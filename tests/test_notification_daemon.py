"""The tests' notification daemon answers as the Desktop Notifications Specification says, so a
notification that reaches it would reach a real desktop's daemon too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus

from tests.support.notification_daemon import BUS_NAME, OBJECT_PATH, Notification, notification_daemon

pytestmark = pytest.mark.e2e


async def talk_to_the_daemon(address: str) -> dict[str, Any]:
    """What a client sees: the server's answers, and the signals it sends meanwhile."""
    bus = await MessageBus(bus_address=address).connect()
    try:
        introspection = await bus.introspect(BUS_NAME, OBJECT_PATH)
        daemon: Any = bus.get_proxy_object(BUS_NAME, OBJECT_PATH, introspection).get_interface(BUS_NAME)
        closed: list[tuple[int, int]] = []
        daemon.on_notification_closed(lambda notification_id, reason: closed.append((notification_id, reason)))
        seen: dict[str, Any] = {
            "information": await daemon.call_get_server_information(),
            "capabilities": await daemon.call_get_capabilities(),
            "ids": [await daemon.call_notify("app", 0, "", "first", "one", [], {}, -1),
                    await daemon.call_notify("app", 0, "", "second", "two", ["default", ""],
                                             {"urgency": Variant("y", 2)}, 5000),
                    await daemon.call_notify("app", 1, "", "first again", "one, updated", [], {}, -1)],
        }
        await daemon.call_close_notification(2)
        with pytest.raises(DBusError):
            await daemon.call_close_notification(2)  # already closed: an error, and no second signal
        await daemon.call_get_capabilities()  # a round trip, so the signal has arrived
        seen["closed"] = closed
        return seen
    finally:
        bus.disconnect()


def test_the_daemon_numbers_replaces_closes_and_describes_itself_as_the_specification_says():
    with notification_daemon() as daemon:
        seen = asyncio.run(talk_to_the_daemon(daemon.address))
        received = daemon.received()
    assert seen["information"] == ["offgate-test-daemon", "offgate", "1.0", "1.2"]
    assert seen["capabilities"] == ["actions", "body"]
    assert seen["ids"] == [1, 2, 1]  # replacing notification 1 keeps its id
    assert seen["closed"] == [(2, 3)]  # 3: closed by a call to CloseNotification
    assert received == [
        Notification(1, "app", 0, "", "first", "one", [], {}, -1),
        Notification(2, "app", 0, "", "second", "two", ["default", ""], {"urgency": 2}, 5000),
        Notification(1, "app", 1, "", "first again", "one, updated", [], {}, -1)]
