"""Spike and surge alerts on synthetic usage with injected anomalies of known times and sizes.

    uv run python bench/alerts_bench.py [--entities 1000] [--timed 10000] [--days 90] [--no-store]

1,000 entities (users) over 90 days of hourly unmanaged usage, evaluated at the DEFAULT
AlertSettings over every hour (`find_alerts` with since = the first hour; each entity is
judged from `min_history_days` after its first call). Against the injected anomalies it
prints precision, recall and false alerts per entity per month, and the same for a peer
measured on the same data: a static threshold as gateways offer (an hour is an alert when
its spend is STATIC_FACTOR times the entity's mean hourly spend over the previous 14 days
and at least `min_cost_usd` above it).
Then it times the same evaluation for 10,000 entities (goal: under 5 s) and, separately,
reading the 1,000 entities' calls back from SQLite (`read_series`, every default dimension):
all 90 days, and what a default run reads (BASELINE_WEEKS weeks before its lookback window).

Usage (seeded, so every run sees the same data):
- 15% heavy users (15-60 calls in a peak hour), 55% regular (2-10), 30% sparse (0.05-0.6);
  working hours from 7:30-9:30 to 16:30-19:00 in a UTC offset of -8 to +2 h, a lunch dip,
  nights at 1-8% and weekends at 5-30% of the peak; each day's level varies (lognormal,
  sigma 0.35), each week's too (0.2), each hour's rate is gamma-mixed (alpha 0.1-0.6, so
  calls are overdispersed); call costs are lognormal (median $0.003-$0.08 per entity, sigma
  0.7-1.2), tokens follow the cost at a per-entity price; 5% of the entities make their
  first call during the first 60 days.
- Anomalies, 0.3 per entity over the 90 days, at any hour from 14 days after the entity's
  first call, lasting 1 (half), 2 or 3 hours, each hour carrying:
  60% spend spikes (a batch job): extra spend of A x the entity's expected busiest hour, but
  at least B, in a few big calls; 40% call surges (a script in a loop): A x the busiest
  hour's expected calls, but at least C, at a fifth of the usual call cost; A log-uniform
  in [10, 50], B uniform in [$2, $10], C uniform in [30, 100].

A true positive is an alert about the injected entity whose hour is one of the anomaly's
hours; an anomaly is found when at least one of its hours has an alert. Every other alert
is false. Alerts are counted as evaluate returns them (one per entity and hour, before the
store's cooldown folds neighbours together), so a false alert lasting three hours counts three.
Results go to bench/results/alerts-<time>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from analytics.alerts import find_alerts  # noqa: E402
from analytics.alerts.detectors import BASELINE_WEEKS  # noqa: E402
from analytics.alerts.series import HourlySeries, UsageSeries, read_series  # noqa: E402
from offgate.config import AlertSettings  # noqa: E402
from offgate.store import Store  # noqa: E402

START = datetime(2026, 8, 3, tzinfo=UTC)  # a Monday
STATIC_FACTOR = 10
STATIC_WINDOW_HOURS = 14 * 24
ANOMALIES_PER_ENTITY = 0.3
HOURS_PER_MONTH = 30 * 24
GOAL_SECONDS = 5.0
ENTITIES_PER_BLOCK = 1000  # generated at a time, to keep the per-call arrays small


@dataclass
class Usage:
    """Hourly usage of a population (entities x hours) and what generated it."""

    calls: np.ndarray
    cost: np.ndarray
    tokens: np.ndarray
    first_hour: np.ndarray  # per entity, the hour of its first call
    peak_calls: np.ndarray  # expected calls in the entity's busiest hour
    mean_call_cost: np.ndarray
    price: np.ndarray  # dollars per token


@dataclass
class Anomaly:
    entity: int
    first_hour: int
    hours: int
    kind: str  # "spike" or "surge"
    extra_cost: float  # per hour
    extra_calls: int  # per hour


def usage(entities: int, hours: int, seed: int) -> Usage:
    rng = np.random.default_rng(seed)
    blocks = [_usage_block(min(ENTITIES_PER_BLOCK, entities - first), hours, rng)
              for first in range(0, entities, ENTITIES_PER_BLOCK)]
    return Usage(*(np.concatenate([getattr(block, name) for block in blocks]) for name in Usage.__dataclass_fields__))


def _usage_block(entities: int, hours: int, rng: np.random.Generator) -> Usage:
    kind = rng.choice(3, size=entities, p=[0.15, 0.55, 0.30])  # heavy, regular, sparse
    peak = np.select([kind == 0, kind == 1], [rng.uniform(15, 60, entities), rng.uniform(2, 10, entities)],
                     rng.uniform(0.05, 0.6, entities))
    median_cost = np.exp(rng.uniform(np.log(0.003), np.log(0.08), entities))
    sigma = rng.uniform(0.7, 1.2, entities)
    alpha = rng.uniform(0.1, 0.6, entities)
    days = -(-hours // 24)
    level = (_weekly_shape(rng, entities, hours)
             * np.repeat(rng.lognormal(0, 0.35, (entities, days)), 24, axis=1)[:, :hours]
             * np.repeat(rng.lognormal(0, 0.2, (entities, days // 7 + 1)), 168, axis=1)[:, :hours])
    first_hour = np.where(rng.random(entities) < 0.05, rng.integers(0, 60 * 24, entities), 0)
    level[np.arange(hours) < first_hour[:, None]] = 0
    rate = peak[:, None] * level * rng.gamma(1 / alpha[:, None], alpha[:, None], size=(entities, hours))
    calls = rng.poisson(rate)
    cell = np.repeat(np.arange(calls.size), calls.ravel())
    row = cell // hours
    call_cost = rng.lognormal(np.log(median_cost)[row], sigma[row])
    cost = np.bincount(cell, weights=call_cost, minlength=calls.size).reshape(entities, hours)
    price = np.exp(rng.uniform(np.log(2e-7), np.log(1e-5), entities))
    tokens = np.round(cost / price[:, None] * rng.lognormal(0, 0.2, cost.shape))
    first_hour = np.array([np.flatnonzero(line)[0] if line.any() else hours for line in calls])
    return Usage(calls.astype(float), cost, tokens, first_hour, peak, median_cost * np.exp(sigma**2 / 2), price)


def _weekly_shape(rng: np.random.Generator, entities: int, hours: int) -> np.ndarray:
    offset = rng.integers(-8, 3, size=entities)[:, None]
    local = np.arange(hours)[None, :] + offset
    hour_of_day, weekday = local % 24, (local // 24) % 7  # START is a Monday
    begins, ends = rng.uniform(7.5, 9.5, (entities, 1)), rng.uniform(16.5, 19, (entities, 1))
    working = (hour_of_day >= begins) & (hour_of_day < ends)
    shape = np.where(working, 1.0, rng.uniform(0.01, 0.08, (entities, 1)))
    shape = np.where(hour_of_day == 12, shape * 0.6, shape)
    return np.where(weekday >= 5, shape * rng.uniform(0.05, 0.3, (entities, 1)), shape)


def inject(data: Usage, min_history_hours: int, seed: int) -> list[Anomaly]:
    rng = np.random.default_rng(seed)
    entities, hours = data.calls.shape
    anomalies = []
    for _ in range(round(ANOMALIES_PER_ENTITY * entities)):
        entity = int(rng.integers(entities))
        earliest = data.first_hour[entity] + min_history_hours
        if earliest >= hours - 3:
            continue
        first, length = int(rng.integers(earliest, hours - 3)), int(rng.choice([1, 1, 2, 3]))
        size = np.exp(rng.uniform(np.log(10), np.log(50)))
        if rng.random() < 0.6:
            extra_cost = max(size * data.peak_calls[entity] * data.mean_call_cost[entity], rng.uniform(2, 10))
            extra_calls = max(1, round(extra_cost / data.mean_call_cost[entity] / 3))
            kind = "spike"
        else:
            extra_calls = round(max(size * data.peak_calls[entity], rng.uniform(30, 100)))
            extra_cost = extra_calls * data.mean_call_cost[entity] / 5
            kind = "surge"
        span = slice(first, first + length)
        data.calls[entity, span] += extra_calls
        data.cost[entity, span] += extra_cost
        data.tokens[entity, span] += round(extra_cost / data.price[entity])
        anomalies.append(Anomaly(entity, first, length, kind, float(extra_cost), int(extra_calls)))
    return anomalies


def as_series(data: Usage) -> UsageSeries:
    entities, hours = data.calls.shape
    names = [f"user{entity:05d}" for entity in range(entities)]
    first_call = START.timestamp() + data.first_hour * 3600.0
    series = HourlySeries("user", names, START, data.cost, data.calls, data.tokens, first_call)
    end = START + timedelta(hours=hours)
    return UsageSeries(START, end, {"user": series}, [], float(first_call.min()))


def evaluate_all(data: Usage, settings: AlertSettings) -> tuple[list, float, float]:
    """The alerts over every hour, and the evaluation's wall and CPU seconds."""
    series = as_series(data)
    wall, cpu = time.perf_counter(), time.process_time()
    alerts = find_alerts(series, settings, series.end, series.start)
    return alerts, time.perf_counter() - wall, time.process_time() - cpu


