"""Alerts: list and acknowledge them, and the watcher that raises and notifies them."""

from __future__ import annotations

import getpass
import json
import logging
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from offgate.cli.common import (
    CommandContext,
    DeviceOption,
    SinceOption,
    UserOption,
    app,
    call_filter,
    gateway_keys,
    out,
    parsed,
    since_from,
)
from offgate.cli.up import LOG_FORMAT
from offgate.errors import BadInputError
from offgate.stopping import stop_event

alerts_app = typer.Typer(help="Alerts: unusual unmanaged usage, new AI tools, budgets at risk.",
                         invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")



@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of alerts.")] = False,
    include_acked: Annotated[bool, typer.Option("--all", help="Include acknowledged alerts.")] = False,
    since: SinceOption = None,
    device: DeviceOption = None,
    user: UserOption = None,
) -> None:
    """Look for new alerts in the data as it is (default: the last alerts.lookback_hours),
    then list the open ones, newest first (with --device or --user: those about one of
    them). `offgate alerts ack ID` acknowledges one."""
    if ctx.invoked_subcommand is not None:
        return
    from analytics.alerts import raise_new_alerts
    from offgate.store.alerts import AlertStore

    context: CommandContext = ctx.obj
    start = since_from(since)
    with context.store() as store:
        # A window that ends before it starts is a ValueError: --since made it so.
        keys = gateway_keys(context)
        parsed("--since", lambda: raise_new_alerts(store, context.settings.alerts, since=start, gateway_keys=keys))
        found = AlertStore(store).alerts(include_acked=include_acked, since=start, about=call_filter(device, user))
    if as_json:
        sys.stdout.write(json.dumps([alert.to_json() for alert in found], indent=1) + "\n")
        return
    table = Table("id", "severity", "when (UTC)", "entity", "what happened")
    for alert in found:
        table.add_row(alert.id, alert.severity, alert.ts.strftime("%Y-%m-%d %H:%M"),
                      f"{alert.dimension}: {alert.entity}", alert.message + (" (acknowledged)" if alert.acked else ""))
    out.print(table)
    if include_acked:
        out.print(f"alerts: {len(found)}", markup=False)
    else:
        out.print(f"open alerts: {len(found)} (`offgate alerts ack ID` acknowledges one)", markup=False)


@alerts_app.command("ack")
def ack(ctx: typer.Context, alert_id: Annotated[str, typer.Argument(metavar="ID", help="The alert's id.")]) -> None:
    """Acknowledge an alert: it leaves the open list and is not notified again."""
    from offgate.store.alerts import AlertStore, UnknownAlertError

    with ctx.obj.store() as store:
        try:
            alert = AlertStore(store).ack(alert_id, by=getpass.getuser())
        except UnknownAlertError as exc:
            raise BadInputError(f"{exc} (`offgate alerts --all` lists them)") from None
    out.print(f"acknowledged {alert.id} (by {alert.acked_by}): {alert.message}", markup=False)


@app.command()
def watch(
    ctx: typer.Context,
    interval: Annotated[str, typer.Option(help="Time between rounds: 30s, 5m, 1h.")] = "5m",
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
) -> None:
    """Every interval: reconcile the recent calls, raise new alerts and send them to the
    channels in the [notify] settings (a failed send is retried on later rounds). One log
    line per round; Ctrl-C or SIGTERM stops it after the round in progress."""
    from analytics.watch import Watcher, parse_interval

    context: CommandContext = ctx.obj
    interval_s = parsed("--interval", lambda: parse_interval(interval))
    _log_to_stderr()
    watcher = Watcher(context.database_url(), context.settings, gateway_keys(context))
    log = logging.getLogger("offgate.watch")
    if once:
        try:
            log.info(watcher.tick().line())
        finally:
            watcher.close()
        return
    stop = stop_event()
    log.info("watching every %s; notifying: %s (Ctrl-C stops)", interval, ", ".join(watcher.channels) or "nobody")
    watcher.run(interval_s, stop)
    log.info("stopped")


def _log_to_stderr() -> None:
    """INFO and above to stderr, with UTC times."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT, "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler])
