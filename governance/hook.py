"""offgate's pre-call hook for LiteLLM's proxy: the gateway's half of the policy
(docs/governance.md). Named in LiteLLM's config.yaml:

    litellm_settings:
      callbacks: governance.litellm_hook.offgate_governance

Before each call it looks the caller up in the table governance.keeper keeps in memory (never
a database query per request), and refuses a call a `require_approval` rule holds with
LiteLLM's own error response: 403, or 429 for a spent budget, whose message names the rule
and the approval request id. The request is recorded in the store off the request's path.
With no fresh table (the store is down, the settings do not load) calls pass when
`policy.fail_open` (the default) and a warning is logged; otherwise they are refused with 503.
Every call first gets the workstation's context (the proxy's x-offgate-* headers) as LiteLLM
tags and spend-log metadata (governance.client_context).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger

from governance.client_context import add_client_context
from governance.decisions import refusal_for
from governance.estimate import estimated_cost_usd
from governance.keeper import FIRST_LOAD_WAIT_S, TableKeeper
from governance.table import Table
from offgate.policy import CallFacts

log = logging.getLogger("offgate.governance")

STALE_WARNING_EVERY_S = 60.0
SERVICE_UNAVAILABLE = 503


class GovernanceHook(CustomLogger):
    """Register an instance in LiteLLM's `litellm_settings.callbacks`."""

    def __init__(self, keeper: TableKeeper | None = None) -> None:
        super().__init__()
        self.keeper = keeper or TableKeeper()
        self._warned_at = float("-inf")

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> dict:
        try:
            add_client_context(data)
        except Exception:  # a fault of ours never stops a call
            log.exception("offgate governance: could not read the client's context; the call goes on without it")
        if not self.keeper.started():
            await asyncio.to_thread(self.keeper.start().wait, FIRST_LOAD_WAIT_S)
        table = self.keeper.table
        if table is None or time.monotonic() - table.loaded_at > table.policy.stale_after_s:
            return self._without_table(table, data)
        try:
            call = call_facts(table, user_api_key_dict, data)
            cost = estimated_cost_usd(call.model, data) if _costs_matter(table) else None
            refusal = refusal_for(table, call, cost, datetime.now(UTC))
        except Exception:  # a fault of ours never stops a call
            log.exception("offgate governance: could not check a call; letting it through")
            return data
        if refusal is None:
            return data
        self.keeper.ask(refusal.hold)
        raise HTTPException(status_code=refusal.status_code, detail={"error": refusal.message})

    def _without_table(self, table: Table | None, data: dict) -> dict:
        fail_open = table.policy.fail_open if table is not None else True
        now = time.monotonic()
        if now - self._warned_at >= STALE_WARNING_EVERY_S:
            self._warned_at = now
            age = "never loaded" if table is None else f"{now - table.loaded_at:.0f} s old"
            log.warning("offgate governance: the policy table is stale (%s; is offgate's store reachable?): %s", age,
                        "letting calls through (policy.fail_open)" if fail_open else "refusing calls")
        if fail_open:
            return data
        raise HTTPException(status_code=SERVICE_UNAVAILABLE,
                            detail={"error": "offgate policy: the gateway cannot check its policy now; try later"})


def call_facts(table: Table, key: Any, data: dict) -> CallFacts:
    """Who calls which model: the request's end user (OpenAI's `user` field), else the key's
    end user or user; the key's team, else the team the policy lists the person in."""
    user = data.get("user") or getattr(key, "end_user_id", None) or getattr(key, "user_id", None)
    user = user if isinstance(user, str) else None
    team = getattr(key, "team_id", None) or table.policy.team_of(user)
    model = data.get("model")
    return CallFacts(model=model if isinstance(model, str) else None, user=user, team=team)


def _costs_matter(table: Table) -> bool:
    return any(rule.max_cost_per_request is not None for rule in table.policy.rules)
