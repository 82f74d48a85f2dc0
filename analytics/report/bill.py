"""The report's bill part: the window's whole UTC days of bill lines reconciled against
LiteLLM's spend and the agents' unmanaged calls of the same days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from analytics.bill.gateway_keys import GatewayKey
from analytics.bill.reconcile import SUMMED, reconcile_days
from analytics.report.document import Bill, BillFinding, BillKey, BillProvider, BillTotals
from offgate.store import Store


def bill_part(store: Store, since: datetime | None, until: datetime, gateway: Sequence[GatewayKey]) -> Bill | None:
    reconciled = reconcile_days(store, since.date() if since else None, until.date(), gateway)
    if reconciled is None:
        return None
    ledger = reconciled.ledger
    summary = ledger.summary
    keys = [BillKey(provider=ledger.providers[ledger.provider[first]], key=ledger.keys[ledger.key[first]],
                    gateway_key=bool(ledger.gateway_key[first]), **_totals(group.sums))
            for group in summary.keys for first in group.cells[:1].tolist()]
    return Bill(
        **_totals(summary.total),
        providers=[BillProvider(provider=ledger.providers[ledger.provider[group.cells[0]]], **_totals(group.sums))
                   for group in summary.providers],
        keys=sorted(keys, key=lambda key: (-key.unexplained_usd, -key.billed_usd, key.provider, key.key)),
        findings=[BillFinding(kind=f.kind, provider=f.provider, key=f.key, day=f.day, model=f.model,
                              billed_usd=f.billed_usd, logged_usd=f.logged_usd, token_class=f.token_class,
                              detail=f.detail) for f in reconciled.findings],
    )


def _totals(sums: dict[str, float]) -> dict[str, Any]:
    billed, gateway, agents, unexplained = (sums[name] for name in SUMMED)
    totals = BillTotals(billed_usd=billed, explained_by_gateway_usd=gateway, explained_by_agents_usd=agents,
                        unexplained_usd=unexplained, coverage=(gateway + agents) / billed if billed else None)
    return totals.model_dump()
