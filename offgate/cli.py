"""The `offgate` command: the front door.

The only core module that may import the other rooms, and only lazily inside a command,
so `offgate events` never pays for mitmproxy.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from offgate.config import ConfigError, Settings, database_url_for, load_settings, resolve_home
from offgate.store import Store, StoreError
from offgate.timespan import parse_since

# Exit codes: 0 done, 1 something failed at run time, 2 bad input (arguments, config, files).
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

app = typer.Typer(
    help="offgate finds the LLM usage that goes around your LiteLLM gateway.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
certs_app = typer.Typer(help="The interception CA.", no_args_is_help=True)
events_app = typer.Typer(help="List recorded calls, or import them.", invoke_without_command=True)
app.add_typer(certs_app, name="certs")
app.add_typer(events_app, name="events")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@dataclass
class Session:
    """What every command needs: the home directory and settings, resolved on first use."""

    home_arg: Path | None
    _home: Path | None = None
    _settings: Settings | None = None

    @property
    def home(self) -> Path:
        if self._home is None:
            self._home = _checked(lambda: resolve_home(self.home_arg))
        return self._home

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = _checked(lambda: load_settings(self.home))
        return self._settings

    def database_url(self) -> str:
        return _checked(lambda: database_url_for(self.settings, self.home))

    def store(self) -> Store:
        try:
            return Store.open(self.database_url())
        except StoreError as exc:
            fail(str(exc), EXIT_FAILED)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"offgate: error: {message}", markup=False)
    raise typer.Exit(code)


def _checked(make):  # noqa: ANN001, ANN202 - a tiny adapter from ConfigError to an exit
    try:
        return make()
    except ConfigError as exc:
        fail(str(exc))


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as exc:
        fail(f"--since: {exc}")


HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (default: $OFFGATE_HOME or the platform's user data dir).",
                 file_okay=False),
]
SinceOption = Annotated[str | None, typer.Option("--since", help="Window start: 30m, 1h, 7d or an ISO 8601 time.")]


@app.callback()
def main(ctx: typer.Context, home: HomeOption = None) -> None:
    ctx.obj = Session(home)


# -- proxy ---------------------------------------------------------------------------


@app.command()
def proxy(
    ctx: typer.Context,
    listen_host: Annotated[
        str | None, typer.Option(help="Address to listen on [config proxy.listen_host, 127.0.0.1].")
    ] = None,
    listen_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port to listen on [config proxy.listen_port, 8080].")
    ] = None,
    gateway: Annotated[
        list[str] | None, typer.Option("--gateway", help="A LiteLLM gateway base URL (repeatable).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Any mitmproxy option, as OPTION=VALUE (repeatable).")
    ] = None,
) -> None:
    """Run the interceptor: set it as the system proxy and LLM calls are recorded."""
    from interceptor.ca import ensure_ca
    from interceptor.runner import ProxyError, run_proxy
    from offgate.catalog import build_catalog

    session: Session = ctx.obj
    settings = session.settings
    host = listen_host or settings.proxy.listen_host
    port = settings.proxy.listen_port if listen_port is None else listen_port
    gateways = gateway or settings.proxy.gateways
    try:
        build_catalog(gateways)
    except ValueError as exc:
        fail(f"--gateway: {exc}")
    ca = ensure_ca(session.home)
    err.print(f"offgate proxy on http://{host}:{port}  (CA: {ca})  data: {session.home}", markup=False)
    try:
        run_proxy(session.home, host, port, gateways, set_ or [])
    except ProxyError as exc:
        fail(str(exc))


# -- certs ---------------------------------------------------------------------------


@certs_app.command("path")
def certs_path(ctx: typer.Context) -> None:
    """Print the CA certificate's path, creating the CA if it is missing."""
    from interceptor.ca import ensure_ca

    out.print(str(ensure_ca(ctx.obj.home)), markup=False)


# -- events --------------------------------------------------------------------------


@events_app.callback()
def events(
    ctx: typer.Context,
    since: SinceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of records.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many (the newest).")] = None,
) -> None:
    """List recorded calls (`offgate events import FILE` loads JSON lines)."""
    if ctx.invoked_subcommand is not None:
        return
    start = _since(since)
    store = ctx.obj.store()
    try:
        records = store.events(since=start)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.close()
    if limit is not None:
        records = records[-limit:]
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in records], indent=1) + "\n")
        return
    table = Table("time (UTC)", "route", "provider", "model", "prompt", "completion", "cost $", "process", "status")
    for r in records:
        tokens_mark = "~" if r.tokens_estimated else ""
        table.add_row(
            r.ts.strftime("%Y-%m-%d %H:%M:%S"), r.route, r.provider or "", r.model or "",
            f"{tokens_mark}{_n(r.prompt_tokens)}", f"{tokens_mark}{_n(r.completion_tokens)}",
            _money(r.cost_usd), r.process_name or "", r.parse_status,
        )
    out.print(table)
    out.print(f"{len(records)} calls ({'~' } = estimated tokens)", markup=False)


