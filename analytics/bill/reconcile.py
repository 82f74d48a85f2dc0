"""Three witnesses, one ledger: per provider, UTC day, model and key, what the provider billed,
what LiteLLM logged for the gateway's own keys, what the agents captured going around it, and
the rest, unexplained.

Keys join by the providers' hints (offgate.fingerprint.key_hint): a captured call's hint is
matched to the bill's, a gateway key is known from LiteLLM's config. LiteLLM logs no key, so
its spend for a provider and model goes to the gateway key serving that model. Models join
without their release date ("gpt-4o-mini-2024-07-18" is "gpt-4o-mini").

The explained columns never exceed the bill: the gateway's share first, then the agents',
so billed = gateway + agents + unexplained on every row. Findings:
- billed_not_seen: a key that is not the gateway's whose billed spend nobody accounts for;
- gateway_key_off_gateway: a gateway key in calls a workstation made around the gateway;
- gateway_mispriced: a day and model where LiteLLM's logged cost for the gateway's keys and
  the bill differ beyond the tolerance, with the token class whose list price explains the gap.

A month of a large organisation is millions of cells: the bill's lines and the store's daily
totals of the calls and spend rows (offgate.store.bill_rollups) are read as coded columns, numpy
reconciles the cells as columns (Ledger), and whole lines are read only for the few cells that
need them. Sums are exact where the order could change them: a cell's billed cost and every
total are math.fsum of their parts (adding one or two costs is that already; a cell of more
is added up again from its lines); the calls' and spend rows' totals are exact integer sums.
"""

from __future__ import annotations

import functools
import itertools
import math
from array import array
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, Protocol, get_args

import numpy as np

from analytics.bill.gateway_keys import GatewayKey
from offgate.fingerprint import hints_agree
from offgate.pricing import rates_for, without_release_date
from offgate.store import Store
from offgate.store.bill import (
    UNKNOWN_KEY,
    BilledGroups,
    BillLine,
    BillLog,
    Coded,
    KeyedCost,
    KeyedCosts,
    line_key,
    logged_costs,
    unmanaged_costs,
)

BillFindingKind = Literal["billed_not_seen", "gateway_key_off_gateway", "gateway_mispriced"]
BILL_FINDING_KINDS: tuple[BillFindingKind, ...] = get_args(BillFindingKind)
NOT_SEEN, OFF_GATEWAY, MISPRICED = BILL_FINDING_KINDS
TOLERANCE_USD = 0.01
TOLERANCE = 0.02  # of the larger of the two costs
EXPLAINING = 0.1  # a token class explains a gap within 10% of its cost
EXACT_SUM_LINES = 2  # the sum of at most two costs is their exact sum rounded once, as math.fsum's


@dataclass(frozen=True, slots=True)
class LedgerRow:
    provider: str
    day: date
    model: str | None
    key: str  # the bill's hint (or key id), or the captured call's hint
    gateway_key: bool
    billed_usd: float
    logged_usd: float  # LiteLLM's, for the gateway's keys
    captured_usd: float  # the agents' unmanaged calls
    explained_by_gateway_usd: float
    explained_by_agents_usd: float
    unexplained_usd: float


@dataclass(frozen=True, slots=True)
class BillFinding:
    kind: BillFindingKind
    provider: str
    key: str
    day: date | None
    model: str | None
    billed_usd: float | None
    logged_usd: float | None
    token_class: str | None
    detail: str


MONEY = ("billed_usd", "logged_usd", "captured_usd", "explained_by_gateway_usd", "explained_by_agents_usd",
         "unexplained_usd")
SUMMED = ("billed_usd", "explained_by_gateway_usd", "explained_by_agents_usd", "unexplained_usd")  # the report's


