"""The dashboard: the page, its JSON API, /metrics and /proxy.pac, served on its own."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from offgate.cli.common import CommandContext, app, err, fail, out, warn
from offgate.stopping import on_stop_signals


@app.command()
def dashboard(
    ctx: typer.Context,
    listen_host: Annotated[
        str | None, typer.Option(help="Address to listen on [config dashboard.listen_host, 127.0.0.1].")
    ] = None,
    listen_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port to listen on [config dashboard.listen_port, 8765].")
    ] = None,
) -> None:
    """Serve the dashboard until Ctrl-C: spend managed and unmanaged, a live feed of calls,
    alerts, apps and processes, findings. Prints the link that logs you in."""
    from analytics.dashboard import (
        ListenError,
        create_app,
        dashboard_token,
        exposure_warning,
        login_url,
        start_dashboard,
    )
    from offgate.pac import local_address

    context: CommandContext = ctx.obj
    host = listen_host or context.settings.dashboard.listen_host
    port = context.settings.dashboard.listen_port if listen_port is None else listen_port
    settings = context.settings.model_copy(update={"dashboard": context.settings.dashboard.model_copy(
        update={"listen_host": host, "listen_port": port})})
    token = dashboard_token(context.home)
    proxy_address = local_address(settings.proxy.listen_host, settings.proxy.listen_port)
    try:
        dashboard_app = create_app(context.home, settings, token, proxy_address)
    except ValueError as exc:  # a gateway or proxy address the PAC file cannot name
        fail(str(exc))

    async def serve() -> None:
        runner = await start_dashboard(dashboard_app, host, port)
        try:
            exposed = exposure_warning(host)
            if exposed:
                warn(exposed)
            err.print(f"offgate dashboard on {runner.addresses[0][0]}:{runner.addresses[0][1]}  "
                      f"data: {context.home}  (Ctrl-C stops it)", markup=False)
            out.print(f"open {login_url(runner, token)}", markup=False)
            await _until_stopped()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    except ListenError as exc:
        hint = "--listen-host and --listen-port, or the dashboard settings, choose another"
        raise ListenError(f"{exc} ({hint})") from None
    err.print("offgate dashboard stopped", markup=False)


async def _until_stopped() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    on_stop_signals(asyncio.get_running_loop(), stop.set)
    await stop.wait()
