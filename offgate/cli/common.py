"""What every command shares: the Typer app, the command context (home and settings), options,
consoles and the way a command fails: any OffgateError a command raises ends it here, once for
all, with its message and its exit code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from offgate.config import Settings, database_url_for, load_settings, resolve_home
from offgate.errors import EXIT_BAD_INPUT, BadInputError, OffgateError
from offgate.installation import installation_problem
from offgate.store import Store
from offgate.store.filters import CallFilter
from offgate.timespan import parse_since


class OffgateCommands(TyperGroup):
    """The `offgate` command group: an OffgateError from any command, however deep, is
    printed as `offgate: error: ...` and ends the command with the error's exit code. No
    command runs while another package holds a room's name (offgate.installation)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            problem = installation_problem()
            if problem:
                raise OffgateError(problem)
            return super().invoke(ctx)
        except OffgateError as exc:
            fail(str(exc), exc.exit_code)


app = typer.Typer(
    cls=OffgateCommands,
    help="offgate finds the LLM usage that goes around your LiteLLM gateway.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@dataclass
class CommandContext:
    """What every command needs: the home directory and settings, resolved on first use."""

    home_arg: Path | None
    _home: Path | None = None
    _settings: Settings | None = None

    @property
    def home(self) -> Path:
        if self._home is None:
            self._home = resolve_home(self.home_arg)
        return self._home

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.home, warn=warn)
        return self._settings

    def database_url(self) -> str:
        return database_url_for(self.settings, self.home)

    def store(self) -> Store:
        return Store.open(self.database_url())


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """End the command: the message on stderr, and the exit code."""
    err.print(f"offgate: error: {message}", markup=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"offgate: warning: {message}", markup=False, soft_wrap=True)


def parsed[T](option: str, parse: Callable[[], T]) -> T:
    """`parse()`, a ValueError from it bad input that names the option (or setting) it came from."""
    try:
        return parse()
    except ValueError as exc:
        raise BadInputError(f"{option}: {exc}") from None


def since_from(text: str | None) -> datetime | None:
    return None if text is None else parsed("--since", lambda: parse_since(text))


def call_filter(devices: list[str] | None, users: list[str] | None) -> CallFilter:
    """--device and --user as a CallFilter: each repeatable, each value a comma list."""
    def names(values: list[str] | None) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name.strip() for value in values or () for name in value.split(",") if name.strip()))

    return CallFilter(devices=names(devices), users=names(users))


DeviceOption = Annotated[list[str] | None, typer.Option(
    "--device", help="Only these devices' calls: repeat it, or give a comma list.")]
UserOption = Annotated[list[str] | None, typer.Option(
    "--user", help="Only these workstation logins' calls: repeat it, or give a comma list.")]
HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory (default: $OFFGATE_HOME or the platform's user data dir).",
                 file_okay=False),
]
SinceOption = Annotated[str | None, typer.Option("--since", help="Window start: 30m, 1h, 7d or an ISO 8601 time.")]


@app.callback()
def main(ctx: typer.Context, home: HomeOption = None) -> None:
    ctx.obj = CommandContext(home)


def gateway_keys(context: CommandContext) -> list[Any]:
    """The gateway's upstream keys from LiteLLM's config (reconcile.litellm_config)."""
    from analytics.bill.gateway_keys import configured_gateway_keys

    return list(configured_gateway_keys(context.settings, context.home))
