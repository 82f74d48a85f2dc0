"""The enrolled devices as the central store knows them: who owns each, when it last pushed,
and what it last said of itself (agent version, parts running, its newest record of each
source, records waiting to be pushed). The fleet's admin commands, the dashboard's fleet
page and the silence alerts read them here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, cast

from offgate.store.core import Store
from offgate.store.fleet import FleetDeviceRow


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """One enrolled device; times naive UTC as stored. `running` is what its agent last
    reported: {"proxy": bool, "native_host": bool, "last_records": {source: ISO time}}."""

    id: str
    name: str
    owner: str | None
    enrolled_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None
    agent_version: str | None
    running: dict[str, Any] | None
    pending: int | None
    quarantined: int | None
    records_stored: int

    def last_record(self, source: str) -> datetime | None:
        """When the device's newest record from `source` ("proxy", "extension") was made, aware UTC."""
        last = (self.running or {}).get("last_records")
        moment = cast(dict[str, Any], last).get(source) if isinstance(last, dict) else None
        if not isinstance(moment, str):
            return None
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

    def is_running(self, part: str) -> bool:
        """Whether the agent last said `part` ("proxy", "native_host") runs."""
        return (self.running or {}).get(part) is True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def devices(store: Store) -> list[DeviceHealth]:
    """Every enrolled device, revoked ones too, by name."""
    row = FleetDeviceRow
    query = row.select(row.id, row.name, row.owner, row.enrolled_at, row.revoked_at, row.last_seen_at,
                       row.agent_version, row.running, row.pending, row.quarantined,
                       row.records_stored).order_by(row.name)
    with store.reporting("read the devices in"):
        found = list(query.dicts().execute(store.database))
    return [DeviceHealth(**_decoded(device)) for device in found]


def _decoded(device: dict[str, Any]) -> dict[str, Any]:
    return {**device, "running": json.loads(device["running"]) if device["running"] else None}
