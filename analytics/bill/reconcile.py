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
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, get_args

from analytics.bill.gateway_keys import GatewayKey
from offgate.fingerprint import hints_agree
from offgate.pricing import rates_for, without_release_date
from offgate.store.bill import BillLine, KeyedCost

BillFindingKind = Literal["billed_not_seen", "gateway_key_off_gateway", "gateway_mispriced"]
BILL_FINDING_KINDS: tuple[BillFindingKind, ...] = get_args(BillFindingKind)
NOT_SEEN, OFF_GATEWAY, MISPRICED = BILL_FINDING_KINDS
TOLERANCE_USD = 0.01
TOLERANCE = 0.02  # of the larger of the two costs
EXPLAINING = 0.1  # a token class explains a gap within 10% of its cost
UNKNOWN_KEY = "unknown key"


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


@dataclass
class Reconciled:
    rows: list[LedgerRow] = field(default_factory=list)
    findings: list[BillFinding] = field(default_factory=list)


_Cell = tuple[str, date, str | None, str]  # provider, day, model, key


def reconcile_bill(lines: Sequence[BillLine], logged: Iterable[KeyedCost], captured: Iterable[KeyedCost],
                   gateway: Sequence[GatewayKey]) -> Reconciled:
    costs: dict[_Cell, list[float]] = defaultdict(list)
    hints: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        key = line.key_hint or line.key_id or UNKNOWN_KEY
        hints[line.provider].add(key)
        costs[(line.provider, line.day, _model(line.model), key)].append(line.cost_usd or 0.0)
    billed = {cell: math.fsum(cell_costs) for cell, cell_costs in costs.items()}
    billed_as = _BilledAs(hints)
    gateway_hint = {key.fingerprint: billed_as(key.provider, key.hint) for key in gateway}
    logged_at: dict[_Cell, float] = defaultdict(float)
    for cost in logged:
        # LiteLLM logs the deployment's model as configured: "openai/gpt-4o-mini".
        model = cost.model.removeprefix(f"{cost.provider}/") if cost.model and cost.provider else cost.model
        serving = _serving(gateway, cost.provider, model)
        if cost.provider and serving is not None:
            logged_at[(cost.provider, cost.day, _model(model), gateway_hint[serving.fingerprint])] += cost.cost_usd
    captured_at: dict[_Cell, float] = defaultdict(float)
    off_gateway: dict[tuple[str, str], list[KeyedCost]] = defaultdict(list)
    gateway_fingerprints = {key.fingerprint: key for key in gateway}
    for cost in captured:
        if not cost.provider:
            continue
        key = billed_as(cost.provider, cost.key_hint)
        captured_at[(cost.provider, cost.day, _model(cost.model), key)] += cost.cost_usd
        if cost.key_fingerprint in gateway_fingerprints:
            off_gateway[(cost.provider, key)].append(cost)
    gateway_keys = {(key.provider, gateway_hint[key.fingerprint]) for key in gateway}
    result = Reconciled()
    for cell in sorted({*billed, *logged_at, *captured_at}, key=_order):
        provider, day, model, key = cell
        bill, log, seen = billed.get(cell, 0.0), logged_at.get(cell, 0.0), captured_at.get(cell, 0.0)
        by_gateway = min(log, bill)
        by_agents = min(seen, bill - by_gateway)
        result.rows.append(LedgerRow(provider, day, model, key, (provider, key) in gateway_keys, bill, log, seen,
                                     by_gateway, by_agents, bill - by_gateway - by_agents))
    result.findings = [*_not_seen(result.rows), *_off_gateway(off_gateway), *_mispriced(result.rows, lines)]
    return result


def tokens_by_cell(lines: Sequence[BillLine], wanted: set[_Cell]) -> dict[_Cell, list[BillLine]]:
    """The lines of the wanted cells only: a month's lines are millions, the mispriced cells few."""
    cells: dict[_Cell, list[BillLine]] = defaultdict(list)
    for line in lines:
        cell = (line.provider, line.day, _model(line.model), line.key_hint or line.key_id or UNKNOWN_KEY)
        if cell in wanted:
            cells[cell].append(line)
    return cells


def _not_seen(rows: Sequence[LedgerRow]) -> list[BillFinding]:
    per_key: dict[tuple[str, str], list[LedgerRow]] = defaultdict(list)
    for row in rows:
        if not row.gateway_key:
            per_key[(row.provider, row.key)].append(row)
    found = []
    for (provider, key), key_rows in sorted(per_key.items()):
        unexplained = math.fsum(row.unexplained_usd for row in key_rows)
        billed = math.fsum(row.billed_usd for row in key_rows)
        if unexplained > max(TOLERANCE_USD, TOLERANCE * billed):
            days = sorted({row.day for row in key_rows if row.unexplained_usd > 0})
            found.append(BillFinding(
                NOT_SEEN, provider, key, days[0] if days else None, None, unexplained, None, None,
                f"{provider} billed {unexplained:.2f} USD on key {key} that neither LiteLLM nor any agent "
                f"accounts for ({len(days)} day(s) from {days[0] if days else '-'}): a machine without offgate, "
                "a server, or a leaked key"))
    return found


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


def _mispriced(rows: Sequence[LedgerRow], lines: Sequence[BillLine]) -> list[BillFinding]:
    gaps = [(row, row.billed_usd - row.captured_usd - row.logged_usd) for row in rows
            if row.gateway_key and row.logged_usd]
    gaps = [(row, gap) for row, gap in gaps
            if abs(gap) > max(TOLERANCE_USD, TOLERANCE * max(row.billed_usd, row.logged_usd))]
    if not gaps:
        return []
    cells = tokens_by_cell(lines, {(row.provider, row.day, row.model, row.key) for row, _ in gaps})
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


def _order(cell: _Cell) -> tuple[str, date, str, str]:
    provider, day, model, key = cell
    return provider, day, model or "", key
