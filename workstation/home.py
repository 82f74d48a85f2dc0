"""The home a scan reads, and whose it is."""

from __future__ import annotations

from pathlib import Path


def home_owner(user_home: Path) -> str | None:
    """The user name owning the home (records and process filters go by it)."""
    try:
        return user_home.owner()
    except (OSError, KeyError, NotImplementedError):
        return None
