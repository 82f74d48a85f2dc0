"""What reconciliation found that someone should look at:

- unlogged_gateway_call: a managed call (to the gateway, or the gateway's own call upstream)
  that succeeded but has no spend row, once LiteLLM has had the grace period to log it.
- cost_mismatch: a paired call whose logged cost and ours differ by more than
  max(cost_tolerance_usd, cost_tolerance x the larger of the two). Calls whose tokens we
  estimated or could not price, and rows that logged no cost, are not compared: the gap
  would say nothing about LiteLLM.
- spend_not_captured: a spend row of the window that no captured call pairs with (a machine
  without the agent, or a path it does not watch), once past the grace period. Failed
  calls (status "failure") cost nothing and are left out.

A finding's id is "<kind>:<event id or request_id>", so a rerun replaces it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import numpy as np

from analytics.classify import Classified, numbers
from offgate.config import ReconcileSettings
from offgate.money import usd
from offgate.vocabulary import CLASSES, GATEWAY_UPSTREAM

FindingKind = Literal["unlogged_gateway_call", "cost_mismatch", "spend_not_captured"]
KINDS: tuple[FindingKind, ...] = get_args(FindingKind)
UNLOGGED, MISMATCH, NOT_CAPTURED = KINDS


def find(calls: Mapping[str, Sequence[Any]], spend: Mapping[str, Sequence[Any]], classified: Classified,
         held: Collection[str], since: datetime | None, until: datetime, now: datetime,
         settings: ReconcileSettings) -> list[dict[str, Any]]:
    """The findings about `calls` and about the spend rows starting in [since, until);
    `held` are rows that calls outside the window pair with."""
    settled = (now - timedelta(seconds=settings.grace_period_s)).timestamp()
    return [*_unlogged(calls, classified, settled), *_mismatches(calls, spend, classified, settings),
            *_not_captured(spend, classified, held, since, until, settled)]


def _unlogged(calls: Mapping[str, Sequence[Any]], classified: Classified, settled: float) -> list[dict[str, Any]]:
    ts = numbers(calls["ts"])
    with np.errstate(invalid="ignore"):
        succeeded = numbers(calls["status_code"]) < 400  # no status (NaN): the call never finished
    lonely = (classified.classes <= CLASSES.index(GATEWAY_UPSTREAM)) & (classified.row < 0) & succeeded
    found = []
    for i in np.nonzero(lonely & (ts < settled))[0].tolist():
        event_id, model, response_id = calls["id"][i], calls["model"][i], calls["response_id"][i]
        found.append(_finding(UNLOGGED, event_id, ts[i], event_id=event_id, model=model,
                              our_cost_usd=calls["cost_usd"][i],
                              detail=f"LiteLLM logged no spend for this {CLASSES[classified.classes[i]]} call "
                                     f"(response id {response_id or '-'})"))
    return found


def _mismatches(calls: Mapping[str, Sequence[Any]], spend: Mapping[str, Sequence[Any]], classified: Classified,
                settings: ReconcileSettings) -> list[dict[str, Any]]:
    paired = np.nonzero(classified.row >= 0)[0]
    ours = numbers(calls["cost_usd"])[paired]
    logged = numbers(spend["spend"])[classified.row[paired]]
    estimated = np.asarray(calls["tokens_estimated"], dtype=bool).reshape(len(classified.row))[paired]
    allowed = np.maximum(settings.cost_tolerance_usd, settings.cost_tolerance * np.maximum(ours, logged))
    differs = ~estimated & ~np.isnan(ours) & ~np.isnan(logged) & (np.abs(logged - ours) > allowed)
    found = []
    for k in np.nonzero(differs)[0].tolist():
        i, j = int(paired[k]), int(classified.row[paired[k]])
        change = f" ({(logged[k] - ours[k]) / ours[k]:+.1%})" if ours[k] else ""
        found.append(_finding(MISMATCH, calls["id"][i], calls["ts"][i], event_id=calls["id"][i],
                              spend_request_id=spend["request_id"][j], model=calls["model"][i],
                              our_cost_usd=float(ours[k]), logged_cost_usd=float(logged[k]),
                              detail=f"LiteLLM logged {usd(float(logged[k]))}, offgate estimates "
                                     f"{usd(float(ours[k]))}{change}"))
    return found


def _not_captured(spend: Mapping[str, Sequence[Any]], classified: Classified, held: Collection[str],
                  since: datetime | None, until: datetime, settled: float) -> list[dict[str, Any]]:
    start = numbers(spend["start"])
    paired = np.zeros(len(start), dtype=bool)
    paired[classified.row[classified.row >= 0]] = True
    in_window = (start >= (since.timestamp() if since else -np.inf)) & (start < min(until.timestamp(), settled))
    held = set(held)
    found = []
    for j in np.nonzero(in_window & ~paired)[0].tolist():
        request_id = spend["request_id"][j]
        if request_id in held or spend["status"][j] == "failure":
            continue
        model, cost = spend["model"][j] or spend["model_group"][j], spend["spend"][j]
        logged = "cost unknown" if cost is None else usd(cost)
        found.append(_finding(NOT_CAPTURED, request_id, start[j], spend_request_id=request_id, model=model,
                              logged_cost_usd=cost,
                              detail=f"LiteLLM logged {model or 'a call'} ({logged}) that no agent saw"))
    return found


def _finding(kind: str, subject: str, ts: float, **fields: Any) -> dict[str, Any]:
    return {"id": f"{kind}:{subject}", "kind": kind, "ts": datetime.fromtimestamp(ts, UTC), "event_id": None,
            "spend_request_id": None, "model": None, "our_cost_usd": None, "logged_cost_usd": None, **fields}
