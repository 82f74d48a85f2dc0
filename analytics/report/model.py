"""The unmanaged-usage report (document.py) built from the store: one document, which every
format renders.

Money:
- managed = the spend LiteLLM logged for the window (spend rows by startTime), plus our
  estimate for gateway calls LiteLLM never logged (counted once: the client's view);
- unmanaged = our estimate for every unmanaged call (API-equivalent for web apps);
- coverage = managed / (managed + unmanaged), None when both are 0.
A cost nobody knows is in no sum and is counted instead, on both sides alike: unmanaged calls
without a price (`unpriced_calls`), spend rows LiteLLM logged without a cost
(`unpriced_spend_rows`), and the managed calls paired with such a row
(`managed_unpriced_calls`).
Rows, top sources and the daily trend come from the calls the agents captured (a row's
managed side counts the clients' gateway calls, not the gateway's own calls upstream); a call
not reconciled yet counts by its route (gateway: managed, direct: unmanaged), and the notes
say so. `unlogged_gateway_calls` counts every gateway call without a spend row, recent and
failed ones too; the findings list those LiteLLM should have logged by now.
`pricing` says what offgate's unmanaged costs stand for (list price, a plan's API-equivalent,
a retired model's last listed price); `workstation` what `offgate scan` found in the window.
`unread_connections` are the connections the proxy passed through without reading them,
because their client refused its certificate (offgate.store.unread), per process and host.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from analytics.bill.gateway_keys import GatewayKey
from analytics.findings import KINDS
from analytics.report.bill import bill_part
from analytics.report.coaching import coaching_part
from analytics.report.document import (
    Day,
    Estimated,
    Finding,
    FindingCounts,
    Report,
    Row,
    Source,
    Totals,
    UnreadConnection,
)
from analytics.report.pricing_bases import pricing_part
from analytics.report.workstation_part import workstation_part
from offgate.store import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.queries import PERSON_KEYS, CallGroup, CallQueries, PersonSpend
from offgate.store.reconciliation import Reconciliations
from offgate.store.spend import SpendDay, SpendLog
from offgate.store.unread import UnreadConnectionStore
from offgate.vocabulary import DAY, DIMENSIONS, GATEWAY, GATEWAY_UPSTREAM, TEAM, UNMANAGED, Dimension

SOURCE_FIELDS = ("user", "device", "process", "app", "provider")
TOP_SOURCES = 10


def build_report(store: Store, since: datetime | None, until: datetime, by: Dimension,
                 only: CallFilter = ALL_CALLS, gateway_keys: Sequence[GatewayKey] = (),
                 coaching: bool = True) -> Report:
    """The report of [since, until) by `by`, of the calls `only` keeps. `gateway_keys`: the
    gateway's upstream keys (analytics.bill.gateway_keys), which the bill's reconciliation
    credits LiteLLM's spend to. `coaching`: whether to count the coaching part (one more
    group-by over the window's calls; readers of the totals or rows alone go without)."""
    if by not in DIMENSIONS:
        raise ValueError(f"cannot report by {by!r}: one of {', '.join(DIMENSIONS)}")
    with CallQueries(store).window(since, until) as calls:
        return _report(calls, since, until, by, only, gateway_keys, coaching)


def _report(calls: CallQueries, since: datetime | None, until: datetime, by: Dimension, only: CallFilter,
            gateway_keys: Sequence[GatewayKey], coaching: bool) -> Report:
    store = calls.store
    web_apps = _web_app_providers()
    groups = calls.call_groups(since, until, [by], web_apps, only)
    spend_days = SpendLog(store).by_day(since, until, only)
    totals = _totals(groups, spend_days)
    # A person's LiteLLM spend no agent captured: on their row, and already in the totals.
    people_spend = calls.uncaptured_spend(since, until) if by in PERSON_KEYS and not only else []
    findings = [Finding.from_stored(finding) for finding in Reconciliations(store).findings(since, until, only)]
    return Report(
        generated_at=until,
        since=since,
        until=until,
        by=by,
        devices=list(only.devices),
        users=list(only.users),
        totals=totals,
        rows=_rows(groups, by, people_spend),
        top_sources=_top_sources(calls.call_groups(since, until, list(SOURCE_FIELDS), web_apps, only)),
        daily=_daily(calls.call_groups(since, until, [DAY], web_apps, only), spend_days),
        findings=findings,
        findings_by_kind=FindingCounts(**{kind: sum(f.kind == kind for f in findings) for kind in KINDS}),
        estimated=_estimated(groups, totals),
        unread_connections=[UnreadConnection(**entry) for entry in
                            UnreadConnectionStore(store).by_process_and_host(since, until, only)],
        pricing=pricing_part(calls, since, until, only),
        workstation=workstation_part(store, since, until, only),
        bill=None if only else bill_part(store, since, until, gateway_keys),  # a bill is per key, never per device
        coaching=coaching_part(calls, since, until, only) if coaching else None,
    )