def static_threshold(data: Usage, settings: AlertSettings) -> list[tuple[int, int]]:
    """(entity, hour) of every hour the static peer alerts on."""
    running = np.cumsum(np.pad(data.cost, ((0, 0), (1, 0))), axis=1)
    hours = np.arange(data.cost.shape[1])
    begin = np.maximum(hours - STATIC_WINDOW_HOURS, 0)
    mean = (running[:, hours] - running[:, begin]) / np.maximum(hours - begin, 1)
    flagged = (data.cost > STATIC_FACTOR * mean) & (data.cost - mean >= settings.min_cost_usd)
    judged = np.arange(data.calls.shape[1]) >= (data.first_hour + settings.min_history_days * 24)[:, None]
    return list(zip(*np.nonzero(flagged & judged), strict=True))


def score(alerted: list[tuple[int, int]], anomalies: list[Anomaly], data: Usage,
          settings: AlertSettings) -> dict[str, float]:
    hours_of = {}
    for number, anomaly in enumerate(anomalies):
        for hour in range(anomaly.first_hour, anomaly.first_hour + anomaly.hours):
            hours_of.setdefault((anomaly.entity, hour), set()).add(number)
    found: set[int] = set()
    true = 0
    for cell in alerted:
        if cell in hours_of:
            true += 1
            found |= hours_of[cell]
    judged_hours = np.clip(data.calls.shape[1] - data.first_hour - settings.min_history_days * 24, 0, None).sum()
    months = judged_hours / HOURS_PER_MONTH
    false = len(alerted) - true
    return {
        "alerts": len(alerted), "true": true, "false": false,
        "precision": true / len(alerted) if alerted else 1.0,
        "recall": len(found) / len(anomalies),
        "false_per_entity_month": false / months,
        "spike_recall": _share(found, anomalies, "spike"), "surge_recall": _share(found, anomalies, "surge"),
    }


