"""`offgate fleet policy set|show|clear`: the company's policy, on the central database; the
collector hands it to every enrolled agent with its next push (docs/governance.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from offgate.cli.common import CommandContext, out
from offgate.cli.fleet import central_store, fleet_app, login

policy_app = typer.Typer(help="The central policy: set here, applied by every enrolled agent after its next push.",
                         no_args_is_help=True)
fleet_app.add_typer(policy_app, name="policy")


@policy_app.command("set")
def policy_set(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A TOML file with a [policy] section, written as in config.toml.",
                                         dir_okay=False)],
) -> None:
    """Validate FILE as `offgate policy check` does (a bad rule is an error naming its line,
    and nothing is set) and put its [policy] in force for the fleet. What it sets replaces
    each agent's own [policy] setting; what it leaves out stays the agent's."""
    from offgate.config import load_policy_file
    from offgate.policy import policy_document
    from offgate.store.policies import CentralPolicies

    policy = load_policy_file(file)
    with central_store(ctx.obj) as store:
        version = CentralPolicies(store).set(policy_document(policy), login() or "unknown")
    settings = ", ".join(sorted(policy.model_fields_set)) or "nothing"
    out.print(f"central policy version {version.version} in force: {len(policy.rules)} rules (sets {settings}); "
              "agents apply it after their next push", markup=False)


@policy_app.command("show")
def policy_show(ctx: typer.Context) -> None:
    """The central policy in force (as JSON), its version, and who set it when."""
    from offgate.store.policies import CentralPolicies

    context: CommandContext = ctx.obj
    with central_store(context) as store:
        found = CentralPolicies(store).current()
    if found is None or found.document is None:
        out.print("no central policy: each agent follows its own [policy] in config.toml", markup=False)
        return
    out.print(f"# central policy version {found.version}, set by {found.by} at {found.at:%Y-%m-%d %H:%M:%S} UTC",
              markup=False)
    out.print(json.dumps(json.loads(found.document), indent=1), markup=False)


@policy_app.command("clear")
def policy_clear(ctx: typer.Context) -> None:
    """Withdraw the central policy: after their next push, agents follow their own [policy] again."""
    from offgate.store.policies import CentralPolicies

    with central_store(ctx.obj) as store:
        version = CentralPolicies(store).set(None, login() or "unknown")
    out.print(f"central policy cleared (version {version.version}): agents follow their own [policy] after their "
              "next push", markup=False)
