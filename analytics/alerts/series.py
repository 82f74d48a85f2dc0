"""What the alerts look at, read from the store in a few grouped queries.

Per dimension (user, device, app, provider, key), each entity's unmanaged calls, tokens and
cost per UTC hour, as (entities, hours) arrays; when each entity made its first unmanaged
call ever; and the managed and unmanaged totals per day, as the report counts them.
"Unmanaged" is the report's: a call's reconciled class, else its route.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat

import numpy as np

from analytics.alerts.bill import BillDay
from analytics.bill.gateway_keys import GatewayKey
from analytics.bill.reconcile import reconcile_days
from analytics.report.document import Day
from analytics.report.model import daily_costs
from offgate.store import Store
from offgate.store.alerts import CombinationHours, UnmanagedSeries
from offgate.vocabulary import AlertDimension

HOUR = timedelta(hours=1)


@dataclass
class HourlySeries:
    """One dimension's unmanaged usage: row i is `entities[i]`, column t the hour that
    starts t hours after `start`. Entities without a name (e.g. calls with no user) are
    left out: there is no one to tell about them."""

    dimension: AlertDimension
    entities: list[str]
    start: datetime  # aware UTC, on the hour
    cost_usd: np.ndarray
    calls: np.ndarray
    tokens: np.ndarray
    first_call: np.ndarray  # per entity: its first unmanaged call ever, UTC epoch seconds
    # Per entity, a digest of which calls it made (as read from the store): entities of two
    # dimensions with equal digests made the very same calls (alice, her laptop, her key).
    calls_digest: list[bytes] | None = None

    @property
    def hours(self) -> int:
        return self.calls.shape[1]

    def column(self, moment: datetime) -> int:
        """The column of the hour a moment falls in (negative before the start)."""
        return math.floor((moment - self.start) / HOUR)

    def hour(self, column: int) -> datetime:
        return self.start + column * HOUR


@dataclass
class UsageSeries:
    """Everything one evaluation reads, for [start, end)."""

    start: datetime
    end: datetime
    dimensions: dict[str, HourlySeries]
    daily: list[Day] = field(default_factory=list)  # per day, as the report's daily trend
    first_call: float | None = None  # the store's first unmanaged call, UTC epoch seconds
    bill_days: list[BillDay] = field(default_factory=list)  # the providers' bills per day, reconciled


def as_utc(moment: datetime) -> datetime:
    """An aware UTC time; a naive one is taken as UTC already, as the store keeps times."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_series(store: Store, dimensions: Sequence[AlertDimension], start: datetime, end: datetime,
                gateway_keys: Sequence[GatewayKey] = ()) -> UsageSeries:
    """Usage from the hour `start` falls in up to `end` (exclusive); the bills are reconciled
    crediting LiteLLM's spend to `gateway_keys`."""
    start = as_utc(start).replace(minute=0, second=0, microsecond=0)
    end = as_utc(end)
    names = list(dict.fromkeys(dimensions))
    hours = max(math.ceil((end - start) / HOUR), 0)
    series = {}
    first_call = None
    if names:
        hourly = UnmanagedSeries(store).hours(start, end, names)
        column = hourly.hour - int(start.timestamp()) // 3600
        series = {name: _series(name, at, hourly, column, start, hours) for at, name in enumerate(names)}
        first_call = min(map(float, hourly.first_calls.values()), default=None)
    return UsageSeries(start, end, series, daily_costs(store, start, end), first_call,
                       bill_days(store, start, end, gateway_keys))


def bill_days(store: Store, start: datetime, end: datetime, gateway_keys: Sequence[GatewayKey]) -> list[BillDay]:
    """Each day's bill and how much of it nobody explains, oldest first."""
    reconciled = reconcile_days(store, start.date(), end.date(), gateway_keys)
    if reconciled is None:
        return []
    ledger = reconciled.ledger
    days = len(ledger.days)
    # Added up in the ledger's order, as `+=` over its rows would.
    billed, unexplained = np.zeros(days), np.zeros(days)
    np.add.at(billed, ledger.day, ledger.money["billed_usd"])
    np.add.at(unexplained, ledger.day, ledger.money["unexplained_usd"])
    return [BillDay(day, total, nobody)
            for day, total, nobody in zip(ledger.days, billed.tolist(), unexplained.tolist(), strict=True)]


def _series(dimension: AlertDimension, at: int, hourly: CombinationHours, column: np.ndarray, start: datetime,
            hours: int) -> HourlySeries:
    """The dimension that is value `at` of each combination."""
    values = [combination[at] for combination in hourly.values]
    entities = sorted({value for value in values if value is not None})
    index: dict[str | None, int] = {entity: row for row, entity in enumerate(entities)}
    of_combination = np.fromiter(map(index.get, values, repeat(-1)), dtype=np.int64, count=len(values))
    row = of_combination[hourly.combination]  # -1: no entity (no frame a row)
    known = (row >= 0) & (column >= 0) & (column < hours)
    cell = row[known] * hours + column[known]
    size = len(entities) * hours

    def table(name: str) -> np.ndarray:
        weights = getattr(hourly, name)[known].astype(float)
        return np.bincount(cell, weights=weights, minlength=size).reshape(len(entities), hours)

    first_call = np.full(len(entities), np.inf)
    for combination, first in hourly.first_calls.items():
        if combination[at] in index:
            first_call[index[combination[at]]] = min(first_call[index[combination[at]]], float(first))
    return HourlySeries(dimension, entities, start, table("cost_usd"), table("calls"), table("tokens"), first_call,
                        _digests(of_combination, len(entities)))


def _digests(row: np.ndarray, entities: int) -> list[bytes]:
    """Per entity, a digest of the combinations (of every dimension's value) it appears in:
    every call is in exactly one, and two entities in the same ones made the same calls."""
    order = np.argsort(row, kind="stable")  # rows of no entity (-1) first
    counts = np.bincount(row[row >= 0], minlength=entities)
    ends = np.cumsum(counts) + np.count_nonzero(row < 0)
    starts = ends - counts
    return [hashlib.blake2b(order[begin:end].tobytes(), digest_size=16).digest()
            for begin, end in zip(starts.tolist(), ends.tolist(), strict=True)]
