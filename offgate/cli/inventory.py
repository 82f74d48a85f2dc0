"""`offgate inventory`: the AI apps, agents and IDE extensions installed and running here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from offgate.cli.common import CommandContext, app, out
from offgate.config import device_name


@app.command()
def inventory(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    user_home: Annotated[Path | None, typer.Option("--user-home", help="Read this home instead of yours (admins).",
                                                   exists=True, file_okay=False)] = None,
) -> None:
    """Scan for AI apps, agents, language servers and IDE extensions (installed, and running
    for the home's user), keep them in the store with when each was first and last seen and
    its CPU time and memory per day, and list them."""
    from offgate.store.workstation import WorkstationStore
    from workstation.inventory import scan_inventory

    context: CommandContext = ctx.obj
    device = device_name(context.settings.device.name)
    now = datetime.now(UTC)
    with context.store() as store:
        summary = scan_inventory(user_home or Path.home(), store, now, device=device)
        apps = WorkstationStore(store).apps(device)
    running = {entry.app: entry for entry in summary.running}
    for entry in apps:
        entry["running_now"] = entry["app"] in running
        entry["new"] = entry["app"] in summary.new_apps
    if as_json:
        out.print_json(json.dumps({"device": device, "scanned_at": now.isoformat(), "user": summary.user,
                                   "new_apps": summary.new_apps, "apps": apps}))
        return
    _print_table(apps)


def _print_table(apps: list[dict[str, Any]]) -> None:
    if not apps:
        out.print("No AI apps, agents or IDE extensions found.")
        return
    table = Table("app", "kind", "found in", "first seen", "last seen", "running", "CPU s", "peak memory")
    for entry in apps:
        places = sorted({found["in"] for found in entry["found"]})
        table.add_row(entry["app"] + (" (new)" if entry["new"] else ""), entry["kind"], ", ".join(places),
                      entry["first_seen"][:16], entry["last_seen"][:16], "yes" if entry["running_now"] else "",
                      f"{entry['cpu_seconds']:,.1f}", _megabytes(entry["peak_memory_bytes"]))
    out.print(table)


def _megabytes(value: int) -> str:
    return f"{value / 1e6:,.0f} MB" if value else ""
