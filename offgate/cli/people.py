"""People: who each workstation login is at the gateway and in which team (`offgate report
--by user|team` counts a person's managed and unmanaged spend on one row)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from offgate.cli.common import app, out
from offgate.errors import BadInputError

people_app = typer.Typer(help="Who each login is: LiteLLM users and teams.", no_args_is_help=True)
app.add_typer(people_app, name="people")


@people_app.command("import")
def people_import(
    ctx: typer.Context,
    from_litellm: Annotated[str | None, typer.Option(
        "--from-litellm", help="LiteLLM's base URL: its /user/list and /team/list.")] = None,
    key: Annotated[str | None, typer.Option(
        "--key", envvar="LITELLM_MASTER_KEY", show_envvar=True, help="With --from-litellm: an admin key.")] = None,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", dir_okay=False, help="A CSV file with the columns login, device (optional), litellm_user_id, team.")
    ] = None,
) -> None:
    """Replace the people mapping with LiteLLM's users and teams (a user's login is their
    email's part before "@", else their user id) or with a CSV file's rows."""
    from analytics.people import people_from_csv, people_from_litellm
    from offgate.store.people import People

    if (from_litellm is None) == (csv_file is None):
        raise BadInputError("give one of --from-litellm URL or --csv FILE")
    if csv_file is not None:
        people, source = people_from_csv(csv_file), str(csv_file)
    else:
        assert from_litellm is not None
        people, source = people_from_litellm(from_litellm, key), from_litellm.rstrip("/")
    with ctx.obj.store() as store:
        try:
            count = People(store).replace(people, source)
        except ValueError as exc:
            raise BadInputError(f"{source}: {exc}; nothing was changed") from None
    teams = {person.team for person in people if person.team}
    out.print(f"imported {count} people in {len(teams)} teams from {source} (the previous mapping is replaced)",
              markup=False)


@people_app.command("list")
def people_list(ctx: typer.Context) -> None:
    """The mapping: login (and device), LiteLLM user, team."""
    from offgate.store.people import People

    with ctx.obj.store() as store:
        people = People(store).all()
    table = Table("login", "device", "LiteLLM user", "team")
    for person in people:
        table.add_row(person.login, person.device or "(any)", person.litellm_user_id or "", person.team or "")
    out.print(table)
    out.print(f"{len(people)} people", markup=False)
