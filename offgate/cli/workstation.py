"""`offgate scan`: what the workstation itself says (the coding agents' own usage logs, ...),
read once into the store."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offgate.cli.common import CommandContext, app, out
from offgate.config import device_name
from offgate.fingerprint import load_salt
from offgate.store import Store

if TYPE_CHECKING:
    from workstation.scan import ScanContext


@app.command()
def scan(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Say what was read as JSON.")] = False,
    user_home: Annotated[
        Path | None, typer.Option("--user-home", help="Read this user's home instead of your own (admins, tests).",
                                  file_okay=False, exists=True)
    ] = None,
) -> None:
    """Read the coding agents' own usage logs (Claude Code, Codex CLI) once: each call they
    logged becomes a record with its exact tokens, counted once even if the proxy saw it too."""
    from workstation.scan import run_scan
    from workstation.scanners import SCANNERS

    context: CommandContext = ctx.obj
    with context.store() as store:
        results = run_scan(scan_context(context, store, user_home), SCANNERS)
    if as_json:
        out.print(json.dumps([asdict(result) for result in results], indent=1), markup=False)
        return
    for result in results:
        if result.error:
            out.print(f"{result.scanner}: failed: {result.error}", markup=False)
            continue
        read = ", ".join(f"{count:,} {what}" for what, count in result.read.items()) or "nothing to read"
        kept = ", ".join(f"{count:,} {what}" for what, count in result.kept.items()) or "nothing"
        out.print(f"{result.scanner}: read {read}; new records: {kept}", markup=False)
        for note in result.notes:
            out.print(f"  {note}", markup=False)


def scan_context(context: CommandContext, store: Store, user_home: Path | None = None) -> ScanContext:
    """A scan of `user_home` (default: this user's own home, with this environment)."""
    from workstation.scan import ScanContext

    return ScanContext(
        user_home=(user_home or Path.home()).resolve(),
        env={} if user_home else dict(os.environ),  # another user's environment is unknown
        store=store, settings=context.settings, device=device_name(context.settings.device.name),
        user=_owner(user_home) if user_home else getpass.getuser(), now=datetime.now(UTC),
        salt=load_salt(context.home),
    )


def _owner(home: Path) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(home.stat().st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return None
