"""Providers bill a model's cost per day and project or workspace, and count tokens per key:
the cost of a day, account and model is shared among its keys' lines by their tokens at
list price (by tokens where the model has none). A line whose cell was not billed keeps no
cost (unknown, not $0)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from offgate.pricing import rates_for, without_release_date
from offgate.store.bill import BillLine

Cell = tuple[date, str | None, str]  # day, account, model without its release date


def cell_of(day: date, account: str | None, model: str | None) -> Cell:
    return day, account, without_release_date(model or "")


def share_costs(lines: Sequence[BillLine], billed: Mapping[Cell, float]) -> list[BillLine]:
    weights = [_list_price(line) for line in lines]
    totals: dict[Cell, float] = defaultdict(float)
    for line, weight in zip(lines, weights, strict=True):
        totals[cell_of(line.day, line.account, line.model)] += weight
    shared = []
    for line, weight in zip(lines, weights, strict=True):
        cell = cell_of(line.day, line.account, line.model)
        share = weight / totals[cell] if totals[cell] else 0.0
        shared.append(replace(line, cost_usd=billed[cell] * share if cell in billed else None))
    return shared


def _list_price(line: BillLine) -> float:
    tokens = line.input_tokens + line.cache_read_tokens + line.cache_write_tokens + line.output_tokens
    rates = rates_for(line.model, line.provider) if line.model else None
    if rates is None:
        return float(tokens)
    return (line.input_tokens * rates.input + line.cache_read_tokens * rates.cache_read
            + line.cache_write_tokens * rates.cache_write + line.output_tokens * rates.output) or float(tokens)