@dataclass(frozen=True)
class Ledger:
    """The reconciled cells as columns, in (provider, day, model, key) order: a month of a large
    organisation is millions of cells, too many for an object each. `provider`, `day`, `model`
    and `key` are codes into the sorted name lists of the same names."""

    providers: list[str]
    days: list[date]
    models: list[str | None]
    keys: list[str]
    provider: np.ndarray
    day: np.ndarray
    model: np.ndarray
    key: np.ndarray
    gateway_key: np.ndarray
    money: dict[str, np.ndarray]  # each of MONEY

    def __len__(self) -> int:
        return len(self.provider)

    def rows(self, cells: np.ndarray | None = None) -> list[LedgerRow]:
        """The cells (all when None) as rows: for a few, or a small bill."""
        def at(column: np.ndarray) -> list:
            return (column if cells is None else column[cells]).tolist()

        money = (self.money[name] for name in MONEY)
        columns = (self.provider, self.day, self.model, self.key, self.gateway_key, *money)
        return [LedgerRow(self.providers[p], self.days[d], self.models[m], self.keys[k], g, *values)
                for p, d, m, k, g, *values in zip(*map(at, columns), strict=True)]

    def provider_key(self) -> np.ndarray:
        """One code per (provider, key), in their names' order."""
        return self.provider.astype(np.int64) * len(self.keys) + self.key

    @functools.cached_property
    def summary(self) -> Summary:
        """The exact sums (math.fsum) of SUMMED per (provider, key), per provider and in all, from
        one ordering of the cells: codes order by provider first, so a provider's keys are adjacent."""
        order = np.argsort(self.provider_key(), kind="stable")
        keys, providers = (_bounds(column[order]) for column in (self.provider_key(), self.provider))
        sums: dict[str, tuple[list[float], list[float], float]] = {}
        for name in SUMMED:
            # Each column listed once, in group order: a group's sum is then a slice's, not a gather's.
            values = self.money[name][order].tolist()
            sums[name] = ([math.fsum(values[start:end]) for start, end in keys],
                          [math.fsum(values[start:end]) for start, end in providers], math.fsum(values))
        return Summary(
            keys=[Group(order[start:end], {name: sums[name][0][index] for name in SUMMED})
                  for index, (start, end) in enumerate(keys)],
            providers=[Group(order[start:end], {name: sums[name][1][index] for name in SUMMED})
                       for index, (start, end) in enumerate(providers)],
            total={name: sums[name][2] for name in SUMMED})


def _bounds(codes: np.ndarray) -> list[tuple[int, int]]:
    """The [start, end) of each run of equal codes."""
    ends = [*(np.flatnonzero(np.diff(codes)) + 1).tolist(), len(codes)] if len(codes) else []
    return list(zip([0, *ends[:-1]], ends, strict=True))


@dataclass(frozen=True, slots=True)
class Group:
    """A group of cells (in ledger order) and the exact sums of the money columns SUMMED over them."""

    cells: np.ndarray
    sums: dict[str, float]


@dataclass(frozen=True, slots=True)
class Summary:
    """The ledger's sums per (provider, key) and per provider, in their names' order, and in all."""

    keys: list[Group]
    providers: list[Group]
    total: dict[str, float]


@dataclass
class Reconciled:
    ledger: Ledger
    findings: list[BillFinding] = field(default_factory=list)

    @property
    def rows(self) -> list[LedgerRow]:
        return self.ledger.rows()


_Cell = tuple[str, date, str | None, str]  # provider, day, model, key


class BilledLines(Protocol):
    """A window's bill as reconciliation reads it: totals per group in bulk, whole lines for a few keys."""

    def groups(self) -> BilledGroups: ...

    def lines(self, keys: Collection[str]) -> Iterable[BillLine]:
        """At least the lines billed to these keys (hints or ids)."""
        ...