def _share(found: set[int], anomalies: list[Anomaly], kind: str) -> float:
    of_kind = [number for number, anomaly in enumerate(anomalies) if anomaly.kind == kind]
    return len(found.intersection(of_kind)) / len(of_kind)


def alert_cells(alerts: list) -> list[tuple[int, int]]:
    return [(int(alert.entity.removeprefix("user")), int((alert.ts - START) / timedelta(hours=1)))
            for alert in alerts if alert.kind in ("spike", "surge")]


def store_read(data: Usage, settings: AlertSettings) -> dict[str, float]:
    """Write the population's calls to a SQLite store (one row per call, as offgate keeps
    them; written with plain SQL, setup only), then time reading them back as evaluate does."""
    entities, hours = data.calls.shape
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{home}/offgate.db"
        Store.open(url).close()
        wall = time.perf_counter()
        rows = _write_calls(Path(home) / "offgate.db", data)
        written = time.perf_counter() - wall
        end = START + timedelta(hours=hours)
        with Store.open(url) as store:
            wall, cpu = time.perf_counter(), time.process_time()
            read = read_series(store, settings.dimensions, START, end)
            read_wall, read_cpu = time.perf_counter() - wall, time.process_time() - cpu
            # What a default run reads: BASELINE_WEEKS before its lookback window.
            wall = time.perf_counter()
            read_series(store, settings.dimensions,
                        end - timedelta(hours=settings.lookback_hours, weeks=BASELINE_WEEKS), end)
            default_wall = time.perf_counter() - wall
    users = read.dimensions["user"]
    assert np.allclose(users.calls, data.calls[data.calls.sum(axis=1) > 0]), "the store gave other calls back"
    return {"calls": rows, "write_seconds": written, "read_seconds": read_wall, "read_cpu_seconds": read_cpu,
            "default_read_seconds": default_wall}


