"""What every command shares: the Typer app, the session (home and settings), options,
consoles and the way a command fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

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
            self._home = checked(lambda: resolve_home(self.home_arg))
        return self._home

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = checked(lambda: load_settings(self.home, warn=warn))
        return self._settings

    def database_url(self) -> str:
        return checked(lambda: database_url_for(self.settings, self.home))

    def store(self) -> Store:
        try:
            return Store.open(self.database_url())
        except StoreError as exc:
            fail(str(exc), EXIT_FAILED)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"offgate: error: {message}", markup=False)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"offgate: warning: {message}", markup=False, soft_wrap=True)


def checked[T](make: Callable[[], T], errors: type[Exception] | tuple[type[Exception], ...] = ConfigError) -> T:
    """`make()`, with any of `errors` turned into a clear exit (2: bad input)."""
    try:
        return make()
    except errors as exc:
        fail(str(exc))


def since_from(text: str | None) -> datetime | None:
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


def count_text(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def money_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"
