"""The fleet: the collector (`serve`), a workstation's enrolment and push (`enroll`, `push`),
and the admin's tokens and devices (`fleet ...`, straight on the central PostgreSQL)."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import ssl
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from offgate.cli.common import CommandContext, app, err, out, parsed
from offgate.cli.up import LOG_FORMAT, start_exporting
from offgate.config import device_name
from offgate.errors import BadInputError, OffgateError
from offgate.stopping import stop_event
from offgate.store import Store
from offgate.store.core import POSTGRES_PREFIXES
from offgate.timespan import parse_span

if TYPE_CHECKING:
    from fleet.pusher import PushSummary

LOOPBACK = ("127.0.0.1", "::1", "localhost")

fleet_app = typer.Typer(help="The central side: enrolment tokens and devices, on the central PostgreSQL "
                             "(OFFGATE_DATABASE_URL).", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")
token_app = typer.Typer(help="Enrolment tokens: each enrols workstations until it expires or is used up.",
                        no_args_is_help=True)
fleet_app.add_typer(token_app, name="token")


def central_store(context: CommandContext) -> Store:
    """The central database: PostgreSQL, named by OFFGATE_DATABASE_URL (or database_url)."""
    url = context.settings.database_url
    if not url or not url.startswith(POSTGRES_PREFIXES):
        raise BadInputError("this works on the central PostgreSQL database: set OFFGATE_DATABASE_URL=postgresql://"
                            "USER:PASSWORD@HOST/DATABASE (or database_url in config.toml)")
    return Store.open(url)


# -- the collector ---------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    listen_host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    listen_port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8443,
    tls_cert: Annotated[Path | None, typer.Option(help="Serve HTTPS with this certificate (PEM, chain included).",
                                                  dir_okay=False)] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's private key (PEM).", dir_okay=False)] = None,
    allow_plain_http: Annotated[bool, typer.Option(
        help="Serve plain HTTP beyond loopback: only behind a TLS-terminating proxy or load balancer.")] = False,
) -> None:
    """Run the collector: agents enrol and push their records here, into the central
    PostgreSQL (OFFGATE_DATABASE_URL). Stateless: run as many as you like on one database."""
    from fleet.collector import serve_until_stopped

    context: CommandContext = ctx.obj
    if (tls_cert is None) != (tls_key is None):
        raise BadInputError("--tls-cert and --tls-key go together")
    if tls_cert is None and listen_host not in LOOPBACK and not allow_plain_http:
        raise BadInputError(f"{listen_host} is beyond loopback and no certificate is given: serve HTTPS with "
                            "--tls-cert and --tls-key, or add --allow-plain-http behind a TLS-terminating proxy")
    ssl_context = _server_tls(tls_cert, tls_key) if tls_cert and tls_key else None
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)

    def started(url: str) -> None:
        err.print(f"offgate collector on {url}  database: {Store.describe(context.settings.database_url or '')}  "
                  "(Ctrl-C stops it)", markup=False)

    stop_exporting = threading.Event()
    with central_store(context) as store:
        exporting = start_exporting(context.settings, context.database_url(), stop_exporting)
        try:
            asyncio.run(serve_until_stopped(store, listen_host, listen_port, ssl_context, started))
        except OSError as exc:
            raise OffgateError(f"cannot listen on {listen_host}:{listen_port}: {exc.strerror or exc}") from None
        finally:
            stop_exporting.set()
            if exporting is not None:
                exporting.join(60)


def _server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise BadInputError(f"cannot use --tls-cert {cert} with --tls-key {key}: {exc}") from None
    return context


# -- a workstation ----------------------------------------------------------------------------


@app.command()
def enroll(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The collector's URL, e.g. https://offgate.example.com:8443.")],
    token: Annotated[str, typer.Option(envvar="OFFGATE_ENROLL_TOKEN", show_envvar=True,
                                       help="The enrolment token from `offgate fleet token create`.")],
    name: Annotated[str | None, typer.Option(help="This device's name [config device.name, the hostname].")] = None,
    owner: Annotated[str | None, typer.Option(help="Who uses this device [the login running enroll].")] = None,
    ca_file: Annotated[Path | None, typer.Option(
        help="Trust only this CA (PEM) for the collector, instead of the system's store.",
        exists=True, dir_okay=False)] = None,
    allow_plain_http: Annotated[bool, typer.Option(
        help="Accept an http:// collector URL beyond loopback (only behind a trusted network).")] = False,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push the records stored so far right away.")] = True,
) -> None:
    """Enrol this workstation: trade the token for a device credential (kept 0600 in the
    home), then push every record stored here, now and (with `offgate up`) from then on."""
    from fleet.enrolment import enroll as enroll_at
    from fleet.enrolment import save_enrolment
    from fleet.outbox import Outbox
    from fleet.pusher import Pusher, PushFailed, agent_version
    from fleet.transport import collector_url

    context: CommandContext = ctx.obj
    device = name or device_name(context.settings.device.name)
    collector_url(url, allow_plain_http)  # a URL refused here is bad input, before any connection
    enrolment = enroll_at(url, token, device, owner or login(), agent_version(), ca_file, allow_plain_http)
    with context.store() as store:
        Outbox(store).start()
    path = save_enrolment(context.home, enrolment)
    out.print(f"enrolled as device {enrolment.device_name} at {enrolment.collector}; credential in {path}",
              markup=False)
    if not push:
        return
    try:
        out.print(_pushed_text(Pusher(context.home, context.database_url()).push_once(), enrolment.collector),
                  markup=False)
    except PushFailed as exc:
        err.print(f"offgate: warning: nothing pushed yet: {exc}; `offgate up` or `offgate push` will try again",
                  markup=False)


@app.command()
def push(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Push what waits now, then exit (from cron, say).")] = False,
    interval: Annotated[str, typer.Option(help="How often to look for new records: 10s, 1m.")] = "10s",
) -> None:
    """Push this workstation's records to the collector it is enrolled with: what waits,
    then (without --once) every new record until Ctrl-C. `offgate up` does this too."""
    from fleet.enrolment import load_enrolment
    from fleet.pusher import Pusher

    context: CommandContext = ctx.obj
    interval_s = parsed("--interval", lambda: parse_span(interval)).total_seconds()
    if load_enrolment(context.home) is None:
        raise BadInputError(f"this home ({context.home}) is not enrolled: run `offgate enroll URL --token SECRET` "
                            "first")
    pusher = Pusher(context.home, context.database_url())
    if once:
        try:
            summary = pusher.push_once()
        finally:
            pusher.close()
        out.print(_pushed_text(summary), markup=False)
        return
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    stop = stop_event()
    err.print(f"offgate push: pushing every {interval} until Ctrl-C  data: {context.home}", markup=False)
    pusher.run(stop, interval_s)


def login() -> str | None:
    """Who runs this, if the system can say (a container without a user entry cannot)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _pushed_text(summary: PushSummary, collector: str = "the collector") -> str:
    return (f"pushed {summary.entries} outbox entries in {summary.batches} batches to {collector}: "
            f"{summary.stored} records new there, {summary.already_stored} it had already, {summary.deleted} "
            f"deleted; {max(summary.pending, 0)} waiting") + _quarantined_text(summary) + (
        f"; the central policy version {summary.policy_applied} is in force here now" if summary.policy_applied
        else "") + (f"; {summary.policy_refused}" if summary.policy_refused else "")


