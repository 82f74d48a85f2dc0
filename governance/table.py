"""The table the gateway's hook reads instead of the database: this month's AI spend per
person and per team, managed (LiteLLM's spend rows) and unmanaged (offgate's captured calls
that went around the gateway) together, and the approvals in force. It is loaded whole from
the store by a background thread (governance.keeper); a request only looks things up in it.

People are named as each side names them: a spend row by its end user (the request's `user`)
or else the key's user, a captured call by its user. Teams are the spend row's team, else the
policy's `teams` list. Names are compared lower-case.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from peewee import JOIN, fn

from offgate.policy import PolicySettings
from offgate.store import Store
from offgate.store.approvals import APPROVED, Approval, ApprovalStore
from offgate.store.queries import classification
from offgate.store.schema import ReconciledCallRow, SpendLogRow, UsageEventRow
from offgate.store.sql import naive_utc
from offgate.vocabulary import UNMANAGED


@dataclass(frozen=True, slots=True)
class Table:
    """What the hook decides with; `loaded_at` is time.monotonic() when it was read."""

    policy: PolicySettings
    loaded_at: float
    user_spend: dict[str, float] = field(default_factory=dict)
    team_spend: dict[str, float] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)

    def spend_of(self, scope: str, name: str | None) -> float:
        if name is None:
            return 0.0
        return (self.team_spend if scope == "team" else self.user_spend).get(name.lower(), 0.0)


def month_start(now: datetime) -> datetime:
    return naive_utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def load_table(store: Store, policy: PolicySettings, loaded_at: float, now: datetime | None = None) -> Table:
    """The month so far (UTC calendar month) from `store`."""
    since = month_start(now or datetime.now(UTC))
    users: defaultdict[str, float] = defaultdict(float)
    teams: defaultdict[str, float] = defaultdict(float)
    with store.reporting("read this month's spend from"):
        for person, team, spend in _managed(store, since):
            _add(users, teams, policy, person, team, spend)
        for person, cost in _unmanaged(store, since):
            _add(users, teams, policy, person, None, cost)
    approved = {approval.id: approval for approval in ApprovalStore(store).requests(APPROVED)}
    return Table(policy, loaded_at, dict(users), dict(teams), approved)


def _managed(store: Store, since: datetime) -> list[tuple[str | None, str | None, float]]:
    row = SpendLogRow
    person = fn.COALESCE(row.end_user, row.user)
    query = (row.select(person, row.team_id, fn.SUM(row.spend))
             .where(row.start_time >= since, row.spend.is_null(False)).group_by(person, row.team_id))
    return [(found[0], found[1], float(found[2] or 0.0)) for found in query.tuples().execute(store.database)]


def _unmanaged(store: Store, since: datetime) -> list[tuple[str | None, float]]:
    event, call = UsageEventRow, ReconciledCallRow
    query = (event.select(event.user, fn.SUM(event.cost_usd))
             .join(call, JOIN.LEFT_OUTER, on=(call.event_id == event.id))
             .where(event.ts >= since, event.cost_usd.is_null(False), classification() == UNMANAGED)
             .group_by(event.user))
    return [(found[0], float(found[1] or 0.0)) for found in query.tuples().execute(store.database)]


def _add(users: defaultdict[str, float], teams: defaultdict[str, float], policy: PolicySettings,
         person: str | None, team: str | None, amount: float) -> None:
    if person:
        users[person.lower()] += amount
    team = team or policy.team_of(person)
    if team:
        teams[team.lower()] += amount