def daily_costs(store: Store, since: datetime | None, until: datetime) -> list[Day]:
    """Managed and unmanaged cost and calls per UTC day, as the report's daily trend counts them."""
    return _daily(CallQueries(store).call_groups(since, until, [DAY]), SpendLog(store).by_day(since, until))


def _totals(groups: list[CallGroup], spend_days: list[SpendDay]) -> Totals:
    unmanaged = [g for g in groups if g.classification == UNMANAGED]
    gateway = [g for g in groups if g.classification == GATEWAY]
    unlogged = [g for g in gateway if g.reconciled and not g.matched]
    logged = sum((day.spend for day in spend_days), 0.0)
    unlogged_cost = _sum(unlogged, "cost_usd")
    managed = logged + unlogged_cost
    unmanaged_cost = _sum(unmanaged, "cost_usd")
    total = managed + unmanaged_cost
    return Totals(
        managed_cost_usd=managed,
        unmanaged_cost_usd=unmanaged_cost,
        total_cost_usd=total,
        coverage=managed / total if total else None,
        managed_calls=sum(day.rows for day in spend_days) + _sum(unlogged, "calls"),
        unmanaged_calls=_sum(unmanaged, "calls"),
        unmanaged_prompt_tokens=_sum(unmanaged, "prompt_tokens"),
        unmanaged_completion_tokens=_sum(unmanaged, "completion_tokens"),
        logged_spend_usd=logged,
        spend_rows=sum(day.rows for day in spend_days),
        unpriced_spend_rows=sum(day.unpriced_rows for day in spend_days),
        gateway_calls=_sum(gateway, "calls"),
        gateway_calls_matched=_sum((g for g in gateway if g.matched), "calls"),
        gateway_upstream_calls=_sum((g for g in groups if g.classification == GATEWAY_UPSTREAM), "calls"),
        unlogged_gateway_calls=_sum(unlogged, "calls"),
        unlogged_gateway_cost_usd=unlogged_cost,
        captured_calls=_sum(groups, "calls"),
        unreconciled_calls=_sum((g for g in groups if not g.reconciled), "calls"),
    )


def _rows(groups: list[CallGroup], by: str, people_spend: list[PersonSpend]) -> list[Row]:
    rows: dict[Any, dict[str, Any]] = {}

    def row_of(key: Any) -> dict[str, Any]:
        return rows.setdefault(key, {
            "key": key, "unmanaged_calls": 0, "unmanaged_cost_usd": 0.0, "prompt_tokens": 0,
            "completion_tokens": 0, "estimated_calls": 0, "unpriced_calls": 0, "managed_calls": 0,
            "managed_unpriced_calls": 0, "managed_cost_usd": 0.0,
        })

    for spent in people_spend:
        row = row_of(spent.team if by == TEAM else spent.person)
        row["managed_calls"] += spent.rows
        row["managed_cost_usd"] += spent.spend
        row["managed_unpriced_calls"] += spent.unpriced_rows
    for group in groups:
        if group.classification == GATEWAY_UPSTREAM:
            continue  # the gateway's own side of calls its clients made
        row = row_of(group.keys[by])
        if group.classification == UNMANAGED:
            row["unmanaged_calls"] += group.calls
            row["unmanaged_cost_usd"] += group.cost_usd
            row["prompt_tokens"] += group.prompt_tokens
            row["completion_tokens"] += group.completion_tokens
            row["estimated_calls"] += group.calls if group.estimated else 0
            row["unpriced_calls"] += group.unpriced_calls
        else:
            row["managed_calls"] += group.calls
            # What LiteLLM logged for the calls it logged, our estimate for the others.
            row["managed_cost_usd"] += group.spend if group.matched else group.cost_usd
            row["managed_unpriced_calls"] += group.unpriced_spend
    for row in rows.values():
        spent = row["managed_cost_usd"] + row["unmanaged_cost_usd"]
        row["coverage"] = row["managed_cost_usd"] / spent if spent else None
    ranked = sorted(rows.values(), key=lambda r: (-r["unmanaged_cost_usd"], -r["unmanaged_calls"],
                                                  -r["managed_cost_usd"], r["key"] is None, str(r["key"])))
    return [Row(**row) for row in ranked]