def _quarantined_text(summary: PushSummary) -> str:
    if not summary.quarantined:
        return ""
    which = "it" if summary.quarantined == 1 else "them, the last"
    return f"; {summary.quarantined} quarantined (the collector refused {which}: {summary.quarantine_reason})"


# -- the admin's side ---------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    expires: Annotated[str, typer.Option(help="How long it may enrol devices: 1h, 7d, 4w, or never.")] = "7d",
    uses: Annotated[int | None, typer.Option(min=1, help="How many devices it may enrol [no limit].")] = None,
    note: Annotated[str | None, typer.Option(help="What it is for (shown by `token list`).")] = None,
) -> None:
    """Make an enrolment token. The secret is printed once (on stdout, alone) and kept only
    as a hash."""
    from fleet.registry import Registry

    lifetime: timedelta | None = None
    if expires != "never":
        lifetime = parsed("--expires", lambda: parse_span(expires))
    with central_store(ctx.obj) as store:
        token = Registry(store).create_token(lifetime, uses, note)
    limits = [f"expires {token.expires_at.isoformat(timespec='seconds')}Z" if token.expires_at else "never expires",
              f"enrols up to {uses} devices" if uses else "enrols any number of devices"]
    err.print(f"enrolment token {token.id}: {', '.join(limits)}. On each workstation:\n"
              f"  OFFGATE_ENROLL_TOKEN=... offgate enroll https://COLLECTOR:8443", markup=False, soft_wrap=True)
    out.print(token.secret, markup=False)


