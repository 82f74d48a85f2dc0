"""Analysis: LiteLLM's spend, reconciliation and the unmanaged-usage report."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from offgate.cli.common import (
    DeviceOption,
    SinceOption,
    UserOption,
    app,
    call_filter,
    err,
    fail,
    gateway_keys,
    out,
    since_from,
)
from offgate.errors import EXIT_FAILED
from offgate.vocabulary import CLASSES, Dimension

# -- spend, reconcile, report --------------------------------------------------------

spend_app = typer.Typer(help="LiteLLM's spend logs.", no_args_is_help=True)
app.add_typer(spend_app, name="spend")


@spend_app.command("import")
def spend_import(
    ctx: typer.Context,
    from_: Annotated[str, typer.Option(
        "--from", help="LiteLLM's base URL (its REST API), its database (postgresql://...), "
                       "or a LiteLLM_SpendLogs export (JSON lines or CSV).")],
    key: Annotated[str | None, typer.Option(
        "--key", envvar="LITELLM_MASTER_KEY", show_envvar=True,
        help="For the REST API: the master key, or a key allowed to read spend logs.")] = None,
    since: SinceOption = None,
) -> None:
    """Copy LiteLLM's spend rows into the store (rows already there are left as they are).
    Without --since: everything, except from the REST API (the last 30 days)."""
    from analytics.spend.importing import import_spend, open_source
    from offgate.store.spend import SpendLog

    start = since_from(since)
    source = open_source(from_, key=key, since=start, until=None)
    with ctx.obj.store() as store, _progress_bar(f"reading {source.describe()}") as progress:
        summary = import_spend(source, SpendLog(store), progress)
    out.print(f"imported {summary.added} new spend rows from {source.describe()} "
              f"({summary.read - summary.added} already present)", markup=False)
    for warning in summary.warnings:
        err.print(f"offgate: warning: {warning}", markup=False)
    for problem in summary.problems[:20]:
        err.print(f"offgate: skipped {problem}", markup=False)
    if summary.problems:
        fail(f"{len(summary.problems)} rows could not be read; the others were imported")
    if summary.warnings:
        fail("the import is incomplete (see the warnings above)", EXIT_FAILED)


@contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int | None], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not err.is_terminal:  # a bar in a log file or a pipe is noise
        yield lambda done, total: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@app.command()
def reconcile(ctx: typer.Context, since: SinceOption = None, device: DeviceOption = None,
              user: UserOption = None) -> None:
    """Classify captured calls (gateway, gateway-upstream, unmanaged), pair the managed ones
    with LiteLLM's spend rows, and record the findings. Without --since: every call. Safe to
    rerun over any window. With --device or --user, every call is still reconciled (a spend
    row names no device) and the summary tells of theirs."""
    from analytics.reconcile import narrowed
    from analytics.reconcile import reconcile as reconcile_window

    start = since_from(since)
    only = call_filter(device, user)
    settings = ctx.obj.settings.reconcile
    with ctx.obj.store() as store:
        summary = reconcile_window(store, settings, since=start)
        told = narrowed(store, summary, only) if only else summary
    out.print(f"reconciled {summary.calls} calls since {since or 'the beginning'} "
              f"against {summary.spend_rows} LiteLLM spend rows", markup=False)
    if only:
        out.print(f"of them, the {told.calls} calls of {only.describe()}, paired with {told.spend_rows} spend rows:",
                  markup=False)
    classes, how, found = told.classes, told.matched_by, told.findings
    for line in (
        "  " + ", ".join(f"{classes[name]} {name}" for name in CLASSES),
        f"  paired by response id {how['response_id']}, by LiteLLM call id {how['litellm_call_id']}, "
        f"by time, model and tokens {how['time_model_tokens']}",
        f"  findings: {found['unlogged_gateway_call']} unlogged gateway calls, {found['cost_mismatch']} cost "
        f"mismatches, {found['spend_not_captured']} spend rows no agent saw",
    ):
        out.print(line, markup=False)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


@app.command()
def report(
    ctx: typer.Context,
    since: SinceOption = "30d",
    by: Annotated[Dimension, typer.Option("--by", help="Break usage down by this (user: the person, team: "
                                                       "theirs, by `offgate people import`).")] = "provider",
    format: Annotated[ReportFormat, typer.Option("--format", help="table, json, csv or html.")] = ReportFormat.table,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.",
                                                  dir_okay=False)] = None,
    device: DeviceOption = None,
    user: UserOption = None,
) -> None:
    """The unmanaged-usage report: spend managed and unmanaged, coverage, unmanaged calls and
    tokens by a dimension, top sources, the daily trend, findings, what is estimated, what the unmanaged
    costs stand for (list price, a plan's API-equivalent, a retired price) and what the workstation scans found."""
    from analytics.report.model import build_report
    from analytics.report.render import render

    start = since_from(since)
    with ctx.obj.store() as store:
        document = build_report(store, start, datetime.now(UTC), by, call_filter(device, user), gateway_keys(ctx.obj))
    text = render(document, format.value)
    if out_file is None:
        sys.stdout.write(text)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror}", EXIT_FAILED)
    err.print(f"wrote the {format.value} report to {out_file}", markup=False)
