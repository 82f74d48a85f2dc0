"""Inline SVG charts for the HTML report: drawn here, no script, nothing fetched.

Each shape carries a <title> (the tooltip) and its number in `data-value`, so the page can
be read by people and checked by tests alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from analytics.report.document import Day
from analytics.report.values import label, percent
from offgate.money import usd

MANAGED, UNMANAGED = "managed", "unmanaged"


def coverage_bar(managed: float, unmanaged: float, width: int = 720, height: int = 28) -> str:
    """One bar split into the managed and the unmanaged share of the spend."""
    total = managed + unmanaged
    managed_width = width * managed / total if total else 0.0
    parts = [
        _rect(0, 0, managed_width, height, MANAGED, managed,
              f"managed {usd(managed)} ({percent(managed / total if total else None)})"),
        _rect(managed_width, 0, width - managed_width if total else 0, height, UNMANAGED, unmanaged,
              f"unmanaged {usd(unmanaged)} ({percent(unmanaged / total if total else None)})"),
    ]
    return _svg(width, height, "Managed and unmanaged share of the spend", parts, "coverage")


def daily_columns(days: Sequence[Day], width: int = 720, height: int = 220) -> str:
    """Per UTC day, a column of managed spend with unmanaged spend stacked on top."""
    left, bottom, top = 64, 24, 8
    plot_width, plot_height = width - left - 8, height - bottom - top
    peak = max((day.managed_cost_usd + day.unmanaged_cost_usd for day in days), default=0.0)
    parts = [
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 8}" y2="{top + plot_height}" class="axis"/>',
        f'<text x="{left - 6}" y="{top + 10}" class="tick" text-anchor="end">{escape(usd(peak))}</text>',
        f'<text x="{left - 6}" y="{top + plot_height}" class="tick" text-anchor="end">$0</text>',
    ]
    slot = plot_width / max(len(days), 1)
    label_every = max(1, len(days) // 8)
    for index, day in enumerate(days):
        x = left + index * slot + slot * 0.1
        base = top + plot_height
        shown_day = day.day.isoformat()
        for kind, value in ((MANAGED, day.managed_cost_usd), (UNMANAGED, day.unmanaged_cost_usd)):
            tall = plot_height * value / peak if peak else 0.0
            parts.append(_rect(x, base - tall, slot * 0.8, tall, kind, value,
                               f"{shown_day}: {kind} {usd(value)}", day=shown_day))
            base -= tall
        if index % label_every == 0:
            parts.append(f'<text x="{x + slot * 0.4:.1f}" y="{height - 6}" class="tick" '
                         f'text-anchor="middle">{shown_day[5:]}</text>')
    return _svg(width, height, "Managed and unmanaged spend per day", parts, "daily")


def horizontal_bars(items: Sequence[tuple[object, float]], width: int = 720, bar: int = 18) -> str:
    """One bar per item, longest first as given (unmanaged spend by the report's dimension)."""
    left = 200
    peak = max((value for _, value in items), default=0.0)
    height = max(len(items), 1) * (bar + 6) + 4
    parts = []
    for index, (key, value) in enumerate(items):
        y = 2 + index * (bar + 6)
        length = (width - left - 90) * value / peak if peak else 0.0
        name = label(key)
        parts.append(f'<text x="{left - 6}" y="{y + bar - 5}" class="tick" text-anchor="end">'
                     f'{escape(name[:32])}</text>')
        parts.append(_rect(left, y, length, bar, UNMANAGED, value, f"{name}: {usd(value)}"))
        parts.append(f'<text x="{left + length + 6:.1f}" y="{y + bar - 5}" class="tick">{escape(usd(value))}</text>')
    return _svg(width, height, "Unmanaged spend by value", parts, "by")


def _rect(x: float, y: float, width: float, height: float, kind: str, value: float, title: str,
          **data: str) -> str:
    extra = "".join(f' data-{name}="{escape(text)}"' for name, text in data.items())
    return (f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(width, 0):.2f}" height="{max(height, 0):.2f}" '
            f'class="{kind}" data-kind="{kind}" data-value="{value!r}"{extra}><title>{escape(title)}</title></rect>')


def _svg(width: int, height: int, title: str, parts: Sequence[str], chart: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" data-chart="{chart}">'
            f'<title>{escape(title)}</title>{"".join(parts)}</svg>')
