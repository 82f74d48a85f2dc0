"""The interception CA: where it is, and trusting it in the system's and browsers' stores
(the work is done by the `certs` package; these commands print and record it)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offgate.cli.common import CommandContext, app, err, fail, out
from offgate.errors import EXIT_FAILED

if TYPE_CHECKING:
    from certs.machine import Machine
    from certs.trust import StateFile

certs_app = typer.Typer(help="The interception CA: its path, and trusting it (install, uninstall, status).",
                        no_args_is_help=True)
app.add_typer(certs_app, name="certs")


@certs_app.command("path")
def certs_path(ctx: typer.Context) -> None:
    """Print the CA certificate's path, creating the CA if it is missing."""
    from interceptor.ca import ensure_ca

    out.print(str(ensure_ca(ctx.obj.home)), markup=False)


SystemOption = Annotated[
    bool,
    typer.Option("--system/--no-system", help="The machine-wide store (needs root or admin): Linux's system trust "
                 "store, the macOS System keychain, the Windows machine Root store."),
]
UserOption = Annotated[
    bool,
    typer.Option("--nss/--no-nss", "--user/--no-user", help="The per-user stores: the NSS databases of "
                 "Chromium-family browsers and Firefox profiles (Linux), the login keychain (macOS), the user's "
                 "Root store (Windows)."),
]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print what would be done; change nothing.")]


@certs_app.command("install")
def certs_install(ctx: typer.Context, system: SystemOption = True, user: UserOption = True,
                  dry_run: DryRunOption = False) -> None:
    """Trust the CA (made if missing) in the chosen stores, printing each action; `uninstall` undoes it."""
    from certs import trust
    from interceptor.ca import ensure_ca

    context: CommandContext = ctx.obj
    machine, state = _trust_places(context)
    ca = trust.CA.load(ensure_ca(context.home))
    out.print(f"CA {ca.path} (SHA-256 {ca.sha256})", markup=False)
    plan = machine.plan(system=system, user=user)
    for note in plan.notes:
        out.print(note, markup=False)
    outcomes = trust.install(ca, plan, state, say=_say, dry_run=dry_run)
    if not plan.stores:
        out.print("no store to trust the CA in", markup=False)
    _conclude(outcomes, context, "install", dry_run)
    if not dry_run and state.path.exists():
        out.print(f"recorded in {state.path}; `offgate certs uninstall` undoes it", markup=False)


@certs_app.command("uninstall")
def certs_uninstall(ctx: typer.Context, system: SystemOption = True, user: UserOption = True,
                    dry_run: DryRunOption = False) -> None:
    """Remove the CA from exactly the stores `install` recorded (tolerating what was removed by hand)."""
    from certs import trust

    context: CommandContext = ctx.obj
    machine, state = _trust_places(context)
    if not state.load():
        out.print(f"nothing to uninstall: no store is recorded in {state.path}", markup=False)
        return
    outcomes = trust.uninstall(state, machine.store_for, say=_say, dry_run=dry_run,
                               include=lambda store: system if store.system else user)
    left = state.load()
    if left and not dry_run:
        out.print(f"{len(left)} still recorded in {state.path}", markup=False)
    _conclude(outcomes, context, "uninstall", dry_run)


@certs_app.command("status")
def certs_status(ctx: typer.Context) -> None:
    """Whether each store trusts the current CA, and the stores `install` recorded."""
    from certs import trust
    from interceptor.ca import ca_dir, ensure_ca

    context: CommandContext = ctx.obj
    machine, state = _trust_places(context)
    recorded = state.load()
    if ca_dir(context.home).exists():
        ca = trust.CA.load(ensure_ca(context.home))
        out.print(f"CA {ca.path} (SHA-256 {ca.sha256})", markup=False)
        plan = machine.plan(system=True, user=True)
        for trusted, where in trust.status(ca, plan):
            out.print(f"{trusted:<12} {where}", markup=False)
        for note in plan.notes:
            out.print(note, markup=False)
    else:
        out.print("CA not made yet: `offgate certs install` makes and trusts it", markup=False)
    out.print(f"recorded by install in {state.path}: {len(recorded) or 'none'}", markup=False)
    for entry in recorded:
        try:
            out.print(f"  {machine.store_for(entry).where}", markup=False)
        except trust.TrustError as exc:
            out.print(f"  {json.dumps(entry)} ({exc})", markup=False)


def _trust_places(context: CommandContext) -> tuple[Machine, StateFile]:
    from certs.machine import Machine
    from certs.trust import STATE_FILE, StateFile

    return Machine.current(), StateFile(context.home / STATE_FILE)


def _say(line: str) -> None:
    out.print(line, markup=False)


def _conclude(outcomes: list, context: CommandContext, command: str, dry_run: bool) -> None:
    """Exit 1 when a store was not changed as asked; for one that needs root, the exact sudo command."""
    if any(outcome.needs_root for outcome in outcomes):
        again = [*_offgate_command(), "--home", str(context.home), "certs", command, "--system", "--no-user",
                 *(["--dry-run"] if dry_run else [])]
        err.print(f"offgate: the system store needs root; run: sudo {shlex.join(again)}", markup=False)
    failed = [outcome for outcome in outcomes if not outcome.done]
    if failed:
        fail(f"{len(failed)} of {len(outcomes)} stores were not changed (see above)", EXIT_FAILED)


def _offgate_command() -> list[str]:
    """How this offgate was started, to run again under sudo (which may not find it on its PATH)."""
    script = Path(sys.argv[0])
    return [sys.executable, "-m", "offgate"] if script.name == "__main__.py" else [str(script.absolute())]
