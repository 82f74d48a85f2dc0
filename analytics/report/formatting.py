"""How the report writes numbers for people (JSON keeps them exact; money: offgate.money)."""

from __future__ import annotations


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def label(value: object) -> str:
    """A dimension value; calls that lack one are grouped as "(unknown)"."""
    return "(unknown)" if value is None or value == "" else str(value)
