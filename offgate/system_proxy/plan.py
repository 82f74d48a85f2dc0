"""`on`, `off` and `status`, the same for every desktop: compare, save, change, restore."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from offgate.system_proxy.base import BadInput, Desktop, ProxyTarget, Values
from offgate.system_proxy.state import SavedState, load_state, remove_state, save_state


@dataclass(frozen=True, slots=True)
class Change:
    setting: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class Status:
    current: dict[str, str | None]
    saved: SavedState | None
    changed_since: tuple[str, ...]  # settings someone changed after `on`


def changes_between(current: Values, wanted: Values) -> list[Change]:
    return [Change(setting, current.get(setting), new) for setting, new in wanted.items()
            if current.get(setting) != new]


def turn_on(desktop: Desktop, target: ProxyTarget, home: Path, now: datetime, dry_run: bool = False) -> list[Change]:
    """Point `desktop` at `target`; the values from before the first `on` are saved first."""
    saved = saved_for(desktop, home)
    current = desktop.read()
    wanted = desktop.wanted(target)
    changes = changes_between(current, wanted)
    if dry_run:
        return changes
    # A second `on` keeps the first saved values: those are the user's own.
    previous = saved.previous if saved is not None else current
    save_state(home, SavedState(desktop.name, target.mode, now, previous, wanted))
    desktop.write({change.setting: change.new for change in changes})
    return changes


def turn_off(desktop: Desktop, home: Path, dry_run: bool = False) -> list[Change] | None:
    """Put back the values saved by `on`; None when offgate has not set the proxy."""
    saved = saved_for(desktop, home)
    if saved is None:
        return None
    changes = changes_between(desktop.read(), saved.previous)
    if dry_run:
        return changes
    desktop.write({change.setting: change.new for change in changes})
    remove_state(home)
    return changes


def status(desktop: Desktop, home: Path) -> Status:
    saved = saved_for(desktop, home)
    current = desktop.read()
    changed = tuple(change.setting for change in changes_between(current, saved.applied)) if saved else ()
    return Status(current, saved, changed)


def saved_for(desktop: Desktop, home: Path) -> SavedState | None:
    saved = load_state(home)
    if saved is not None and saved.desktop != desktop.name:
        raise BadInput(f"offgate set the proxy of {saved.desktop}, not {desktop.name}: run "
                       f"`offgate system-proxy off --desktop {saved.desktop}` first")
    return saved
