"""`offgate reconcile`: classify every captured call of a window, pair the managed ones
with LiteLLM's spend rows, record the findings, and keep all of it in the store.

A run covers the calls with since <= ts < now and the spend rows around them (SPEND_MARGIN
either side, for calls whose clock is off). It replaces every result and finding of its
window in one transaction, and leaves alone the rows that calls outside the window already
hold. So a rerun over the same window gives the same result, and runs over overlapping
windows never pair one row twice nor list a finding twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from analytics.classify import Classified, classify
from analytics.findings import KINDS, find
from analytics.matching import MatchedBy
from offgate.config import ReconcileSettings
from offgate.store import Store
from offgate.store.filters import CallFilter
from offgate.store.reconciliation import Reconciliations
from offgate.store.spend import SpendLog
from offgate.vocabulary import CLASSES

SPEND_MARGIN = timedelta(hours=1)


@dataclass
class Decision:
    """What a run decided, before it is stored."""

    classified: Classified
    findings: list[dict[str, Any]]


@dataclass
class ReconcileSummary:
    since: datetime | None
    until: datetime
    calls: int
    spend_rows: int
    classes: dict[str, int] = field(default_factory=dict)
    matched_by: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)


def reconcile(store: Store, settings: ReconcileSettings, since: datetime | None = None,
              now: datetime | None = None) -> ReconcileSummary:
    until = now or datetime.now(UTC)
    spend_start = since - SPEND_MARGIN if since else None
    spend_end = until + SPEND_MARGIN
    reconciliations = Reconciliations(store)
    calls = reconciliations.call_columns(since, until)
    spend = SpendLog(store).columns(spend_start, spend_end)
    held: dict[str, set[str]] = defaultdict(set)
    for request_id, classification in reconciliations.matches_outside(since, until, spend_start, spend_end):
        held[classification].add(request_id)
    decision = decide(calls, spend, held, settings, since, until)
    reconciliations.save(since, until, _results(calls, spend, decision.classified), decision.findings)
    return _summary(since, until, spend, decision)


def narrowed(store: Store, summary: ReconcileSummary, only: CallFilter) -> ReconcileSummary:
    """The summary of a run told of the calls `only` keeps (pairing is global: a spend row
    names no device, so every call is reconciled and a filter narrows what is told);
    spend_rows: the rows paired with them."""
    reconciliations = Reconciliations(store)
    decided = reconciliations.decided(summary.since, summary.until, only)
    classes = {name: sum(calls for klass, _, calls in decided if klass == name) for name in CLASSES}
    matched_by = {how.label: sum(calls for _, label, calls in decided if label == how.label) for how in MatchedBy}
    kinds = Counter(finding["kind"] for finding in reconciliations.findings(summary.since, summary.until, only))
    return ReconcileSummary(since=summary.since, until=summary.until, calls=sum(classes.values()),
                            spend_rows=sum(matched_by.values()), classes=classes, matched_by=matched_by,
                            findings={kind: kinds[kind] for kind in KINDS})


def decide(calls: Mapping[str, Sequence[Any]], spend: Mapping[str, Sequence[Any]],
           held: Mapping[str, Collection[str]], settings: ReconcileSettings, since: datetime | None,
           until: datetime) -> Decision:
    """The whole decision in memory, from columns as the store reads them (the benchmark
    runs this)."""
    classified = classify(calls, spend, held, settings)
    held_rows = set().union(*held.values()) if held else set()
    return Decision(classified, find(calls, spend, classified, held_rows, since, until, until, settings))


def _results(calls: Mapping[str, Sequence[Any]], spend: Mapping[str, Sequence[Any]],
             classified: Classified) -> Iterator[dict[str, Any]]:
    request_ids = spend["request_id"]
    labels = {int(how): how.label for how in MatchedBy}
    for event_id, klass, row, how in zip(calls["id"], classified.classes.tolist(), classified.row.tolist(),
                                         classified.matched_by.tolist(), strict=True):
        yield {"event_id": event_id, "classification": CLASSES[klass],
               "spend_request_id": request_ids[row] if row >= 0 else None, "matched_by": labels.get(how)}


def _summary(since: datetime | None, until: datetime, spend: Mapping[str, Sequence[Any]],
             decision: Decision) -> ReconcileSummary:
    classified = decision.classified
    classes = np.bincount(classified.classes, minlength=len(CLASSES))
    hows = np.bincount(classified.matched_by, minlength=max(MatchedBy) + 1)
    kinds = Counter(finding["kind"] for finding in decision.findings)
    return ReconcileSummary(
        since=since, until=until, calls=len(classified.classes), spend_rows=len(spend["request_id"]),
        classes={name: int(classes[index]) for index, name in enumerate(CLASSES)},
        matched_by={how.label: int(hows[how]) for how in MatchedBy},
        findings={kind: kinds[kind] for kind in KINDS},
    )