def _write_calls(path: Path, data: Usage) -> int:
    """One row per call, in time order as agents append them; each user on one laptop, key,
    app and provider. The hour's spend and tokens are shared evenly by its calls."""
    entities = data.calls.shape[0]
    names = {
        "user": [f"user{entity:05d}" for entity in range(entities)],
        "device": [f"laptop{entity:05d}" for entity in range(entities)],
        "key_fingerprint": [f"{entity + 0xABC000:012x}" for entity in range(entities)],
        "app": [("claude-code", "cursor", "chatgpt", "copilot")[entity % 4] for entity in range(entities)],
        "provider": [("anthropic", "openai", "google")[entity % 3] for entity in range(entities)],
    }
    entity, hour = np.nonzero(data.calls)
    counts = data.calls[entity, hour].astype(np.int64)
    cell = np.repeat(np.arange(entity.size), counts)
    second = np.random.default_rng(3).integers(0, 3600, cell.size)
    order = np.lexsort((second, hour[cell]))
    cell, second = cell[order], second[order]
    moments = np.datetime64(START.replace(tzinfo=None), "s") + (hour[cell] * 3600 + second).astype("timedelta64[s]")
    stamps = np.datetime_as_string(moments, unit="s").astype("S19")
    stamps.view(np.uint8).reshape(-1, 19)[:, 10] = ord(" ")  # the store writes "YYYY-MM-DD HH:MM:SS"
    callers = entity[cell].tolist()
    columns = [[f"{number:032x}" for number in range(cell.size)], stamps.astype("U19").tolist(),
               *([values[caller] for caller in callers] for values in names.values()),
               (data.tokens[entity, hour] // counts)[cell].tolist(), (data.cost[entity, hour] / counts)[cell].tolist()]
    connection = sqlite3.connect(path)
    indexes = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND tbl_name = 'usage_event' AND sql IS NOT NULL").fetchall()
    with connection:  # a bulk load: the indexes are built once, after it
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.executemany(
            "INSERT INTO usage_event (id, ts, user, device, key_fingerprint, app, provider, prompt_tokens, "
            "cost_usd, source, route, host, method, path, streamed, tokens_estimated, request_bytes, "
            "response_bytes, parse_status, completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'proxy', "
            "'direct', 'api.example.com', 'POST', '/v1/chat/completions', 0, 0, 0, 0, 'ok', 0)",
            zip(*columns, strict=True))
        for _, sql in indexes:
            connection.execute(sql)
    connection.close()
    return int(cell.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--timed", type=int, default=10000, help="entities in the timed evaluation")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--no-store", action="store_true", help="skip writing and reading the SQLite store")
    args = parser.parse_args()
    settings = AlertSettings()
    hours = args.days * 24

    data = usage(args.entities, hours, seed=1)
    anomalies = inject(data, settings.min_history_days * 24, seed=2)
    alerts, _, _ = evaluate_all(data, settings)
    ours = score(alert_cells(alerts), anomalies, data, settings)
    static = score(static_threshold(data, settings), anomalies, data, settings)
    severities = {level: sum(alert.severity == level for alert in alerts) for level in ("info", "warning", "critical")}

    timed_data = usage(args.timed, hours, seed=11)
    inject(timed_data, settings.min_history_days * 24, seed=12)
    _, timed_wall, timed_cpu = evaluate_all(timed_data, settings)
    stored = None if args.no_store else store_read(data, settings)

    results = {"entities": args.entities, "days": args.days, "anomalies": len(anomalies), "offgate": ours,
               "static": static, "severities": severities, "timed_entities": args.timed,
               "timed_wall_seconds": timed_wall, "timed_cpu_seconds": timed_cpu, "store": stored,
               "python": platform.python_version(), "machine": platform.processor() or platform.machine()}
    _print(results)
    out = BENCH / "results" / f"alerts-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


def _print(results: dict) -> None:
    ours, static = results["offgate"], results["static"]
    print(f"{results['entities']:,} entities x {results['days']} days, {results['anomalies']} injected anomalies, "
          f"default AlertSettings\n")
    print(f"| figure | offgate | static {STATIC_FACTOR}x mean | offgate / static |")
    print("|---|---|---|---|")
    for name, label in (("precision", "precision"), ("recall", "recall"), ("spike_recall", "recall, spend spikes"),
                        ("surge_recall", "recall, call surges"), ("alerts", "alerts"),
                        ("false", "false alerts"), ("false_per_entity_month", "false alerts per entity per month")):
        ratio = ours[name] / static[name] if static[name] else float("inf")
        print(f"| {label} | {ours[name]:.3g} | {static[name]:.3g} | {ratio:.2f} |")
    print(f"\noffgate alerts by severity: {results['severities']}")
    seconds = results["timed_wall_seconds"]
    missed = " ✗" if seconds > GOAL_SECONDS else ""
    print(f"evaluation of {results['timed_entities']:,} entities x {results['days']} days: {seconds:.2f} s wall, "
          f"{results['timed_cpu_seconds']:.2f} s CPU (goal {GOAL_SECONDS:.0f} s){missed}")
    if results["store"]:
        store = results["store"]
        print(f"store: {store['calls']:,} calls written in {store['write_seconds']:.1f} s; all {results['days']} days "
              f"read back as hourly series in {store['read_seconds']:.2f} s wall ({store['read_cpu_seconds']:.2f} s "
              f"CPU); a default run's read ({BASELINE_WEEKS} weeks and a day) in {store['default_read_seconds']:.2f} s")


if __name__ == "__main__":
    main()
