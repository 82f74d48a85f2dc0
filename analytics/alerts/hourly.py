"""Spike and surge alerts: every active hour of every entity in every dimension against its
seasonal baseline, with the false discovery rate held across all of them together.

Three metrics are tested per hour: spend (a spike), calls (a surge) and, for hours whose
calls have no price, tokens (a spike: there the spend cannot speak). One hour of one entity
raises at most one alert: its spend if that is a discovery at least `min_cost_usd` above the
usual, else its calls, else its tokens; the others are named in the details. The same calls
seen from several dimensions (alice, alice's laptop, alice's key) raise one alert, on the
first dimension in the settings, naming the others.

Severity: critical when the hour's spend is at least CRITICAL_FACTOR times its usual and
CRITICAL_FACTOR x `min_cost_usd` above it; info for a surge or token spike whose spend is
less than `min_cost_usd` above its usual; warning otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from analytics.alerts.detectors import Residuals, SpikeTest, benjamini_hochberg, residuals, tail_test
from analytics.alerts.messages import spike_message
from analytics.alerts.series import HourlySeries
from offgate.config import AlertSettings
from offgate.store.alerts import Alert, AlertKind, Severity

CRITICAL_FACTOR = 10
Metric = Literal["cost_usd", "calls", "tokens"]
METRICS: tuple[Metric, ...] = ("cost_usd", "calls", "tokens")  # in the order an hour's alert picks them
KIND: dict[Metric, AlertKind] = {"cost_usd": "spike", "calls": "surge", "tokens": "spike"}


@dataclass
class _Metric:
    """One metric of one dimension, over the dimension's active hours."""

    test: SpikeTest
    tested: np.ndarray  # which active hours are tested (their p-values join the correction)
    discoveries: dict[int, float] = field(default_factory=dict)  # active hour -> q-value


@dataclass
class _Tests:
    """One dimension: each metric's test over the same active hours."""

    series: HourlySeries
    metrics: dict[str, _Metric]

    def observed(self, metric: str, hours: np.ndarray) -> np.ndarray:
        test = self.metrics["calls"].test
        return getattr(self.series, metric)[test.rows[hours], test.columns[hours]]


def hourly_alerts(all_series: Sequence[HourlySeries], settings: AlertSettings, since: datetime,
                  now: datetime) -> list[Alert]:
    """The spikes and surges in the hours that overlap [since, now)."""
    shared = _SharedResiduals()
    tests = [_test(series, settings, since, now, shared) for series in all_series]
    metrics = [metric for dimension in tests for metric in dimension.metrics.values()]
    level = settings.false_discovery_rate
    candidates = [np.nonzero(metric.tested & (metric.test.p_value <= level))[0] for metric in metrics]
    p_values = np.concatenate([metric.test.p_value[hours] for metric, hours in zip(metrics, candidates, strict=True)]
                              or [np.empty(0)])
    _, q_values = benjamini_hochberg(p_values, level, tests=sum(int(metric.tested.sum()) for metric in metrics))
    offset = 0
    for metric, hours in zip(metrics, candidates, strict=True):
        found = q_values[offset:offset + hours.size]
        metric.discoveries = dict(zip(hours[~np.isnan(found)].tolist(), found[~np.isnan(found)].tolist(), strict=True))
        offset += hours.size
    return _one_per_usage([found for dimension in tests for found in _alerts(dimension, settings, now)],
                          settings.dimensions)


class _SharedResiduals:
    """Per metric, the residuals (each entity's own part of a spike test) of every distinct
    series once: entities of several dimensions that made the very same calls (alice, her
    laptop, her key: equal digests) since the same first call have the same series."""

    def __init__(self) -> None:
        self._index: dict[str, dict[tuple[object, float], int]] = {}  # metric -> series -> its place
        self._parts: dict[str, list[Residuals]] = {}

    def of(self, series: HourlySeries, metric: str, values: np.ndarray, active: np.ndarray, history_from: np.ndarray,
           unit: np.ndarray) -> Residuals:
        if not series.entities:
            return residuals(values, active, history_from, unit)
        digests = series.calls_digest or [(series.dimension, entity) for entity in series.entities]
        keys = list(zip(digests, series.first_call.tolist(), strict=True))
        index, parts = self._index.setdefault(metric, {}), self._parts.setdefault(metric, [])
        new = list({key: row for row, key in enumerate(keys) if key not in index}.values())
        if new:
            rows = np.asarray(new) if len(new) < len(keys) else slice(None)
            parts.append(residuals(values[rows], active[rows], history_from[rows], unit[rows]))
            index.update({keys[row]: place for place, row in enumerate(new, start=len(index))})
            parts[:] = [Residuals.concatenate(parts)] if len(parts) > 1 else parts
        return parts[0].take(np.array([index[key] for key in keys], dtype=np.intp))


