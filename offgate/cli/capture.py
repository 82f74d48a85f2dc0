"""Capture: the proxy, the recorded calls, the catalog and the status."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from offgate.cli.common import CommandContext, SinceOption, app, err, fail, out, parsed, since_from
from offgate.money import usd
from offgate.store import Store, StoreError

events_app = typer.Typer(help="List recorded calls, or import them.", invoke_without_command=True)
app.add_typer(events_app, name="events")


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
    from interceptor.alone import run_alone
    from offgate.catalog import build_catalog

    context: CommandContext = ctx.obj
    settings = context.settings
    host = listen_host or settings.proxy.listen_host
    port = settings.proxy.listen_port if listen_port is None else listen_port
    gateways = gateway or settings.proxy.gateways
    parsed("--gateway", lambda: build_catalog(gateways))
    run_alone(context.home, host, port, gateways, set_ or [])


# -- events --------------------------------------------------------------------------


@events_app.callback()
def events(
    ctx: typer.Context,
    since: SinceOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of records.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many (the newest).")] = None,
) -> None:
    """List recorded calls (`offgate events import FILE` loads JSON lines)."""
    from analytics.report.values import count

    if ctx.invoked_subcommand is not None:
        return
    start = since_from(since)
    with ctx.obj.store() as store:
        records = store.events(since=start)
    if limit is not None:
        records = records[-limit:]
    if as_json:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in records], indent=1) + "\n")
        return
    table = Table("time (UTC)", "route", "provider", "model", "prompt", "completion", "cost", "process", "status")
    for r in records:
        tokens_mark = "~" if r.tokens_estimated else ""
        table.add_row(
            r.ts.strftime("%Y-%m-%d %H:%M:%S"), r.route, r.provider or "", r.model or "",
            f"{tokens_mark}{count(r.prompt_tokens)}", f"{tokens_mark}{count(r.completion_tokens)}",
            usd(r.cost_usd), r.process_name or "", r.parse_status,
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
    with ctx.obj.store() as store:
        added = store.add(records)
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


@app.command()
def catalog(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """What offgate recognises: providers, hosts and endpoints."""
    from offgate.catalog import PROVIDERS

    entries = [
        {"provider": p.name, "app": p.app, "hosts": list(p.hosts),
         "endpoints": sorted({rule.endpoint for rule in p.paths}),
         "websocket_endpoints": sorted({rule.endpoint for rule in p.paths if rule.parser.websocket}),
         "usage": p.usage}
        for p in PROVIDERS
    ]
    if as_json:
        sys.stdout.write(json.dumps(entries, indent=1) + "\n")
        return
    table = Table("provider", "hosts", "endpoints", "usage")
    for e in entries:
        endpoints = ", ".join(e["endpoints"])
        if e["websocket_endpoints"]:
            endpoints += f"\nover WebSocket: {', '.join(e['websocket_endpoints'])}"
        table.add_row(e["provider"], "\n".join(e["hosts"]), endpoints, e["usage"])
    out.print(table)


# How far back `offgate status` looks for connections it could not read.
UNREAD_WINDOW = "30d"


@app.command()
def status(ctx: typer.Context) -> None:
    """Where the data is, what is collected and what is not, and counts."""
    from analytics.notify import channels_from
    from fleet.status import status_lines as fleet_status
    from interceptor.ca import ca_dir
    from offgate.journal import waiting_in_journal
    from offgate.store.agent_logs import AgentLogStore
    from offgate.store.alerts import AlertStore
    from offgate.store.unread import UnreadConnectionStore
    from offgate.writer import QUARANTINE_FILE

    context: CommandContext = ctx.obj
    settings = context.settings
    url = context.database_url()
    ca_state = ("made; `offgate certs status` says where it is trusted" if ca_dir(context.home).exists()
                else "not made yet: offgate certs install")
    channels = [channel.name for channel in channels_from(settings.notify)]
    lines = [
        f"home:      {context.home}",
        f"database:  {Store.describe(url)}",
        f"CA:        {ca_dir(context.home)} ({ca_state})",
        f"gateways:  {', '.join(settings.proxy.gateways) or 'none configured'}",
        f"dashboard: http://{settings.dashboard.listen_host}:{settings.dashboard.listen_port} (offgate up or "
        "offgate dashboard prints the link that logs you in)",
        f"notify:    {', '.join(channels) or 'no channel'} (alerts of severity {settings.notify.min_severity} "
        "and above)",
        "collected: time, host, path, model, token counts, estimated cost, response id, "
        "LiteLLM call id, process (pid, name, exe), user, device, a salted fingerprint of the API key",
        "not collected: API keys, prompt and reply text",
        "agent logs: from the coding agents' own usage logs, each call's time, model and token counts; "
        "never their text, commands, file paths or project names (a log file is known by a hash of its path)",
    ]
    waiting = waiting_in_journal(context.home)
    if waiting:
        lines.append(f"journal:   {waiting} calls waiting to be stored in {context.home / 'journal'}")
    quarantine = context.home / QUARANTINE_FILE
    if quarantine.exists():
        lines.append(f"quarantine: {len(quarantine.read_text().splitlines())} events the store refused, kept in "
                     f"{quarantine}")
    try:
        store = Store.open(url)
        try:
            lines.append(f"records:   {store.count()} in all, schema version {store.schema_version()}")
            lines.append(f"alerts:    {len(AlertStore(store).alerts())} open (offgate alerts)")
            lines += _agent_log_lines(AgentLogStore(store).summary())
            lines += _unread_lines(UnreadConnectionStore(store).by_process_and_host(since_from(UNREAD_WINDOW)))
            lines.extend(fleet_status(context.home, store))
        finally:
            store.close()
    except StoreError as exc:
        lines.append(f"records:   store unavailable: {exc}")
        lines.extend(fleet_status(context.home, None))
    for line in lines:
        out.print(line, markup=False)


def _agent_log_lines(summary: list[dict[str, Any]]) -> list[str]:
    if not summary:
        return ["agent logs: none read yet (offgate scan; offgate up reads them every 5 minutes)"]
    return ["agent logs:", *(f"           {entry['agent']}: {entry['files']} files, {entry['records']} calls kept, "
                             f"last read {entry['last_read']:%Y-%m-%d %H:%M:%S}Z" for entry in summary)]


def _unread_lines(unread: list[dict[str, Any]]) -> list[str]:
    if not unread:
        return [f"unread:    none in the last {UNREAD_WINDOW} (a client that refuses offgate's certificate "
                "is passed through, and counted here)"]
    return [f"unread:    in the last {UNREAD_WINDOW}, passed through without being read:",
            *(f"           {entry['message']}; last at {entry['last_seen'][:19]}Z" for entry in unread)]