class ListedBill:
    """Bill lines at hand, grouped per provider, day, model and billed key."""

    def __init__(self, lines: Sequence[BillLine]) -> None:
        self._lines = lines

    def groups(self) -> BilledGroups:
        costs: dict[tuple[str, date, str | None, str], list[float]] = defaultdict(list)
        for line in self._lines:
            group = costs[(line.provider, line.day, line.model, line_key(line))]
            if line.cost_usd is not None:
                group.append(line.cost_usd)
        groups = [(*group, len(values), math.fsum(values)) for group, values in costs.items()]
        provider, day, model, key, lines, cost = zip(*groups, strict=True) if groups else ((),) * 6
        return BilledGroups(Coded.of(provider), Coded.of(day), Coded.of(model), Coded.of(key), list(lines), list(cost))

    def lines(self, keys: Collection[str]) -> Sequence[BillLine]:
        return self._lines


class StoredBill:
    """The bill lines of a store's UTC days [since, until), totalled in SQL."""

    def __init__(self, log: BillLog, since: date | None, until: date) -> None:
        self._log, self._since, self._until = log, since, until

    def groups(self) -> BilledGroups:
        return self._log.groups(self._since, self._until)

    def lines(self, keys: Collection[str]) -> list[BillLine]:
        return self._log.lines(self._since, self._until, keys)


def reconcile_days(store: Store, first: date | None, last: date, gateway: Sequence[GatewayKey]) -> Reconciled | None:
    """The bill of the UTC days first..last (from the first billed day when None) against
    LiteLLM's spend and the agents' unmanaged calls of the same days; None if nothing was billed."""
    log, until = BillLog(store), last + timedelta(days=1)
    if not log.any_line(first, until):
        return None
    return reconcile(StoredBill(log, first, until), logged_costs(store, first, until),
                     unmanaged_costs(store, first, until), gateway)


def reconcile_bill(lines: Sequence[BillLine], logged: Iterable[KeyedCost], captured: Iterable[KeyedCost],
                   gateway: Sequence[GatewayKey]) -> Reconciled:
    return reconcile(ListedBill(lines), KeyedCosts.of(logged), KeyedCosts.of(captured), gateway)


def reconcile(bill: BilledLines, logged: KeyedCosts, captured: KeyedCosts, gateway: Sequence[GatewayKey]) -> Reconciled:
    billed = bill.groups()
    hints: dict[str, set[str]] = defaultdict(set)
    for provider, key in _pairs(billed.provider, billed.key)[0]:
        hints[provider].add(key)
    billed_as = _BilledAs(hints)
    gateway_hint = {key.fingerprint: billed_as(key.provider, key.hint) for key in gateway}
    logged_cells: tuple[list[Any], list[Any], list[Any], list[Any]] = ([], [], [], [])
    logged_costs: list[float] = []
    for cost in logged.rows():
        # LiteLLM logs the deployment's model as configured: "openai/gpt-4o-mini".
        model = cost.model.removeprefix(f"{cost.provider}/") if cost.model and cost.provider else cost.model
        serving = _serving(gateway, cost.provider, model)
        if cost.provider and serving is not None:
            for column, value in zip(logged_cells, (cost.provider, cost.day, model, gateway_hint[serving.fingerprint]),
                                     strict=True):
                column.append(value)
            logged_costs.append(cost.cost_usd)
    seen = _with_provider(captured)
    pairs, of_pair = _pairs(seen.provider, seen.key_hint)
    seen_keys = Coded([billed_as(provider, hint) for provider, hint in pairs], array("q", of_pair.tobytes()))
    fingerprints = {key.fingerprint for key in gateway}
    gateway_fingerprints = [code for code, name in enumerate(seen.key_fingerprint.names) if name in fingerprints]
    off_gateway: dict[tuple[str, str], list[KeyedCost]] = defaultdict(list)
    for index in np.flatnonzero(np.isin(_codes(seen.key_fingerprint), gateway_fingerprints)).tolist():
        off_gateway[(str(seen.provider[index]), seen_keys[index])].append(seen.row(index))
    cells = _Cells(
        (billed.provider, billed.day, billed.model, billed.key),
        (Coded.of(logged_cells[0]), Coded.of(logged_cells[1]), Coded.of(logged_cells[2]), Coded.of(logged_cells[3])),
        (seen.provider, seen.day, seen.model, seen_keys))
    billed_usd = cells.summed(0, billed.cost)
    several = np.flatnonzero(cells.summed(0, billed.lines) > EXACT_SUM_LINES)
    if len(several):
        billed_usd[several] = _exact_sums(bill, cells.named(several))
    logged_usd, captured_usd = cells.summed(1, logged_costs), cells.summed(2, seen.cost_usd)
    by_gateway = np.minimum(logged_usd, billed_usd)
    by_agents = np.minimum(captured_usd, billed_usd - by_gateway)
    gateway_keys = {(key.provider, gateway_hint[key.fingerprint]) for key in gateway}
    ledger = Ledger(
        *cells.names, provider=cells.columns[0], day=cells.columns[1], model=cells.columns[2], key=cells.columns[3],
        gateway_key=cells.among_pairs(gateway_keys),
        money=dict(zip(MONEY, (billed_usd, logged_usd, captured_usd, by_gateway, by_agents,
                               billed_usd - by_gateway - by_agents), strict=True)))
    findings = [*_not_seen(ledger), *_off_gateway(off_gateway), *_mispriced(ledger, bill)]
    return Reconciled(ledger, findings)


