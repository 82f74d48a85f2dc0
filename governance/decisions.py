"""Which `require_approval` rule holds a gateway call, from the hook's table alone.

A rule holds a call when it matches (offgate.policy) and, for the limits it sets, the call's
estimated cost passes `max_cost_per_request` or the person's (or team's) spend this month has
reached `monthly_budget_usd`; a rule with no limit holds every call it matches. An approval
of that hold in force lets the call through: up to its amount when it has one (the largest
estimated cost per call, or the budget raised by that much).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from governance.table import Table
from offgate.money import usd
from offgate.policy import CallFacts, PolicyRule
from offgate.store.approvals import Hold

FORBIDDEN, TOO_MANY_REQUESTS = 403, 429


@dataclass(frozen=True, slots=True)
class Refusal:
    hold: Hold
    status_code: int  # 429 for a spent budget, else 403

    @property
    def message(self) -> str:
        return (f"offgate policy rule {self.hold.rule!r}: {self.hold.reason}. Approval request "
                f"{self.hold.request_id}: ask an approver to run `offgate approvals approve {self.hold.request_id}`")


def refusal_for(table: Table, call: CallFacts, estimated_cost: float | None, now: datetime) -> Refusal | None:
    for rule in table.policy.gateway_rules(call):
        refusal = _held(rule, table, call, estimated_cost)
        if refusal is None:
            continue
        approval = table.approvals.get(refusal.hold.request_id)
        if approval is None or not approval.lets_through(now):
            return refusal
        if approval.amount_usd is not None and not _within(rule, table, call, estimated_cost, approval.amount_usd):
            return refusal
    return None


def _held(rule: PolicyRule, table: Table, call: CallFacts, estimated_cost: float | None) -> Refusal | None:
    reasons: list[str] = []
    code = FORBIDDEN
    ceiling, budget = rule.max_cost_per_request, rule.monthly_budget_usd
    if ceiling is not None and estimated_cost is not None and estimated_cost > ceiling:
        reasons.append(f"estimated cost {usd(estimated_cost)} is over the {usd(ceiling)} per-request ceiling")
    if budget is not None:
        subject = call.team if rule.budget_for == "team" else call.user
        spent = table.spend_of(rule.budget_for, subject)
        if subject is not None and spent >= budget:
            reasons.append(f"{rule.budget_for} {subject}'s AI spend this month, {usd(spent, cents=True)} through the "
                           f"gateway and around it, reached the {usd(budget, cents=True)} budget")
            code = TOO_MANY_REQUESTS
    if ceiling is None and budget is None:
        reasons.append(f"calls to {call.model or 'this model'} need approval")
    if not reasons:
        return None
    hold = Hold(rule=rule.name, reason="; ".join(reasons), user=call.user, team=call.team, model=call.model,
                estimated_cost_usd=estimated_cost)
    return Refusal(hold, code)


def _within(rule: PolicyRule, table: Table, call: CallFacts, estimated_cost: float | None, amount: float) -> bool:
    """Whether an approval up to `amount` covers this call."""
    if rule.max_cost_per_request is not None and estimated_cost is not None and estimated_cost > amount:
        return False
    if rule.monthly_budget_usd is not None:
        subject = call.team if rule.budget_for == "team" else call.user
        if table.spend_of(rule.budget_for, subject) >= rule.monthly_budget_usd + amount:
            return False
    return True
