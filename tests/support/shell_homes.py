"""Homes with a shell history, for the tests that scan one (bash's format with HISTTIMEFORMAT
set: "#<epoch>" before each command, bash(1) "HISTORY")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def bash_home(root: Path, name: str, history: list[tuple[datetime, str]]) -> Path:
    """A home at root/name whose ~/.bash_history holds `history` (time, command), in order."""
    home = root / name
    home.mkdir(parents=True)
    (home / ".bash_history").write_text("".join(f"#{int(ts.timestamp())}\n{command}\n" for ts, command in history))
    return home