def _codes(column: Coded) -> np.ndarray:
    return np.asarray(column.codes, dtype=np.int64)


def _pairs(first: Coded, second: Coded) -> tuple[list[tuple[Any, Any]], np.ndarray]:
    """The distinct (first, second) pairs of two columns, and each row's pair among them: marked
    in the space of their names' pairs (a few thousand), not found by sorting millions of rows."""
    radix = max(len(second.names), 1)
    codes = _codes(first) * radix + _codes(second)
    present = np.zeros(len(first.names) * radix, dtype=bool)
    present[codes] = True
    pairs = [(first.names[code // radix], second.names[code % radix]) for code in np.flatnonzero(present).tolist()]
    return pairs, (np.cumsum(present) - 1)[codes]


def _with_provider(costs: KeyedCosts) -> KeyedCosts:
    """The costs whose provider is known (a call without one joins no bill)."""
    if all(costs.provider.names):
        return costs
    return KeyedCosts.of(cost for cost in costs.rows() if cost.provider)


class _Cells:
    """The cells of the three witnesses (columns of provider, day, model and key), each cell one
    int64 (a mixed radix of its names' sorted ranks) so that numpy finds, orders and sums them.
    Models are named without their release date."""

    def __init__(self, *witnesses: tuple[Coded, Coded, Coded, Coded]) -> None:
        self.names: list[list[Any]] = []
        codes = [np.zeros(len(columns[0]), dtype=np.int64) for columns in witnesses]
        for position in range(4):
            columns = [columns[position] for columns in witnesses]
            values = dict.fromkeys(itertools.chain.from_iterable(column.names for column in columns))
            named = {value: _model(value) for value in values} if position == 2 else {value: value for value in values}
            names = sorted(set(named.values()), key=_name_order)
            rank = {name: index for index, name in enumerate(names)}
            self.names.append(names)
            for index, column in enumerate(columns):
                ranks = np.array([rank[named[value]] for value in column.names], dtype=np.int64)
                codes[index] = codes[index] * max(len(names), 1) + (ranks[_codes(column)] if len(column) else 0)
        unique, inverse = np.unique(np.concatenate(codes), return_inverse=True)
        self._of_witness = np.split(inverse.reshape(-1), np.cumsum([len(code) for code in codes])[:-1])
        self.columns: list[np.ndarray] = []
        for names in reversed(self.names):
            self.columns.insert(0, unique % max(len(names), 1))
            unique = unique // max(len(names), 1)

    def summed(self, witness: int, values: Sequence[float]) -> np.ndarray:
        """A witness's values added up per cell in the order they come, as `+=` over them would."""
        total = np.zeros(len(self.columns[0]))
        np.add.at(total, self._of_witness[witness], np.asarray(values, dtype=float))
        return total

    def named(self, cells: np.ndarray) -> list[_Cell]:
        providers, days, models, keys = self.names
        return [(providers[p], days[d], models[m], keys[k])
                for p, d, m, k in zip(*(column[cells].tolist() for column in self.columns), strict=True)]

    def among_pairs(self, pairs: set[tuple[str, str]]) -> np.ndarray:
        """Whether each cell's (provider, key) is one of the pairs."""
        providers, keys = ({name: rank for rank, name in enumerate(names)} for names in (self.names[0], self.names[3]))
        wanted = [providers[provider] * len(keys) + keys[key] for provider, key in pairs
                  if provider in providers and key in keys]
        return np.isin(self.columns[0] * len(keys) + self.columns[3], wanted)


def _exact_sums(bill: BilledLines, cells: list[_Cell]) -> list[float]:
    """The exact sum of each cell's costs, from its lines: SQL's SUM of three or more is not."""
    costs = {cell: [] for cell in cells}
    for cell, lines in tokens_by_cell(bill.lines({key for *_, key in cells}), set(cells)).items():
        costs[cell] = [line.cost_usd for line in lines if line.cost_usd is not None]
    return [math.fsum(costs[cell]) for cell in cells]


def tokens_by_cell(lines: Iterable[BillLine], wanted: set[_Cell]) -> dict[_Cell, list[BillLine]]:
    """The lines of the wanted cells only: a month's lines are millions, the mispriced cells few."""
    cells: dict[_Cell, list[BillLine]] = defaultdict(list)
    for line in lines:
        cell = (line.provider, line.day, _model(line.model), line_key(line))
        if cell in wanted:
            cells[cell].append(line)
    return cells


def _not_seen(ledger: Ledger) -> list[BillFinding]:
    groups = ledger.summary.keys
    unseen_days = _unseen_days(ledger, groups)
    found = []
    for group, days in zip(groups, unseen_days, strict=True):
        cells, unexplained, billed = group.cells, group.sums["unexplained_usd"], group.sums["billed_usd"]
        if not ledger.gateway_key[cells[0]] and unexplained > max(TOLERANCE_USD, TOLERANCE * billed):
            provider, key = ledger.providers[ledger.provider[cells[0]]], ledger.keys[ledger.key[cells[0]]]
            found.append(BillFinding(
                NOT_SEEN, provider, key, days[0] if days else None, None, unexplained, None, None,
                f"{provider} billed {unexplained:.2f} USD on key {key} that neither LiteLLM nor any agent "
                f"accounts for ({len(days)} day(s) from {days[0] if days else '-'}): a machine without offgate, "
                "a server, or a leaked key"))
    return found


def _unseen_days(ledger: Ledger, groups: Sequence[Group]) -> list[list[date]]:
    """Each group's days with unexplained spend, in order: one np.unique over the ledger, not one a group."""
    group_of = np.zeros(len(ledger), dtype=np.int64)
    for index, group in enumerate(groups):
        group_of[group.cells] = index
    unseen, radix = np.flatnonzero(ledger.money["unexplained_usd"] > 0), max(len(ledger.days), 1)
    days: list[list[date]] = [[] for _ in groups]
    for pair in np.unique(group_of[unseen] * radix + ledger.day[unseen]).tolist():
        days[pair // radix].append(ledger.days[pair % radix])
    return days


def _off_gateway(off_gateway: dict[tuple[str, str], list[KeyedCost]]) -> list[BillFinding]:
    found = []
    for (provider, key), costs in sorted(off_gateway.items()):
        calls = sum(cost.calls for cost in costs)
        spent = sum(cost.cost_usd for cost in costs)
        found.append(BillFinding(
            OFF_GATEWAY, provider, key, min(cost.day for cost in costs), None, None, None, None,
            f"the gateway's {provider} key {key} was used around the gateway: {calls} call(s) from a "
            f"workstation, {spent:.4f} USD (someone copied the gateway's provider key)"))
    return found


def _mispriced(ledger: Ledger, bill: BilledLines) -> list[BillFinding]:
    billed, logged = ledger.money["billed_usd"], ledger.money["logged_usd"]
    gap = billed - ledger.money["captured_usd"] - logged
    beyond = np.abs(gap) > np.maximum(TOLERANCE_USD, TOLERANCE * np.maximum(billed, logged))
    rows = ledger.rows(np.flatnonzero(ledger.gateway_key & (logged != 0) & beyond))
    if not rows:
        return []
    gaps = [(row, row.billed_usd - row.captured_usd - row.logged_usd) for row in rows]
    wanted = {(row.provider, row.day, row.model, row.key) for row in rows}
    cells = tokens_by_cell(bill.lines({row.key for row in rows}), wanted)
    found = []
    for row, gap in gaps:
        token_class = _explaining_class(gap, cells.get((row.provider, row.day, row.model, row.key), []))
        because = f"; the billed {token_class} explain it" if token_class else ""
        found.append(BillFinding(
            MISPRICED, row.provider, row.key, row.day, row.model, row.billed_usd, row.logged_usd, token_class,
            f"LiteLLM logged {row.logged_usd:.4f} USD for {row.model or 'its calls'} on the gateway's key {row.key}, "
            f"the bill says {row.billed_usd - row.captured_usd:.4f} USD ({gap:+.4f}){because}"))
    return found


def _explaining_class(gap: float, lines: Sequence[BillLine]) -> str | None:
    """The token class whose billed tokens, at list price, cost the gap (or the batch discount)."""
    costs: dict[str, float] = defaultdict(float)
    for line in lines:
        rates = _rates(line.model, line.provider) if line.model else None
        if rates is None:
            continue
        costs["cache reads"] += line.cache_read_tokens * rates.cache_read
        costs["cache writes"] += line.cache_write_tokens * rates.cache_write
        costs["input tokens"] += line.input_tokens * rates.input
        costs["output tokens"] += line.output_tokens * rates.output
        if line.batch:
            costs["batch discount"] -= line.cost_usd or 0.0  # LiteLLM logs the full price: twice the bill
    explaining = [(abs(abs(gap) - abs(cost)), name) for name, cost in costs.items()
                  if cost and abs(abs(gap) - abs(cost)) <= EXPLAINING * abs(cost)]
    return min(explaining)[1] if explaining else None


class _BilledAs:
    """The bill's name for a key offgate knows by its hint (its own hint if the bill has none),
    each hint looked up once."""

    def __init__(self, hints: dict[str, set[str]]) -> None:
        self._hints = {provider: sorted(names) for provider, names in hints.items()}
        # The same console shows the same hint: most hints are found as they are, without a scan.
        self._known: dict[tuple[str, str], str] = {(provider, name): name for provider, names in hints.items()
                                                   for name in names}

    def __call__(self, provider: str, hint: str | None) -> str:
        if hint is None:
            return UNKNOWN_KEY
        known = self._known.get((provider, hint))
        if known is None:
            billed = self._hints.get(provider, [])
            known = self._known[(provider, hint)] = next((name for name in billed if hints_agree(hint, name)), hint)
        return known


def _serving(gateway: Sequence[GatewayKey], provider: str | None, model: str | None) -> GatewayKey | None:
    candidates = [key for key in gateway if key.provider == provider]
    wanted = _model(model)
    return next((key for key in candidates if wanted in {_model(m) for m in key.models}),
                candidates[0] if candidates else None)


_rates = functools.lru_cache(maxsize=4096)(rates_for)  # a model without a price is looked for once


@functools.lru_cache(maxsize=4096)
def _model(model: str | None) -> str | None:
    return without_release_date(model) if model else None


def _name_order(name: Any) -> Any:
    return name or ""  # a model may be None: before every name
