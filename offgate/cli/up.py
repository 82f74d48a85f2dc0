"""`offgate up`: the interceptor, the alert watcher and the dashboard in one process.

The proxy and the dashboard share one asyncio loop; the watcher, whose store reads and
notifications block, runs in a thread beside them. SIGINT or SIGTERM shuts the proxy down
(flushing every recorded call), then the dashboard, then the watcher after its tick. The
watcher is supervised: if it ever dies it is logged and restarted after a growing pause,
so a bug in one part never takes the capture down.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from typing import Annotated

import typer

from offgate.cli.common import CommandContext, app, gateway_keys, out, parsed
from offgate.config import Settings
from offgate.errors import EXIT_FAILED, OffgateError
from offgate.store import Store

log = logging.getLogger("offgate.up")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"
RESTART_PAUSES_S = (1, 5, 30, 60)  # after the first, second, third... failure; the last repeats


@app.command()
def up(
    ctx: typer.Context,
    listen_port: Annotated[
        # Not 0 (a new port each run): the PAC file and the system proxy name this port.
        int | None, typer.Option(min=1, max=65535, help="The proxy's port [config proxy.listen_port, 8080].")
    ] = None,
    dashboard_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="The dashboard's port [config dashboard.listen_port, 8765].")
    ] = None,
    interval: Annotated[str, typer.Option(help="How often the watcher looks for alerts: 30s, 5m, 1h.")] = "5m",
    scan_interval: Annotated[
        str, typer.Option(help="How often the coding agents' own usage logs are read (offgate scan): 30s, 5m, 1h.")
    ] = "5m",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Any mitmproxy option, as OPTION=VALUE (repeatable).")
    ] = None,
) -> None:
    """Run everything on this machine: the interceptor, the alert watcher and the dashboard,
    on the embedded store. Ctrl-C stops it cleanly."""
    from analytics.watch import parse_interval
    from interceptor.runner import check_port_free
    from offgate.catalog import build_catalog

    context: CommandContext = ctx.obj
    settings = context.settings
    interval_s = parsed("--interval", lambda: parse_interval(interval))
    scan_interval_s = parsed("--scan-interval", lambda: parse_interval(scan_interval))
    parsed("proxy.gateways", lambda: build_catalog(settings.proxy.gateways))
    context.database_url()  # a bad URL is bad input, said before anything starts
    proxy_port = settings.proxy.listen_port if listen_port is None else listen_port
    dashboard = settings.dashboard.model_copy(
        update={} if dashboard_port is None else {"listen_port": dashboard_port})
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        check_port_free(settings.proxy.listen_host, proxy_port)
        asyncio.run(_run_everything(context, proxy_port, dashboard.listen_host, dashboard.listen_port,
                                    interval_s, scan_interval_s, set_ or []))
    except OffgateError:
        raise  # says what went wrong: the command line prints it
    except Exception:
        log.exception("offgate up stopped on an unexpected error")
        raise typer.Exit(EXIT_FAILED) from None
    log.info("stopped")


async def _run_everything(context: CommandContext, proxy_port: int, dashboard_host: str, dashboard_port: int,
                          interval_s: float, scan_interval_s: float, set_options: list[str]) -> None:
    from analytics.dashboard import (
        create_app,
        dashboard_token,
        dashboard_url,
        exposure_warning,
        login_url,
        start_dashboard,
    )
    from analytics.dashboard.server import TOKEN_FILE
    from analytics.watch import Watcher
    from fleet.pusher import Pusher
    from fleet.running import RunningParts
    from fleet.status import enrolment_text
    from interceptor.ca import ensure_ca
    from interceptor.runner import build_master, serve_until_signalled
    from offgate.pac import local_address

    home, settings = context.home, context.settings
    proxy_host = settings.proxy.listen_host
    ca = ensure_ca(home)
    master = build_master(home, proxy_host, proxy_port, settings.proxy.gateways, set_options, with_termlog=False)
    token = dashboard_token(home)
    proxy_address = local_address(proxy_host, proxy_port)
    runner = await start_dashboard(create_app(home, settings, token, proxy_address), dashboard_host, dashboard_port)
    stop = threading.Event()
    watcher = Watcher(context.database_url(), settings, gateway_keys(context))
    watcher_thread = threading.Thread(target=supervise, name="offgate-watcher", daemon=True,
                                      args=("watcher", lambda: watcher.run(interval_s, stop), stop))
    watcher_thread.start()
    # The fleet's push: idle until the home is enrolled.
    pusher = Pusher(home, context.database_url(), RunningParts(home, own=["proxy"]))
    pusher_thread = threading.Thread(target=supervise, name="offgate-pusher", daemon=True,
                                     args=("pusher", lambda: pusher.run(stop), stop))
    pusher_thread.start()
    scanner_thread = threading.Thread(target=supervise, name="offgate-scanner", daemon=True,
                                      args=("scanner", lambda: _scan_every(context, scan_interval_s, stop), stop))
    scanner_thread.start()
    export_thread = start_exporting(settings, context.database_url(), stop)
    dashboard = dashboard_url(runner)
    for line in (
        f"proxy:      http://{proxy_address}  (set it as the system proxy; CA: {ca})",
        f"PAC file:   {dashboard}proxy.pac  (sends only LLM hosts to the proxy)",
        f"dashboard:  {dashboard}  (log in with the token in {home / TOKEN_FILE})",
        f"watcher:    every {_duration(interval_s)}",
        f"scan:       the coding agents' usage logs, AI apps and shell history, every {_duration(scan_interval_s)}",
        f"fleet:      {enrolment_text(home)}",
        f"export:     {settings.export.logs_url or 'off'}",
        f"data:       {home}",
    ):
        log.info(line)
    exposed = exposure_warning(dashboard_host)
    if exposed:
        log.warning(exposed)
    if sys.stdout.isatty():  # the token opens the dashboard: never into a log file or a pipe
        out.print(f"open {login_url(runner, token)}", markup=False)
    try:
        await serve_until_signalled(master)
    finally:
        log.info("stopping: the proxy has flushed its calls; closing the dashboard and the watcher")
        stop.set()
        await runner.cleanup()
        await asyncio.to_thread(watcher_thread.join, 60)
        await asyncio.to_thread(pusher_thread.join, 60)
        await asyncio.to_thread(scanner_thread.join, 60)
        if export_thread is not None:
            await asyncio.to_thread(export_thread.join, 60)


def _scan_every(context: CommandContext, interval_s: float, stop: threading.Event) -> None:
    """`offgate scan` of this user's home, then again every `interval_s`, until `stop`."""
    from offgate.cli.workstation import scan_context
    from workstation.scan import run_scan
    from workstation.scanners import SCANNERS

    with context.store() as store:
        while not stop.is_set():
            for result in run_scan(scan_context(context, store), SCANNERS):
                if result.error or any(result.kept.values()):
                    log.info("scan: %s read %s, kept %s%s", result.scanner, result.read, result.kept,
                             f", failed: {result.error}" if result.error else "")
            stop.wait(interval_s)


def start_exporting(settings: Settings, database_url: str, stop: threading.Event) -> threading.Thread | None:
    """The OTLP export's thread, supervised, draining until `stop` is set; None when no
    export is configured. The exporter (opentelemetry) is imported in that thread only."""
    if settings.export.otlp_endpoint is None:
        return None

    def run() -> None:
        from analytics.export.otlp import OtlpExport

        with Store.open(database_url) as store:
            OtlpExport(store, settings.export).run(stop, settings.export.interval_s)

    thread = threading.Thread(target=supervise, name="offgate-export", daemon=True, args=("export", run, stop))
    thread.start()
    return thread


def supervise(name: str, run: Callable[[], None], stop: threading.Event) -> None:
    """Run `run` until `stop` is set, restarting it after a pause whenever it raises or
    returns early: one part's failure is logged and survived, never fatal to the rest."""
    failures = 0
    while not stop.is_set():
        try:
            run()
        except Exception:
            log.exception("the %s failed", name)
        if stop.is_set():
            return
        pause = RESTART_PAUSES_S[min(failures, len(RESTART_PAUSES_S) - 1)]
        failures += 1
        log.warning("restarting the %s in %s s", name, pause)
        stop.wait(pause)


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
