"""How the report writes numbers and its window for people (JSON keeps them exact; money: offgate.money)."""

from __future__ import annotations

from datetime import datetime

from analytics.report.document import Coaching


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def label(value: object) -> str:
    """A dimension value; calls that lack one are grouped as "(unknown)"."""
    return "(unknown)" if value is None or value == "" else str(value)


def window(since: datetime | None, until: datetime) -> str:
    """The report's window, its times as the JSON writes them."""
    return f"{since.isoformat() if since else 'the beginning'} to {until.isoformat()}"


# What each pricing basis (offgate.pricing_basis) is called where people read it.
BASIS_LABELS = {"api": "list price", "plan_equivalent": "a plan's API-equivalent",
                "retired_price": "a retired model's last listed price", "unpriced": "no price"}


# A fleet's coaching part has a trend per tool and person (thousands): people read the top ones.
TRENDS_SHOWN = 20


def trends_left_out(coaching: Coaching) -> str | None:
    """What the text and HTML say of the trends past the first TRENDS_SHOWN, if any."""
    left_out = len(coaching.trends) - TRENDS_SHOWN
    if left_out <= 0:
        return None
    return f"and {count(left_out)} more tools and people (every one in the JSON and CSV formats)"


def calls(number: int) -> str:
    """A number of calls, in words: "1 call", "2,345 calls"."""
    return f"{count(number)} call" + ("" if number == 1 else "s")
