"""The browser extension and its native-messaging host."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from offgate.cli.common import app, out

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
    from native_host.install import install, plan

    home = ctx.obj.home
    installation = plan(browser.value, home=home, user_data_dir=user_data_dir, extension_ids=tuple(extension_id or ()))
    install(installation, home=home)
    out.print(f"host manifest: {installation.manifest}", markup=False)
    out.print(f"launcher:      {installation.launcher}", markup=False)
    if installation.registry_key:
        out.print(f"registry:      HKEY_CURRENT_USER\\{installation.registry_key}", markup=False)
    out.print(f"allowed:       {', '.join(installation.allowed)}", markup=False)
    out.print(f"next: load the extension from {EXTENSION_DIR} (see docs/extension.md)", markup=False)


@extension_app.command("uninstall")
def extension_uninstall(ctx: typer.Context, browser: BrowserOption, user_data_dir: UserDataDirOption = None) -> None:
    """Remove the native-messaging host of a browser (the extension is removed in the browser)."""
    from native_host.install import plan, uninstall

    removed = uninstall(plan(browser.value, home=ctx.obj.home, user_data_dir=user_data_dir))
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
