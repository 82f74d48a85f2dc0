"""Approval requests and their audit, in offgate's store (docs/governance.md).

The gateway's hook asks: a call a `require_approval` rule holds becomes a request whose id is
a hash of the rule, the person, the team and the model, so asking again is the same request
(the person quotes one id however often they retry). An approver approves it (for a while,
and optionally up to an amount) or denies it; every request and decision is one audit row
saying who, when and why. Times are naive UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from offgate.errors import BadInputError
from offgate.money import usd
from offgate.store.alerts import Alert, AlertKind, AlertStore
from offgate.store.core import Store
from offgate.store.people import People
from offgate.store.schema import ApprovalAuditRow, ApprovalRequestRow
from offgate.store.sql import naive_utc

PENDING, APPROVED, DENIED = "pending", "approved", "denied"


class UnknownRequestError(BadInputError):
    pass


@dataclass(frozen=True, slots=True)
class Hold:
    """A call a rule held: what the hook asks approval for."""

    rule: str
    reason: str
    user: str | None
    team: str | None
    model: str | None
    estimated_cost_usd: float | None = None

    @property
    def request_id(self) -> str:
        key = "\x1f".join(part or "" for part in (self.rule, self.user, self.team, self.model))
        return "ap-" + hashlib.sha256(key.encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True)
class Approval:
    """A request as the CLI and the hook see it."""

    id: str
    rule: str
    reason: str
    user: str | None
    team: str | None
    model: str | None
    estimated_cost_usd: float | None
    status: str
    requested_at: datetime
    times_requested: int
    decided_by: str | None
    decided_at: datetime | None
    expires_at: datetime | None
    amount_usd: float | None
    note: str | None

    def lets_through(self, now: datetime) -> bool:
        return self.status == APPROVED and (self.expires_at is None or naive_utc(now) < self.expires_at)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    request_id: str
    at: datetime
    actor: str
    action: str
    detail: str | None


class ApprovalStore:
    """The approval tables of one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    def ask(self, holds: Sequence[Hold], actor: str, now: datetime | None = None) -> list[str]:
        """Record each hold as a request (or as asked again); returns the ids newly pending,
        which are the ones to tell the approvers about. A request approved and since expired
        is pending again; a denied one stays denied until an approver approves it."""
        at = naive_utc(now or datetime.now(UTC))
        fresh: list[str] = []
        with self._store.reporting("record approval requests in"), self._db.atomic():
            for hold in holds:
                found = self._row(hold.request_id)
                if found is None:
                    ApprovalRequestRow.insert(
                        id=hold.request_id, rule=hold.rule, reason=hold.reason, user=hold.user, team=hold.team,
                        model=hold.model, estimated_cost_usd=hold.estimated_cost_usd, status=PENDING,
                        requested_at=at, last_requested_at=at, times_requested=1).execute(self._db)
                else:
                    reopen = found.status == APPROVED and found.expires_at is not None and found.expires_at <= at
                    changes: dict[Any, Any] = {
                        ApprovalRequestRow.last_requested_at: at, ApprovalRequestRow.reason: hold.reason,
                        ApprovalRequestRow.times_requested: ApprovalRequestRow.times_requested + 1,
                        ApprovalRequestRow.estimated_cost_usd: hold.estimated_cost_usd}
                    if reopen:
                        changes.update({ApprovalRequestRow.status: PENDING, ApprovalRequestRow.requested_at: at,
                                        ApprovalRequestRow.notified_at: None})
                    ApprovalRequestRow.update(changes).where(ApprovalRequestRow.id == hold.request_id).execute(self._db)
                    if not reopen:
                        continue
                fresh.append(hold.request_id)
                self._audit(hold.request_id, at, actor, "requested", hold.reason)
        return fresh

    def approve(self, request_id: str, by: str, duration: timedelta | None, amount_usd: float | None,
                note: str | None = None, now: datetime | None = None) -> Approval:
        at = naive_utc(now or datetime.now(UTC))
        expires = at + duration if duration is not None else None
        detail = ", ".join(part for part in (
            f"until {expires:%Y-%m-%d %H:%M:%S} UTC" if expires else "without expiry",
            f"up to ${amount_usd:,.2f}" if amount_usd is not None else None, note) if part)
        return self._decide(request_id, by, APPROVED, at, detail,
                            expires_at=expires, amount_usd=amount_usd, note=note)

    def deny(self, request_id: str, by: str, reason: str | None, now: datetime | None = None) -> Approval:
        at = naive_utc(now or datetime.now(UTC))
        return self._decide(request_id, by, DENIED, at, reason, expires_at=None, amount_usd=None, note=reason)

    def requests(self, status: str | None = None, limit: int | None = None) -> list[Approval]:
        """Requests, most recently asked first; only those in `status` when given, the first `limit` when given."""
        query = ApprovalRequestRow.select().order_by(ApprovalRequestRow.last_requested_at.desc())
        if status is not None:
            query = query.where(ApprovalRequestRow.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._store.reporting("read approval requests from"):
            return [_approval(row) for row in query.execute(self._db)]

    def audit(self, request_id: str | None = None) -> list[AuditEntry]:
        query = ApprovalAuditRow.select().order_by(ApprovalAuditRow.seq)
        if request_id is not None:
            query = query.where(ApprovalAuditRow.request_id == request_id)
        with self._store.reporting("read the approval audit from"):
            return [AuditEntry(row.request_id, row.at, row.actor, row.action, row.detail)
                    for row in query.execute(self._db)]

    def raise_request_alerts(self, now: datetime | None = None) -> list[Alert]:
        """An alert for each pending request the approvers were not told about, for the
        notification channels to carry (offgate watch, offgate up); the requests are then
        marked notified. A request pending again after its approval expired is told again."""
        at = naive_utc(now or datetime.now(UTC))
        query = ApprovalRequestRow.select().where(
            (ApprovalRequestRow.status == PENDING) & ApprovalRequestRow.notified_at.is_null())
        with self._store.reporting("read approval requests from"):
            waiting = [_approval(row) for row in query.execute(self._db)]
        if not waiting:
            return []
        raised = AlertStore(self._store).raise_alerts([_alert(request) for request in waiting], timedelta(0), at)
        with self._store.reporting("update approval requests in"):
            ApprovalRequestRow.update(notified_at=at).where(
                ApprovalRequestRow.id.in_([request.id for request in waiting])).execute(self._db)
        return raised

    def raise_decision_alerts(self, now: datetime | None = None) -> list[Alert]:
        """An alert for each decision the requester was not told about (`approval_decided`),
        and for each approval that has expired since (`approval_expired`), whose details name
        the requester's address when one is known, for the email channel; the requests are
        then marked told. A request decided again is told again."""
        at = naive_utc(now or datetime.now(UTC))
        row = ApprovalRequestRow
        # One transaction: a request is marked told only with its alert stored.
        with self._store.reporting("tell requesters of decisions in"), self._db.atomic():
            decided = self._told(row.status.in_([APPROVED, DENIED]) & row.decision_notified_at.is_null(),
                                 row.decision_notified_at, at)
            expired = self._told(
                (row.status == APPROVED) & (row.expires_at <= at) & row.expiry_notified_at.is_null(),
                row.expiry_notified_at, at)
            if not decided and not expired:
                return []
            people = People(self._store)
            alerts = [*(_decision_alert(request, people.address_of(request.user)) for request in decided),
                      *(_expiry_alert(request, people.address_of(request.user)) for request in expired)]
            return AlertStore(self._store).raise_alerts(alerts, timedelta(0), at)

    def _told(self, which: Any, marker: Any, at: datetime) -> list[Approval]:
        """The requests `which` selects, each then marked told at `at` in `marker`."""
        found = [_approval(row) for row in ApprovalRequestRow.select().where(which).execute(self._db)]
        if found:
            ApprovalRequestRow.update({marker: at}).where(
                ApprovalRequestRow.id.in_([request.id for request in found])).execute(self._db)
        return found

    def _decide(self, request_id: str, by: str, status: str, at: datetime, detail: str | None, *,
                expires_at: datetime | None, amount_usd: float | None, note: str | None) -> Approval:
        with self._store.reporting("decide an approval request in"), self._db.atomic():
            updated = ApprovalRequestRow.update(
                status=status, decided_by=by, decided_at=at, expires_at=expires_at, amount_usd=amount_usd, note=note,
                decision_notified_at=None, expiry_notified_at=None,
            ).where(ApprovalRequestRow.id == request_id).execute(self._db)
            if not updated:
                raise UnknownRequestError(f"no approval request {request_id!r}")
            self._audit(request_id, at, by, "approved" if status == APPROVED else "denied", detail)
            row = self._row(request_id)
            assert row is not None  # updated above, in this transaction
            return _approval(row)

    def _row(self, request_id: str) -> ApprovalRequestRow | None:
        query = ApprovalRequestRow.select().where(ApprovalRequestRow.id == request_id)
        return next(iter(query.execute(self._db)), None)

    def _audit(self, request_id: str, at: datetime, actor: str, action: str, detail: str | None) -> None:
        ApprovalAuditRow.insert(request_id=request_id, at=at, actor=actor, action=action, detail=detail).execute(
            self._db)


def _alert(request: Approval) -> Alert:
    who = request.user or "someone"
    return Alert(
        kind="approval_request", severity="warning", dimension="user", entity=who, metric="approval",
        ts=request.requested_at.replace(tzinfo=UTC),
        message=(f"The gateway held {who}'s call to {request.model or 'a model'} under rule {request.rule!r} "
                 f"({request.reason}): `offgate approvals approve {request.id}` lets it through, "
                 f"`offgate approvals deny {request.id}` refuses it"),
        details={"request_id": request.id, "rule": request.rule, "team": request.team, "model": request.model,
                 "estimated_cost_usd": request.estimated_cost_usd})


def _decision_alert(request: Approval, address: str | None) -> Alert:
    assert request.decided_at is not None  # only decided requests are told
    if request.status == APPROVED:
        until = f"until {request.expires_at:%Y-%m-%d %H:%M} UTC" if request.expires_at else "without expiry"
        amount = f", up to {usd(request.amount_usd, cents=True)}" if request.amount_usd is not None else ""
        decision = f"approved by {request.decided_by} {until}{amount}"
    else:
        decision = f"denied by {request.decided_by}"
    why = f": {request.note}" if request.note else ""
    return _requester_alert("approval_decided", request, request.decided_at, address,
                            f"{_your_call(request)} was {decision}{why}")


def _expiry_alert(request: Approval, address: str | None) -> Alert:
    assert request.expires_at is not None  # only expired approvals are told
    return _requester_alert(
        "approval_expired", request, request.expires_at, address,
        f"{_your_call(request)}: {request.decided_by}'s approval expired at {request.expires_at:%Y-%m-%d %H:%M} UTC; "
        "the gateway holds such calls again")


def _your_call(request: Approval) -> str:
    call = f"Your gateway call with {request.model}" if request.model else "Your gateway call"
    return f"{call} (rule '{request.rule}', request {request.id})"


def _requester_alert(kind: AlertKind, request: Approval, ts: datetime, address: str | None, message: str) -> Alert:
    return Alert(
        kind=kind, severity="warning", dimension="user", entity=request.user or "someone", metric="approval",
        ts=ts.replace(tzinfo=UTC), message=message,
        details={"request_id": request.id, "rule": request.rule, "model": request.model, "status": request.status,
                 "decided_by": request.decided_by, "requester_email": address})


def _approval(row: ApprovalRequestRow) -> Approval:
    return Approval(
        id=row.id, rule=row.rule, reason=row.reason, user=row.user, team=row.team, model=row.model,
        estimated_cost_usd=row.estimated_cost_usd, status=row.status, requested_at=row.requested_at,
        times_requested=row.times_requested, decided_by=row.decided_by, decided_at=row.decided_at,
        expires_at=row.expires_at, amount_usd=row.amount_usd, note=row.note)