@token_app.command("list")
def token_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
               ) -> None:
    """The enrolment tokens: when they expire and how often they were used (never the secrets)."""
    from fleet.registry import Registry

    with central_store(ctx.obj) as store:
        tokens = Registry(store).tokens()
    if as_json:
        sys.stdout.write(json.dumps(tokens, indent=1, default=_iso) + "\n")
        return
    table = Table("token", "created (UTC)", "expires (UTC)", "uses", "note")
    for token in tokens:
        used = f"{token['uses']}/{token['max_uses']}" if token["max_uses"] else str(token["uses"])
        table.add_row(token["id"], _minute(token["created_at"]), _minute(token["expires_at"]) or "never", used,
                      token["note"] or "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Stop a token from enrolling more devices (those it enrolled go on pushing)."""
    from fleet.registry import Registry

    with central_store(ctx.obj) as store:
        revoked = Registry(store).revoke_token(token_id)
    if not revoked:
        raise BadInputError(f"no enrolment token {token_id} that is not revoked already")
    out.print(f"revoked enrolment token {token_id}", markup=False)


@fleet_app.command("devices")
def devices(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The enrolled devices: last seen, agent version, what runs there (proxy, native host,
    the extension's last record), records waiting there, quarantined there (refused by the
    collector, kept on the device) and stored here, revoked or not."""
    from fleet.registry import Registry

    with central_store(ctx.obj) as store:
        found = Registry(store).devices()
    if as_json:
        sys.stdout.write(json.dumps(found, indent=1, default=_iso) + "\n")
        return
    table = Table("device", "owner", "last seen (UTC)", "agent", "running", "waiting", "quarantined", "records",
                  "state")
    for device in found:
        table.add_row(device["name"], device["owner"] or "", _minute(device["last_seen_at"]) or "never",
                      device["agent_version"] or "", _running_text(device["running"]), _count(device["pending"]),
                      _count(device["quarantined"]), f"{device['records_stored']:,}",
                      "revoked" if device["revoked_at"] else "active")
    out.print(table)
    out.print(f"{len(found)} devices", markup=False)


@fleet_app.command("revoke")
def revoke(ctx: typer.Context, device: Annotated[str, typer.Argument(help="The device's name or id.")]) -> None:
    """Cut a device off: its credential is refused from now on (its records stay)."""
    from fleet.registry import Registry

    with central_store(ctx.obj) as store:
        name = Registry(store).revoke(device)
    if name is None:
        raise BadInputError(f"no device named {device!r} (`offgate fleet devices` lists them)")
    out.print(f"revoked device {name}: its pushes are refused from now on", markup=False)


def _running_text(running: dict[str, object] | None) -> str:
    if not running:
        return ""
    parts = [name.replace("_", " ") for name in ("proxy", "native_host") if running.get(name)]
    last = running.get("last_records")
    extension = last.get("extension") if isinstance(last, dict) else None
    if extension:
        parts.append(f"extension (last record {str(extension)[:16]})")
    return ", ".join(parts) or "nothing"


def _count(count: int | None) -> str:
    return "" if count is None else f"{count:,}"


def _minute(moment: object) -> str:
    return "" if moment is None else str(moment)[:16]


def _iso(value: object) -> str:
    isoformat = getattr(value, "isoformat", None)
    return isoformat() + "Z" if isoformat else str(value)
