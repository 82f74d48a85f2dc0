"""Enrolled devices as the collector keeps them (fleet_device rows), with what each agent
last said of itself: for the tests of what the central analysis reads of devices (silence
alerts, the dashboard's fleet page) without running agents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from offgate.store import Store
from offgate.store.fleet import FleetDeviceRow


def device_row(name: str, owner: str | None, last_seen: datetime | None, proxy: datetime | None = None,
               extension: datetime | None = None, proxy_running: bool = True,
               revoked_at: datetime | None = None) -> dict[str, Any]:
    """A device that last reported at `last_seen`, its proxy's and its extension's newest
    records at `proxy` and `extension` (aware times)."""
    running = {"proxy": proxy_running, "native_host": extension is not None,
               "last_records": {"proxy": proxy and proxy.isoformat(), "extension": extension and extension.isoformat()}}
    times = {"last_seen_at": last_seen, "revoked_at": revoked_at,
             "enrolled_at": (last_seen or datetime.now(UTC)) - timedelta(days=60)}
    return {"id": f"id-{name}", "name": name, "owner": owner, "credential_hash": f"hash-{name}", "token_id": None,
            "agent_version": "0.1.0", "running": json.dumps(running), "pending": 0, "records_stored": 100,
            "outbox": None, "acked_through": 0,
            **{key: value and value.astimezone(UTC).replace(tzinfo=None) for key, value in times.items()}}


def enrol(url: str, rows: list[dict[str, Any]]) -> None:
    with Store.open(url) as store:
        for row in rows:
            FleetDeviceRow.insert(row).execute(store.database)
