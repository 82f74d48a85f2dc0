"""The machine's side: the PAC file and the desktop's proxy settings."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from offgate.cli.common import CommandContext, app, fail, out
from offgate.config import Settings
from offgate.system_proxy import (
    Change,
    Desktop,
    NoDesktop,
    ProxyTarget,
    find_desktop,
    state_path,
    status,
    turn_off,
    turn_on,
)
from offgate.system_proxy.detect import DesktopName
from offgate.system_proxy.state import load_state


@app.command("pac")
def pac(
    ctx: typer.Context,
    proxy: Annotated[str | None, typer.Option(
        "--proxy", help="HOST:PORT of the interceptor (default: proxy.listen_host and proxy.listen_port).")] = None,
) -> None:
    """Print the PAC file: the catalog's hosts and the gateways go to the interceptor, the rest DIRECT."""
    from offgate.pac import local_address, render_pac

    settings = ctx.obj.settings
    address = proxy or local_address(settings.proxy.listen_host, settings.proxy.listen_port)
    try:
        out.print(render_pac(address, settings.proxy.gateways), markup=False, emoji=False, end="")
    except ValueError as exc:
        fail(f"--proxy: {exc}" if proxy else str(exc))


system_proxy_app = typer.Typer(
    help="Point the desktop's proxy settings at the interceptor (GNOME, KDE, macOS, Windows), and back.",
    no_args_is_help=True)
app.add_typer(system_proxy_app, name="system-proxy")


DesktopOption = Annotated[DesktopName | None, typer.Option(
    "--desktop", help="Whose settings to change (default: the one offgate set, else the one detected).")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Show what would change, change nothing.")]


@system_proxy_app.command("on")
def system_proxy_on(
    ctx: typer.Context,
    pac: Annotated[bool, typer.Option(
        "--pac/--manual",
        help="--pac (default): the dashboard's PAC URL, so only LLM hosts touch the proxy; "
             "--manual: the interceptor as HTTP and HTTPS proxy for everything but loopback.")] = True,
    desktop: DesktopOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Point the desktop at the interceptor; the settings from before are saved for `off`."""
    context: CommandContext = ctx.obj
    target = proxy_target(context.settings, manual=not pac)
    chosen = desktop_for(context, desktop)
    changes = turn_on(chosen, target, context.home, datetime.now(UTC), dry_run)
    out.print(f"{chosen.title}: {target.describe()}", markup=False)
    print_changes(changes, dry_run)
    if dry_run:
        return
    out.print(f"saved the previous settings in {state_path(context.home)}: `offgate system-proxy off` puts them back",
              markup=False)
    if target.mode == "pac":
        out.print("the PAC file is served by `offgate up` (or `offgate dashboard`); while neither runs, browsers "
                  "connect directly", markup=False)


@system_proxy_app.command("off")
def system_proxy_off(ctx: typer.Context, desktop: DesktopOption = None, dry_run: DryRunOption = False) -> None:
    """Put back the proxy settings saved by `on`."""
    context: CommandContext = ctx.obj
    chosen = desktop_for(context, desktop)
    changes = turn_off(chosen, context.home, dry_run)
    if changes is None:
        out.print("offgate has not set the system proxy: nothing to restore", markup=False)
        return
    out.print(f"{chosen.title}: the settings from before `offgate system-proxy on`", markup=False)
    print_changes(changes, dry_run)
    if not dry_run:
        out.print(f"removed {state_path(context.home)}", markup=False)


@system_proxy_app.command("status")
def system_proxy_status(ctx: typer.Context, desktop: DesktopOption = None) -> None:
    """Show the desktop's proxy settings and whether offgate set them."""
    context: CommandContext = ctx.obj
    chosen = desktop_for(context, desktop)
    found = status(chosen, context.home)
    out.print(chosen.title, markup=False)
    for setting, value in found.current.items():
        out.print(f"  {setting}: {value_text(value)}", markup=False)
    if found.saved is None:
        out.print("set by offgate: no", markup=False)
        return
    since = f"{found.saved.mode}, since {found.saved.saved_at.isoformat().replace('+00:00', 'Z')}"
    if found.changed_since:
        out.print(f"set by offgate: yes ({since}), but changed since: {', '.join(found.changed_since)}", markup=False)
    else:
        out.print(f"set by offgate: yes ({since})", markup=False)
    out.print(f"`offgate system-proxy off` restores the settings saved in {state_path(context.home)}", markup=False)


def proxy_target(settings: Settings, manual: bool) -> ProxyTarget:
    from offgate.pac import local_host

    url = pac_url(settings)
    if not manual and url is None:
        fail("dashboard.listen_port is 0 (a new port each run), so the PAC URL is unknown: set a fixed port, "
             "or use --manual")
    return ProxyTarget("manual" if manual else "pac", url or "", local_host(settings.proxy.listen_host),
                       settings.proxy.listen_port)


def pac_url(settings: Settings) -> str | None:
    """Where the dashboard serves the PAC file; None when its port is chosen at run time."""
    from offgate.pac import local_address

    dashboard = settings.dashboard
    if dashboard.listen_port == 0:
        return None
    return f"http://{local_address(dashboard.listen_host, dashboard.listen_port)}/proxy.pac"


def desktop_for(context: CommandContext, name: DesktopName | None) -> Desktop:
    """The desktop to change: --desktop, else the one offgate set, else the one detected."""
    saved = None if name else load_state(context.home)
    try:
        return find_desktop(name if name else saved.desktop if saved else None, os.environ)
    except NoDesktop as exc:
        fail(f"{exc}\n{by_hand(context.settings)}")


def by_hand(settings: Settings) -> str:
    from offgate.pac import local_address

    proxy = local_address(settings.proxy.listen_host, settings.proxy.listen_port)
    url = pac_url(settings)
    pac = f"the automatic proxy configuration URL {url} (served by `offgate up`) or " if url else ""
    return (f"to set it by hand, enter in the network settings {pac}{proxy} as HTTP and HTTPS proxy with "
            f"localhost bypassed; command-line tools take HTTPS_PROXY=http://{proxy}")


def print_changes(changes: list[Change], dry_run: bool) -> None:
    for change in changes:
        out.print(f"  {change.setting}: {value_text(change.old)} -> {value_text(change.new)}", markup=False)
    if not changes:
        out.print("  already so: nothing to change", markup=False)
    if dry_run:
        out.print("dry run: nothing changed", markup=False)


def value_text(value: str | None) -> str:
    return "(not set)" if value is None else value