@events_app.command("import")
def events_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON lines, one record each ('-' for stdin).")],
) -> None:
    """Load records from JSON lines (what `events --json` exports, one per line, also works)."""
    from offgate.events import UsageEvent

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    records, problems = [], []
    for number, line in enumerate(_json_lines(text), start=1):
        if not line.strip():
            continue
        try:
            records.append(UsageEvent.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            problems.append(f"line {number}: {where}: {first['msg']}")
    store = ctx.obj.store()
    try:
        added = store.add(records)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.close()
    out.print(f"imported {added} new records ({len(records) - added} already present)", markup=False)
    if problems:
        for problem in problems[:20]:
            err.print(f"offgate: skipped {problem}", markup=False)
        fail(f"{len(problems)} lines could not be read; the others were imported")


def _json_lines(text: str) -> list[str]:
    """JSON lines; a JSON array (the `events --json` output) is accepted too."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            return [json.dumps(item) for item in json.loads(stripped)]
        except json.JSONDecodeError as exc:
            fail(f"the file starts like a JSON array but is not one: {exc.msg} at {exc.pos}")
    return text.splitlines()


# -- report, catalog, status ---------------------------------------------------------


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


REPORT_DIMENSIONS = {"provider": "provider", "model": "model", "app": "app", "process": "process_name"}


@app.command()
def report(
    ctx: typer.Context,
    since: SinceOption = "30d",
    format: Annotated[ReportFormat, typer.Option("--format", help="table or json.")] = ReportFormat.table,
) -> None:
    """Calls, tokens and cost by provider, model, app and process."""
    start = _since(since)
    store = ctx.obj.store()
    try:
        sections = {name: store.totals(column, since=start) for name, column in REPORT_DIMENSIONS.items()}
        overall = store.totals("route", since=start)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.close()
    totals = _sum_rows(overall)
    if format is ReportFormat.json:
        doc = {"since": start.isoformat() if start else None, "totals": totals,
               **{f"by_{name}": rows for name, rows in sections.items()}}
        sys.stdout.write(json.dumps(doc, indent=1, default=str) + "\n")
        return
    out.print(f"{totals['calls']} calls since {since}: {_money(totals['cost_usd'])} USD, "
              f"{totals['prompt_tokens']} prompt + {totals['completion_tokens']} completion tokens "
              f"({totals['estimated_calls']} with estimated tokens, {totals['unpriced_calls']} unpriced)",
              markup=False)
    for name, rows in sections.items():
        table = Table(name, "calls", "prompt", "completion", "cost $", "estimated", "unpriced", title=f"by {name}")
        for row in rows:
            table.add_row(str(row["key"] or "-"), str(row["calls"]), _n(row["prompt_tokens"]),
                          _n(row["completion_tokens"]), _money(row["cost_usd"]),
                          str(row["estimated_calls"]), str(row["unpriced_calls"]))
        out.print(table)


def _sum_rows(rows: list[dict]) -> dict:
    keys = ("calls", "prompt_tokens", "completion_tokens", "estimated_calls", "unpriced_calls")
    totals = {k: sum(row[k] or 0 for row in rows) for k in keys}
    totals["cost_usd"] = round(sum(row["cost_usd"] or 0.0 for row in rows), 10)
    return totals


@app.command()
def catalog(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """What offgate recognises: providers, hosts and endpoints."""
    from offgate.catalog import PROVIDERS

    entries = [
        {"provider": p.name, "app": p.app, "hosts": list(p.hosts),
         "endpoints": sorted({rule.endpoint for rule in p.paths}), "usage": p.usage}
        for p in PROVIDERS
    ]
    if as_json:
        sys.stdout.write(json.dumps(entries, indent=1) + "\n")
        return
    table = Table("provider", "hosts", "endpoints", "usage")
    for e in entries:
        table.add_row(e["provider"], "\n".join(e["hosts"]), ", ".join(e["endpoints"]), e["usage"])
    out.print(table)


@app.command()
def status(ctx: typer.Context) -> None:
    """Where the data is, what is collected and what is not, and counts."""
    from interceptor.ca import ca_dir
    from interceptor.writer import SPOOL_FILE

    session: Session = ctx.obj
    url = session.database_url()
    ca_state = "made" if ca_dir(session.home).exists() else "not made yet: offgate certs path"
    lines = [
        f"home:      {session.home}",
        f"database:  {Store.describe(url)}",
        f"CA:        {ca_dir(session.home)} ({ca_state})",
        f"gateways:  {', '.join(session.settings.proxy.gateways) or 'none configured'}",
        "collected: time, host, path, model, token counts, estimated cost, response id, "
        "LiteLLM call id, process (pid, name, exe), user, device, a salted fingerprint of the API key",
        "not collected: API keys, prompt and reply text"
        + (" (prompt storage is ON in config)" if session.settings.privacy.store_prompts else ""),
    ]
    spool = session.home / SPOOL_FILE
    if spool.exists():
        lines.append(f"spooled:   events waiting in {spool} (the store was unavailable)")
    try:
        store = Store.open(url)
        try:
            lines.append(f"records:   {store.count()} in all, schema version {store.schema_version()}")
        finally:
            store.close()
    except StoreError as exc:
        lines.append(f"records:   store unavailable: {exc}")
    for line in lines:
        out.print(line, markup=False)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"