def _test(series: HourlySeries, settings: AlertSettings, since: datetime, now: datetime,
          shared: _SharedResiduals) -> _Tests:
    active = series.calls > 0
    start = series.start.timestamp()
    history_from = np.floor((series.first_call - start) / 3600).clip(-2**31, 2**31).astype(np.int64)
    judged_from = np.ceil((series.first_call + settings.min_history_days * 86400.0 - start) / 3600)
    judged_from = np.maximum(judged_from.clip(-2**31, 2**31), series.column(since)).astype(np.int64)
    calls = series.calls.sum(axis=1)
    tests = _Tests(series, {})
    for metric in METRICS:
        values = getattr(series, metric)
        if metric == "tokens" and not (active & (series.cost_usd == 0))[:, max(judged_from.min(initial=0), 0):].any():
            continue  # every hour that could be tested is priced: skip the work
        unit = np.ones(len(series.entities)) if metric == "calls" else values.sum(axis=1) / np.maximum(calls, 1)
        test = tail_test(shared.of(series, metric, values, active, history_from, unit))
        tested = test.columns >= judged_from[test.rows]
        if metric == "cost_usd":
            tested &= series.cost_usd[test.rows, test.columns] > 0
        elif metric == "tokens":
            tested &= (series.cost_usd[test.rows, test.columns] == 0) & (series.tokens[test.rows, test.columns] > 0)
        tests.metrics[metric] = _Metric(test, tested)
    return tests


def _alerts(tests: _Tests, settings: AlertSettings, now: datetime) -> list[tuple[Alert, bytes | None]]:
    """The alerts of one dimension, each with its entity's calls digest (if known)."""
    hours = np.array(sorted({hour for metric in tests.metrics.values() for hour in metric.discoveries}), dtype=np.intp)
    cost = tests.observed("cost_usd", hours)
    usual_cost = np.nan_to_num(tests.metrics["cost_usd"].test.usual[hours])
    excess = np.where(cost > 0, cost - usual_cost, 0.0)  # an unpriced hour's spend is unknown, not 0
    tenfold = cost >= CRITICAL_FACTOR * usual_cost
    alerts = []
    for at, hour in enumerate(hours.tolist()):
        found: list[Metric] = [name for name in METRICS
                               if name in tests.metrics and hour in tests.metrics[name].discoveries]
        raised: list[Metric] = [name for name in found if name != "cost_usd" or excess[at] >= settings.min_cost_usd]
        if raised:
            severity = _severity(raised[0], float(excess[at]), bool(tenfold[at]), settings)
            alert = _alert(tests, raised[0], hour, found, severity, float(cost[at]), now)
            digests = tests.series.calls_digest
            alerts.append((alert, digests[tests.metrics["calls"].test.rows[hour]] if digests else None))
    return alerts


def _alert(tests: _Tests, metric: Metric, hour: int, found: list[Metric], severity: Severity, cost: float,
           now: datetime) -> Alert:
    series, chosen = tests.series, tests.metrics[metric]
    entity = series.entities[chosen.test.rows[hour]]
    moment = series.hour(int(chosen.test.columns[hour]))
    observed = float(tests.observed(metric, np.array([hour]))[0])
    usual = float(str(chosen.test.usual[hour]))  # float32's shortest form: 0.15, not 0.15000000596
    details = {
        "weekday": f"{moment:%A}", "hour_utc": moment.hour, "weeks_of_history": int(chosen.test.weeks[hour]),
        "ratio": observed / usual if usual > 0 else None, "z": round(float(chosen.test.z[hour]), 2),
        "also_unusual": [name for name in found if name != metric],
    }
    if metric != "cost_usd":
        details["cost_usd"] = cost
    return Alert(
        kind=KIND[metric], severity=severity, dimension=series.dimension, entity=entity, metric=metric, ts=moment,
        message=spike_message(series.dimension, entity, metric, moment, observed, usual, now),
        statistic=observed, baseline=usual, p_value=float(chosen.test.p_value[hour]),
        q_value=chosen.discoveries[hour], details=details,
    )


def _severity(metric: Metric, cost_excess: float, tenfold: bool, settings: AlertSettings) -> Severity:
    if metric == "tokens":
        return "warning"  # unpriced: the spend cannot say how much it matters
    if cost_excess < settings.min_cost_usd:
        return "info"  # only a surge gets here: many calls, little money
    if cost_excess >= CRITICAL_FACTOR * settings.min_cost_usd and tenfold:
        return "critical"
    return "warning"


def _one_per_usage(alerts: list[tuple[Alert, bytes | None]], dimensions: Sequence[str]) -> list[Alert]:
    """Entities of several dimensions that made the very same calls (alice, her laptop, her
    key) raise one alert, the first dimension's in the settings, naming the others."""
    order = {dimension: position for position, dimension in enumerate(dimensions)}
    kept: dict[tuple, Alert] = {}
    alone = []
    for alert, digest in sorted(alerts, key=lambda found: order.get(found[0].dimension, len(order))):
        same = (alert.kind, alert.metric, alert.ts.astimezone(UTC), digest)
        if digest is None:
            alone.append(alert)
        elif same in kept:
            kept[same].details.setdefault("same_as", []).append(f"{alert.dimension}:{alert.entity}")
        else:
            kept[same] = alert
    return [*kept.values(), *alone]
