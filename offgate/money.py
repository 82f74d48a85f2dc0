"""How offgate writes money for people: one formatter for every table, report, sentence and
notification (JSON keeps the exact number). Money is USD."""

from __future__ import annotations


def usd(amount: float | None, *, cents: bool = False) -> str:
    """"-" when unknown. By default exact enough for one call, which often costs micro-dollars:
    cents from a dollar up, six decimals below ("$0.000450"). With `cents`, for a sentence or
    a notification: always cents, and "under $0.01" for an amount that would read "$0.00"
    but is not nothing."""
    if amount is None:
        return "-"
    if cents:
        return "under $0.01" if 0 < amount < 0.01 else f"${amount:,.2f}"
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.6f}"
