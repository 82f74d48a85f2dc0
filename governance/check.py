"""`offgate policy check`: what each rule of the policy matches in the data so far, so a rule
is seen to catch what it was written for before anyone is coached, blocked or held."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from peewee import fn

from offgate.policy import CallFacts, PolicyRule, PolicySettings
from offgate.store import Store
from offgate.store.schema import SpendLogRow, UsageEventRow
from offgate.store.sql import naive_utc


@dataclass
class RuleMatches:
    """What one rule matched: captured calls (any route) and the gateway's spend rows."""

    rule: PolicyRule
    calls: int = 0
    cost_usd: float = 0.0
    spend_rows: int = 0
    spend_usd: float = 0.0
    people: set[str] = field(default_factory=set)


def rule_matches(store: Store, policy: PolicySettings, since: datetime) -> list[RuleMatches]:
    found = [RuleMatches(rule) for rule in policy.rules]
    for (app, provider, model, user, device), calls, cost in _captured(store, since):
        call = CallFacts(app=app, provider=provider, model=model, user=user, team=policy.team_of(user), device=device)
        for matches in found:
            if matches.rule.matches(call):
                matches.calls += calls
                matches.cost_usd += cost
                if user:
                    matches.people.add(user)
    for (model, user, team), rows, spend in _gateway(store, since):
        call = CallFacts(model=model, user=user, team=team or policy.team_of(user))
        for matches in found:
            if matches.rule.matches(call):
                matches.spend_rows += rows
                matches.spend_usd += spend
                if user:
                    matches.people.add(user)
    return found


def _captured(store: Store, since: datetime) -> list[tuple[tuple[str | None, ...], int, float]]:
    event = UsageEventRow
    keys = (event.app, event.provider, event.model, event.user, event.device)
    query = (event.select(*keys, fn.COUNT(event.id), fn.SUM(event.cost_usd))
             .where(event.ts >= naive_utc(since)).group_by(*keys))
    with store.reporting("read calls from"):
        return [(tuple(row[:5]), int(row[5]), float(row[6] or 0.0)) for row in query.tuples().execute(store.database)]


def _gateway(store: Store, since: datetime) -> list[tuple[tuple[str | None, ...], int, float]]:
    row = SpendLogRow
    person = fn.COALESCE(row.end_user, row.user)
    query = (row.select(row.model_group, person, row.team_id, fn.COUNT(row.request_id), fn.SUM(row.spend))
             .where(row.start_time >= naive_utc(since)).group_by(row.model_group, person, row.team_id))
    with store.reporting("read spend rows from"):
        return [(tuple(found[:3]), int(found[3]), float(found[4] or 0.0))
                for found in query.tuples().execute(store.database)]
