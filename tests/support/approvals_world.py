"""Approval requests for the dashboard's tests: two held calls, and a home whose dashboard
decides as a given approver under a policy listing its approvers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from offgate.store import Store
from offgate.store.approvals import ApprovalStore, Hold

BIG_CALL = Hold(rule="big calls", reason="estimated cost $0.80 is over the $0.50 per-request ceiling", user="alice",
                team="data", model="gpt-4o", estimated_cost_usd=0.8)
OPUS = Hold(rule="opus", reason="calls to claude-opus-4-1 need approval", user="bob", team=None,
            model="claude-opus-4-1")


def configure(home: Path, approver: str, approvers: tuple[str, ...] = ("carol", "dan")) -> None:
    (home / "config.toml").write_text(
        f'database_url = "sqlite:///{home / "offgate.db"}"\n[dashboard]\napprover = "{approver}"\n'
        f"[policy]\napprovers = {json.dumps(list(approvers))}\n",  # a JSON list of strings is TOML's too
        encoding="utf-8")


def held(home: Path, *holds: Hold) -> None:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        ApprovalStore(store).ask(list(holds), "gateway hook", datetime.now(UTC) - timedelta(minutes=5))


def stored(home: Path) -> tuple[dict[str, tuple], list[tuple]]:
    """Each request's (status, decided_by, amount, note), and the audit's (request, actor, action, detail)."""
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        approvals = ApprovalStore(store)
        return ({request.id: (request.status, request.decided_by, request.amount_usd, request.note)
                 for request in approvals.requests()},
                [(entry.request_id, entry.actor, entry.action, entry.detail) for entry in approvals.audit()])
