"""`offgate export`: the usage records to an OpenTelemetry receiver ([export] otlp_endpoint).
`offgate up` and `offgate serve` export too, on a thread (offgate.cli.up.start_exporting)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from offgate.cli.common import CommandContext, app, err, out
from offgate.cli.up import LOG_FORMAT
from offgate.errors import BadInputError
from offgate.stopping import stop_event

STOP_HELP = "Stop queuing records for the export, dropping what waits (a later export sends every record anew)."


@app.command()
def export(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Send what waits now, then exit (from cron, say).")] = False,
    stop: Annotated[bool, typer.Option("--stop", help=STOP_HELP)] = False,
) -> None:
    """Send the usage records to the OpenTelemetry receiver set in [export] otlp_endpoint, as
    OTLP log records with the GenAI semantic conventions' attributes; each record once, however
    late it was stored. Without --once, every [export] interval until Ctrl-C."""
    from analytics.export.otlp import OtlpExport
    from analytics.export.outbox import ExportOutbox

    context: CommandContext = ctx.obj
    if stop:
        with context.store() as store:
            dropped = ExportOutbox(store).stop()
        out.print(f"export stopped: no more records are queued for it; {dropped} waiting were dropped", markup=False)
        return
    settings = context.settings.export
    if settings.otlp_endpoint is None:
        raise BadInputError("no export is configured: set [export] otlp_endpoint = \"http://HOST:4318\" in "
                            f"{context.home / 'config.toml'} (or OFFGATE_EXPORT__OTLP_ENDPOINT)")
    with context.store() as store:
        exporter = OtlpExport(store, settings)
        if once:
            try:
                summary = exporter.drain()
            finally:
                exporter.close()
            out.print(f"exported {summary.sent} records to {settings.logs_url}; {summary.pending} waiting"
                      + (" (another offgate is exporting this store now)" if summary.busy else ""), markup=False)
            return
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        interrupted = stop_event()
        err.print(f"offgate export: to {settings.logs_url} every {settings.interval} until Ctrl-C", markup=False)
        exporter.run(interrupted, settings.interval_s)

