"""mitmproxy's events dispatched by table: an event reaches only the addons that have its hook.

mitmproxy hands every event (a dozen per flow, each followed by an `update` event) to every
addon of its chain, about 45 in a DumpMaster: per addon it walks the addon's children, looks
the hook up by name and enters a context manager, though most addons have none of these
hooks. That walk was a quarter of the proxy's event-loop time per small request (issue 17).

The table keeps, per event name, the addons of the chain that have the hook, in chain order,
and rebuilds itself when the chain changes. An addon with children (`addons`, like the
script loader, whose scripts come and go) is always called, and mitmproxy walks its children
as it does every time. What an addon is called with, in which order and how its errors are
logged is mitmproxy's own `invoke_addon` and `safecall`.
"""

from __future__ import annotations

from typing import Any

from mitmproxy import exceptions, hooks
from mitmproxy.addonmanager import AddonManager, safecall


class HookTable:
    def __init__(self, manager: AddonManager) -> None:
        self._manager = manager
        self._chain: list[Any] | None = None  # the chain the table was made for...
        self._length = 0  # ...and its length: `add` appends to the same list
        self._by_event: dict[str, list[Any]] = {}

    def install(self) -> None:
        """Dispatch the manager's events (the per-flow ones included) through this table."""
        setattr(self._manager, "trigger_event", self.trigger_event)  # noqa: B010 (an instance's method)

    def addons_for(self, event_name: str) -> list[Any]:
        chain = self._manager.chain
        if chain is not self._chain or len(chain) != self._length:
            self._chain, self._length, self._by_event = chain, len(chain), {}
        addons = self._by_event.get(event_name)
        if addons is None:
            addons = [addon for addon in chain
                      if hasattr(addon, "addons") or getattr(addon, event_name, None) is not None]
            self._by_event[event_name] = addons
        return addons

    async def trigger_event(self, event: hooks.Hook) -> None:
        """mitmproxy's `AddonManager.trigger_event`, skipping the addons without the hook."""
        manager = self._manager
        for addon in self.addons_for(event.name):
            try:
                with safecall():
                    await manager.invoke_addon(addon, event)
            except exceptions.AddonHalt:
                return
