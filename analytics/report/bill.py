"""The report's bill part: the window's whole UTC days of bill lines reconciled against
LiteLLM's spend and the agents' unmanaged calls of the same days."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from analytics.bill.gateway_keys import GatewayKey
from analytics.bill.reconcile import LedgerRow, reconcile_bill
from analytics.report.document import Bill, BillFinding, BillKey, BillProvider, BillTotals
from offgate.store import Store
from offgate.store.bill import BillLog, logged_costs, unmanaged_costs


def bill_part(store: Store, since: datetime | None, until: datetime, gateway: Sequence[GatewayKey]) -> Bill | None:
    start = datetime.combine(since.date(), datetime.min.time()) if since else None
    lines = BillLog(store).lines(start.date() if start else None, until.date() + timedelta(days=1))
    if not lines:
        return None
    end = datetime.combine(until.date() + timedelta(days=1), datetime.min.time())
    reconciled = reconcile_bill(lines, logged_costs(store, start, end), unmanaged_costs(store, start, end), gateway)
    rows = reconciled.rows
    per_provider: dict[str, list[LedgerRow]] = defaultdict(list)
    per_key: dict[tuple[str, str], list[LedgerRow]] = defaultdict(list)
    for row in rows:
        per_provider[row.provider].append(row)
        per_key[(row.provider, row.key)].append(row)
    keys = [BillKey(provider=provider, key=key, gateway_key=key_rows[0].gateway_key, **_totals(key_rows))
            for (provider, key), key_rows in per_key.items()]
    return Bill(
        **_totals(rows),
        providers=[BillProvider(provider=provider, **_totals(provider_rows))
                   for provider, provider_rows in sorted(per_provider.items())],
        keys=sorted(keys, key=lambda key: (-key.unexplained_usd, -key.billed_usd, key.provider, key.key)),
        findings=[BillFinding(kind=f.kind, provider=f.provider, key=f.key, day=f.day, model=f.model,
                              billed_usd=f.billed_usd, logged_usd=f.logged_usd, token_class=f.token_class,
                              detail=f.detail) for f in reconciled.findings],
    )


def _totals(rows: Iterable[LedgerRow]) -> dict[str, Any]:
    rows = list(rows)
    billed = math.fsum(row.billed_usd for row in rows)
    gateway = math.fsum(row.explained_by_gateway_usd for row in rows)
    agents = math.fsum(row.explained_by_agents_usd for row in rows)
    unexplained = math.fsum(row.unexplained_usd for row in rows)
    totals = BillTotals(billed_usd=billed, explained_by_gateway_usd=gateway, explained_by_agents_usd=agents,
                        unexplained_usd=unexplained, coverage=(gateway + agents) / billed if billed else None)
    return totals.model_dump()
