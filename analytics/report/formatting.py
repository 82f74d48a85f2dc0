"""How the report writes numbers for people (JSON keeps them exact)."""

from __future__ import annotations


def money(value: float | None) -> str:
    """USD: cents from a dollar up, six decimals below (one call often costs micro-dollars)."""
    if value is None:
        return "-"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.6f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def label(value: object) -> str:
    """A dimension value; calls that lack one are grouped as "(unknown)"."""
    return "(unknown)" if value is None or value == "" else str(value)
