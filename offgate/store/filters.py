"""Which captured calls a read counts: those of some devices, of some users, or all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import Field

from offgate.store.schema import UsageEventRow


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Calls from any of `devices` (all when empty) and by any of `users` (all when empty)."""

    devices: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.devices or self.users)

    def apply(self, query: Any, device: Field = UsageEventRow.device, user: Field = UsageEventRow.user) -> Any:
        """The query limited to these calls: over usage_event, or over another table's
        device and user columns."""
        if self.devices:
            query = query.where(device.in_(list(self.devices)))
        if self.users:
            query = query.where(user.in_(list(self.users)))
        return query

    def describe(self) -> str:
        """What it keeps, for a person: "devices a, b; users c" ("" for everything)."""
        parts = [f"{name} {', '.join(values)}" for name, values in (("devices", self.devices), ("users", self.users))
                 if values]
        return "; ".join(parts)


ALL_CALLS = CallFilter()