def _top_sources(groups: list[CallGroup]) -> list[Source]:
    sources: dict[tuple, dict[str, Any]] = {}
    for group in groups:
        if group.classification != UNMANAGED:
            continue
        key = tuple(group.keys[name] for name in SOURCE_FIELDS)
        source = sources.setdefault(key, {**dict(zip(SOURCE_FIELDS, key, strict=True)), "calls": 0,
                                          "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
        for name in ("calls", "prompt_tokens", "completion_tokens", "cost_usd"):
            source[name] += getattr(group, name)
    ranked = sorted(sources.values(), key=lambda s: (-s["cost_usd"], -s["calls"], str(list(s.values()))))
    return [Source(**source) for source in ranked[:TOP_SOURCES]]


def _daily(groups: list[CallGroup], spend_days: list[SpendDay]) -> list[Day]:
    days: dict[str, dict[str, Any]] = defaultdict(lambda: {"managed_cost_usd": 0.0, "unmanaged_cost_usd": 0.0,
                                                           "managed_calls": 0, "unmanaged_calls": 0,
                                                           "unpriced_spend_rows": 0})
    for day in spend_days:
        days[day.day]["managed_cost_usd"] += day.spend
        days[day.day]["managed_calls"] += day.rows
        days[day.day]["unpriced_spend_rows"] += day.unpriced_rows
    for group in groups:
        entry = days[group.keys[DAY]]
        if group.classification == UNMANAGED:
            entry["unmanaged_cost_usd"] += group.cost_usd
            entry["unmanaged_calls"] += group.calls
        elif group.classification == GATEWAY and group.reconciled and not group.matched:
            entry["managed_cost_usd"] += group.cost_usd
            entry["managed_calls"] += group.calls
    return [Day(day=date.fromisoformat(day), **days[day]) for day in sorted(days)]


def _estimated(groups: list[CallGroup], totals: Totals) -> Estimated:
    unmanaged = [g for g in groups if g.classification == UNMANAGED]
    estimated = [g for g in unmanaged if g.estimated]
    web_apps = [g for g in unmanaged if g.web_app]
    notes = ["Unmanaged costs are offgate's estimates from LiteLLM's price map; managed costs are what "
             "LiteLLM logged."]
    if totals.spend_rows == 0:
        notes.append("No LiteLLM spend is imported for this window: run `offgate spend import`.")
    if totals.unpriced_spend_rows:
        notes.append(f"{totals.unpriced_spend_rows} LiteLLM spend rows logged no cost: managed spend leaves them "
                     "out (unknown, not $0).")
    if totals.unreconciled_calls:
        notes.append(f"{totals.unreconciled_calls} calls are not reconciled yet and count by their route: "
                     "run `offgate reconcile`.")
    return Estimated(
        estimated_token_calls=_sum(estimated, "calls"),
        estimated_token_cost_usd=_sum(estimated, "cost_usd"),
        web_app_calls=_sum(web_apps, "calls"),
        web_app_cost_usd=_sum(web_apps, "cost_usd"),
        unpriced_calls=_sum(unmanaged, "unpriced_calls"),
        unpriced_spend_rows=totals.unpriced_spend_rows,
        unlogged_gateway_calls=totals.unlogged_gateway_calls,
        unlogged_gateway_cost_usd=totals.unlogged_gateway_cost_usd,
        notes=notes,
    )


def _web_app_providers() -> list[str]:
    """Providers whose tokens come from our estimates of what a web app showed."""
    from offgate.catalog import PROVIDERS

    return [provider.name for provider in PROVIDERS if provider.usage != "reported"]


def _sum(groups: Iterable[CallGroup], name: str) -> Any:
    """The sum of one field over groups: a float for money, an int for counts."""
    return sum((getattr(group, name) for group in groups), 0.0 if name in ("cost_usd", "spend") else 0)
