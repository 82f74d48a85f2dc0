"""The report's pricing part: what offgate's prices of the unmanaged calls stand for (list
price, a plan's API-equivalent, a retired model's last listed price, or none), read from each
call's cost and its note (offgate.pricing_basis)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from analytics.report.document import BasisTotal, PlanApp, Pricing, RetiredModel
from analytics.report.values import calls, label
from offgate.money import usd
from offgate.pricing_basis import PRICING_BASES, PricingBasis, pricing_basis, retired_listing
from offgate.store.filters import CallFilter
from offgate.store.queries import COST_NOTE, CallGroup, CallQueries
from offgate.vocabulary import UNMANAGED


def pricing_part(calls: CallQueries, since: datetime | None, until: datetime, only: CallFilter) -> Pricing:
    groups = [group for group in calls.call_groups(since, until, ["app", "model", COST_NOTE], (), only)
              if group.classification == UNMANAGED]
    bases: dict[PricingBasis, list[Any]] = {basis: [0, 0.0] for basis in PRICING_BASES}
    plan_apps: dict[str | None, list[Any]] = defaultdict(lambda: [0, 0.0])
    retired: dict[tuple[str | None, str, str], list[Any]] = defaultdict(lambda: [0, 0.0])
    for group in groups:
        note = group.keys[COST_NOTE]
        bases["unpriced"][0] += group.unpriced_calls
        priced = group.calls - group.unpriced_calls
        if not priced:
            continue
        basis = pricing_basis(True, note)
        _add(bases[basis], priced, group)
        if basis == "plan_equivalent":
            _add(plan_apps[group.keys["app"]], priced, group)
        if (listing := retired_listing(note)) is not None:
            _add(retired[(group.keys["model"], *listing)], priced, group)
    totals = [BasisTotal(basis=basis, calls=int(n), cost_usd=None if basis == "unpriced" else float(cost))
              for basis, (n, cost) in bases.items()]
    apps = sorted((PlanApp(app=app, calls=n, cost_usd=cost) for app, (n, cost) in plan_apps.items()),
                  key=lambda found: (-found.cost_usd, -found.calls, str(found.app)))
    models = sorted((RetiredModel(model=model, last_listed_in=listed_in, last_listed=date.fromisoformat(listed),
                                  calls=n, cost_usd=cost)
                     for (model, listed_in, listed), (n, cost) in retired.items()),
                    key=lambda found: (-found.cost_usd, -found.calls, str(found.model)))
    return Pricing(bases=totals, plan_apps=apps, retired_models=models, notes=_notes(totals, apps, models))


def _add(totals: list[Any], priced: int, group: CallGroup) -> None:
    totals[0] += priced
    totals[1] += group.cost_usd


def _notes(bases: list[BasisTotal], apps: list[PlanApp], models: list[RetiredModel]) -> list[str]:
    by_basis = {total.basis: total for total in bases}
    notes = []
    plan = by_basis["plan_equivalent"]
    if plan.calls:
        each = "; ".join(f"{label(app.app)}: {calls(app.calls)}, {usd(app.cost_usd)}" for app in apps)
        notes.append(f"{usd(plan.cost_usd)} of the unmanaged spend is the API-equivalent of subscription-plan usage "
                     f"({each}), not billed per token: a plan costs a seat.")
    if models:
        each = ", ".join(f"{label(model.model)} ({model.last_listed_in}, {model.last_listed.isoformat()}; "
                         f"{calls(model.calls)}, {usd(model.cost_usd)})" for model in models)
        notes.append(f"Priced at the last listed price of models LiteLLM's current price map dropped: {each}.")
    return notes
