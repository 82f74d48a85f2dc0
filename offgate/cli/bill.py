"""The providers' bills: `offgate bill import` and `offgate bill show`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from offgate.cli.common import SinceOption, app, err, fail, gateway_keys, out, since_from

bill_app = typer.Typer(help="The providers' bills: import them, reconcile them.", no_args_is_help=True)
app.add_typer(bill_app, name="bill")
DEFAULT_WINDOW = timedelta(days=30)


@bill_app.command("import")
def bill_import(
    ctx: typer.Context,
    from_: Annotated[str, typer.Option("--from", help="openai, anthropic or openrouter (their usage and cost APIs), "
                                 "or a cloud's billing export (CSV).")],
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", dir_okay=False,
        help="A file holding the admin key (else OPENAI_ADMIN_KEY, ANTHROPIC_ADMIN_KEY or "
             "OPENROUTER_MANAGEMENT_KEY); never stored.")] = None,
    since: SinceOption = "30d",
    url: Annotated[str | None, typer.Option("--url", help="The API's base URL, if not the provider's.")] = None,
) -> None:
    """Copy a provider's billed usage and cost into the store, per day, model and key; lines
    already stored as they are stay unchanged, so it can simply be rerun. From OpenRouter, also
    each captured or logged call's own billed cost (its generation), each fetched once."""
    from analytics.bill.importing import import_bill, import_generations, open_bill_source
    from analytics.bill.openrouter import OpenRouterBillSource
    from offgate.store.bill import BillLog
    from offgate.store.generations import GenerationLog

    until = datetime.now(UTC).replace(tzinfo=None)
    start = since_from(since) or until - DEFAULT_WINDOW
    source = open_bill_source(from_, key_file=key_file, since=start.replace(tzinfo=None), until=until, base_url=url)
    with ctx.obj.store() as store:
        summary = import_bill(source, BillLog(store), lambda done, total: None)
        out.print(f"imported {summary.read} bill lines from {source.describe()}: {summary.changed} new or changed, "
                  f"{summary.read - summary.changed} unchanged", markup=False)
        if isinstance(source, OpenRouterBillSource):
            generations = import_generations(source.generations(), GenerationLog(store), start.replace(tzinfo=None),
                                             until, lambda done, total: None)
            out.print(f"imported the billed cost of {generations.imported} of {generations.wanted} OpenRouter "
                      f"calls not imported before; {len(generations.unknown)} OpenRouter does not know (yet)",
                      markup=False)
            summary.problems += generations.problems
    for problem in summary.problems[:20]:
        err.print(f"offgate: skipped {problem}", markup=False)
    if summary.problems:
        fail(f"{len(summary.problems)} bill entries could not be read; the others were imported")


@bill_app.command("show")
def bill_show(ctx: typer.Context, since: SinceOption = "30d") -> None:
    """The bills against the gateway and the agents: billed, explained by each, unexplained,
    per provider and key, and what they show (the report's bill part)."""
    from analytics.report.bill import bill_part
    from analytics.report.render_text import render_bill

    until = datetime.now(UTC)
    with ctx.obj.store() as store:
        bill = bill_part(store, since_from(since), until.replace(tzinfo=None), gateway_keys(ctx.obj))
    out.print(render_bill(bill), end="", markup=False)
