"""The report's workstation part: what `offgate scan` found in the window on the devices and
users the report keeps (counts, fingerprints and app names only; the store holds no more)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from analytics.report.document import InventoryApp, ShellKey, ToolRuns, Workstation
from offgate.store import Store
from offgate.store.filters import CallFilter
from offgate.store.workstation import WorkstationStore


def workstation_part(store: Store, since: datetime | None, until: datetime, only: CallFilter) -> Workstation:
    scans = WorkstationStore(store)
    runs: Counter[tuple[str, str]] = Counter()
    for entry in scans.tool_runs(since.date() if since else None, until.date(), only):
        runs[(entry["day"], entry["tool"])] += entry["runs"]
    return Workstation(
        tool_runs=[ToolRuns(day=date.fromisoformat(day), tool=tool, runs=n) for (day, tool), n in sorted(runs.items())],
        shell_keys=[ShellKey(**{name: entry[name] for name in ShellKey.model_fields})
                    for entry in scans.key_findings(since, until, only)],
        apps=_apps(scans.apps(only=only, seen_until=until), since),
    )


def _apps(found: list[dict[str, Any]], since: datetime | None) -> list[InventoryApp]:
    """The inventory's entries (one per app and device) per app, its devices together: those
    seen since `since` (first seen: ever, not only in the window)."""
    apps: dict[str, dict[str, Any]] = {}
    for entry in found:
        first, last = datetime.fromisoformat(entry["first_seen"]), datetime.fromisoformat(entry["last_seen"])
        app = apps.setdefault(entry["app"], {"app": entry["app"], "kind": entry["kind"], "devices": set(),
                                             "found_in": set(), "first_seen": first, "last_seen": last})
        app["devices"].add(entry["device"])
        app["found_in"].update(place["in"] for place in entry["found"])
        app["first_seen"], app["last_seen"] = min(app["first_seen"], first), max(app["last_seen"], last)
    seen = [app for app in apps.values() if since is None or app["last_seen"] >= since]
    return sorted((InventoryApp(**{**app, "devices": len(app["devices"]), "found_in": sorted(app["found_in"]),
                                   "new": since is None or app["first_seen"] >= since})
                   for app in seen), key=lambda app: (app.first_seen, app.app), reverse=True)
