"""The `offgate` command: the front door.

The only core module that may import the other rooms, and only lazily inside a command,
so `offgate events` never pays for mitmproxy.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
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
    from analytics.spend.importing import SpendSourceError, import_spend, open_source
    from offgate.spend_store import SpendStore

    start = _since(since)
    try:
        source = open_source(from_, key=key, since=start, until=None)
    except SpendSourceError as exc:
        fail(str(exc))
    store = ctx.obj.store()
    try:
        with _progress_bar(f"reading {source.describe()}") as progress:
            summary = import_spend(source, SpendStore(store), progress)
    except SpendSourceError as exc:
        fail(str(exc), EXIT_BAD_INPUT if source.kind == "file" else EXIT_FAILED)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.close()
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
def reconcile(ctx: typer.Context, since: SinceOption = None) -> None:
    """Classify captured calls (gateway, gateway-upstream, unmanaged), pair the managed ones
    with LiteLLM's spend rows, and record the findings. Without --since: every call. Safe to
    rerun over any window."""
    from analytics.reconcile import reconcile as reconcile_window
    from offgate.spend_store import SpendStore

    start = _since(since)
    settings = ctx.obj.settings.reconcile
    store = ctx.obj.store()
    try:
        summary = reconcile_window(SpendStore(store), settings, since=start)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.close()
    classes, how, found = summary.classes, summary.matched_by, summary.findings
    for line in (
        f"reconciled {summary.calls} calls since {since or 'the beginning'} "
        f"against {summary.spend_rows} LiteLLM spend rows",
        f"  {classes['gateway']} gateway, {classes['gateway-upstream']} gateway-upstream, "
        f"{classes['unmanaged']} unmanaged",
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


class ReportBy(StrEnum):
    user = "user"
    device = "device"
    app = "app"
    provider = "provider"
    model = "model"
    key = "key"
    process = "process"


@app.command()
def report(
    ctx: typer.Context,
    since: SinceOption = "30d",
    by: Annotated[ReportBy, typer.Option("--by", help="Break unmanaged usage down by this.")] = ReportBy.provider,
    format: Annotated[ReportFormat, typer.Option("--format", help="table, json, csv or html.")] = ReportFormat.table,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.",
                                                  dir_okay=False)] = None,
) -> None:
    """The unmanaged-usage report: spend managed and unmanaged, coverage, unmanaged calls and
    tokens by a dimension, top sources, the daily trend, findings and what is estimated."""
    from analytics.report.formats import render
    from analytics.report.model import build_report
    from offgate.spend_store import SpendStore

    start = _since(since)
    store = ctx.obj.store()
    try:
        document = build_report(SpendStore(store), start, datetime.now(UTC), by.value)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.close()
    text = render(document, format.value)
    if out_file is None:
        sys.stdout.write(text)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror}", EXIT_FAILED)
    err.print(f"wrote the {format.value} report to {out_file}", markup=False)


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


@app.command()
def status(ctx: typer.Context) -> None:
    """Where the data is, what is collected and what is not, and counts."""
    from interceptor.ca import ca_dir
    from offgate.writer import SPOOL_FILE

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


# -- browser extension and native host ------------------------------------------------

extension_app = typer.Typer(help="The browser extension and its native-messaging host.", no_args_is_help=True)
app.add_typer(extension_app, name="extension")


class Browser(StrEnum):
    chrome = "chrome"
    chromium = "chromium"
    edge = "edge"
    brave = "brave"
    firefox = "firefox"


BrowserOption = Annotated[Browser, typer.Option("--browser", help="The browser to install the host for.")]
UserDataDirOption = Annotated[
    Path | None,
    typer.Option("--user-data-dir", file_okay=False,
                 help="A Chromium browser's --user-data-dir: the host manifest goes in DIR/NativeMessagingHosts."),
]


@extension_app.command("install")
def extension_install(
    ctx: typer.Context,
    browser: BrowserOption,
    user_data_dir: UserDataDirOption = None,
    extension_id: Annotated[
        list[str] | None,
        typer.Option("--extension-id", help="Also allow this extension id (a store or enterprise build; repeatable)."),
    ] = None,
) -> None:
    """Install the native-messaging host for a browser (manifest, launcher, Windows registry)."""
    from native_host.extension import EXTENSION_DIR
    from native_host.install import InstallError, install, plan

    home = ctx.obj.home
    try:
        installation = plan(browser.value, home=home, user_data_dir=user_data_dir,
                            extension_ids=tuple(extension_id or ()))
        install(installation, home=home)
    except InstallError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}", EXIT_FAILED)
    out.print(f"host manifest: {installation.manifest}", markup=False)
    out.print(f"launcher:      {installation.launcher}", markup=False)
    if installation.registry_key:
        out.print(f"registry:      HKEY_CURRENT_USER\\{installation.registry_key}", markup=False)
    out.print(f"allowed:       {', '.join(installation.allowed)}", markup=False)
    out.print(f"next: load the extension from {EXTENSION_DIR} (see docs/extension.md)", markup=False)


@extension_app.command("uninstall")
def extension_uninstall(ctx: typer.Context, browser: BrowserOption, user_data_dir: UserDataDirOption = None) -> None:
    """Remove the native-messaging host of a browser (the extension is removed in the browser)."""
    from native_host.install import InstallError, plan, uninstall

    try:
        removed = uninstall(plan(browser.value, home=ctx.obj.home, user_data_dir=user_data_dir))
    except InstallError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot remove {exc.filename}: {exc.strerror}", EXIT_FAILED)
    for what in removed:
        out.print(f"removed {what}", markup=False)
    if not removed:
        out.print(f"nothing to remove: the host is not installed for {browser.value} there", markup=False)


@extension_app.command("path")
def extension_path() -> None:
    """Print the extension's folder (load it unpacked, or install it as a temporary add-on)."""
    from native_host.extension import EXTENSION_DIR

    out.print(str(EXTENSION_DIR), markup=False)


@extension_app.command("targets")
def extension_targets() -> None:
    """Regenerate the extension's URL list and content-script patterns from the catalog."""
    from native_host.generated import write_generated_files

    changed = write_generated_files()
    for path in changed:
        out.print(f"wrote {path}", markup=False)
    if not changed:
        out.print("the extension's generated files are up to date", markup=False)


@app.command("native-host", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def native_host_command(ctx: typer.Context) -> None:
    """Run the native-messaging host (the browser starts it; the installed launcher runs
    `python -m native_host`, which starts faster)."""
    from native_host.main import main as run_host

    home = ctx.obj.home_arg
    raise typer.Exit(run_host([*(["--home", str(home)] if home else []), *ctx.args]))
