"""The central store at fleet scale: `offgate report` and the alert round over a month of a
simulated fleet in PostgreSQL.

    uv run python bench/fleet_scale_bench.py [--devices 0,100,1000,10000] [--calls-per-day 20,200] [--days 30]
    uv run python bench/fleet_scale_bench.py --url postgresql://USER@HOST:PORT/DATABASE [--days 30] [--report-only]

For each number of devices, a fresh database on a throw-away PostgreSQL (tests/support/postgres.py)
gets DEVICES x CALLS_PER_DAY x DAYS usage records, generated inside PostgreSQL (one INSERT ...
SELECT over generate_series: no row crosses from Python), as the collector stores them: each device
with its owner (one user per device), calls evenly spread over the days up to now (with the rollup
triggers off; the rollups are then built at once, as the migration builds them, and timed), 70% straight to
a provider (unmanaged), 30% through the gateway, four models at their usual prices. Then, timed as
a user runs them (their own processes, on OFFGATE_DATABASE_URL):

- `offgate report --by team`: the month per team (one person per device's user, in 100 teams), once
  from the first whole day (whole days come from the daily rollup, today's from the records) and
  once `--since 30d` (the first day's ragged part from the records too);
- `offgate alerts --json`: one alert round (every detector, its baseline weeks read back);
- one device's month, as `--device` filters will read it: a SQL aggregate for one device, with the
  (device, ts) index the store's migration adds and without it (dropped for the second timing).

With `--url URL`, the same timings (but the index's, which would drop it) on an existing database
instead, with no generation: the store's migrations apply when it is opened. `--report-only` times
the report alone (its two commands and in process), not the alert round.

Results: a markdown table on stdout and bench/results/fleet-scale-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from offgate.store import Store  # noqa: E402
from tests.support.postgres import fresh_database, postgres_server  # noqa: E402

GOAL_S = 10.0

# Four models with their providers, hosts and an average cost per call (USD): index = g % 4.
_GENERATE = """
INSERT INTO usage_event (id, ts, source, route, provider, endpoint, host, method, path, model, streamed,
                         status_code, prompt_tokens, completion_tokens, tokens_estimated, cost_usd,
                         duration_ms, request_bytes, response_bytes, process_name, "user", device, parse_status)
SELECT md5(g::text || %(seed)s),
       %(start)s::timestamp + make_interval(secs => (g / %(devices)s) * %(spacing)s + (g %% %(devices)s) %% 400),
       'proxy',
       CASE WHEN g %% 10 < 3 THEN 'gateway' ELSE 'direct' END,
       (ARRAY['openai', 'openai', 'anthropic', 'gemini'])[g %% 4 + 1],
       'chat',
       CASE WHEN g %% 10 < 3 THEN 'litellm.example.com'
            ELSE (ARRAY['api.openai.com', 'api.openai.com', 'api.anthropic.com',
                        'generativelanguage.googleapis.com'])[g %% 4 + 1] END,
       'POST', '/v1/chat/completions',
       (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash'])[g %% 4 + 1],
       g %% 2 = 0, 200, 200 + g %% 1800, 20 + g %% 400, false,
       (ARRAY[0.0004, 0.006, 0.009, 0.0008])[g %% 4 + 1] * (1 + (g %% 7) / 7.0),
       300 + g %% 4000, 1500 + g %% 9000, 900 + g %% 5000,
       (ARRAY['python3', 'node', 'cursor', 'curl'])[(g / 7) %% 4 + 1],
       'user-' || lpad((g %% %(devices)s)::text, 5, '0'),
       'device-' || lpad((g %% %(devices)s)::text, 5, '0'),
       'ok'
FROM generate_series(%(first)s, %(last)s) AS g
"""
GENERATE_CHUNK = 2_000_000  # rows per INSERT: one transaction each, so progress shows
TEAMS = 100
# One person per device's user, each in one of TEAMS teams: what `offgate people import` keeps.
_PEOPLE = """
INSERT INTO person (id, login, device, litellm_user_id, team, source, imported_at)
SELECT chr(31) || 'user-' || lpad(g::text, 5, '0'), 'user-' || lpad(g::text, 5, '0'), NULL,
       'person-' || lpad(g::text, 5, '0'), 'team-' || lpad((g %% %(teams)s)::text, 3, '0'), 'bench', now()
FROM generate_series(0, %(devices)s - 1) AS g
"""
ROLLUPS = ("usage_daily", "usage_hourly_unmanaged")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generate(url: str, devices: int, calls_per_day: int, days: int) -> tuple[int, float, float]:
    rows = devices * calls_per_day * days
    spacing = days * 86400 / (calls_per_day * days)  # seconds between one device's calls
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=days)
    began = time.perf_counter()
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        # The rollups are built once at the end, as the migration builds them for a store that has records.
        cursor.execute("ALTER TABLE usage_event DISABLE TRIGGER USER")
        for first in range(0, rows, GENERATE_CHUNK):
            cursor.execute(_GENERATE, {"seed": str(devices), "start": start, "devices": devices, "spacing": spacing,
                                       "first": first, "last": min(first + GENERATE_CHUNK, rows) - 1})
            connection.commit()
            log(f"  {min(first + GENERATE_CHUNK, rows):,} of {rows:,} rows")
        cursor.execute("ALTER TABLE usage_event ENABLE TRIGGER USER")
        cursor.execute(_PEOPLE, {"devices": devices, "teams": TEAMS})
    generated = time.perf_counter() - began
    _vacuum(url, "usage_event")
    log(f"  generated and analysed in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT usage_rollup_rebuild()")
    rollups = time.perf_counter() - began
    for table in ROLLUPS:
        _vacuum(url, table)
    log(f"  rollups built in {rollups:.0f} s")
    return rows, generated, rollups


def _vacuum(url: str, table: str) -> None:
    vacuum = psycopg2.connect(url)
    try:
        vacuum.autocommit = True  # VACUUM runs outside a transaction
        vacuum.cursor().execute(f"VACUUM ANALYZE {table}")
    finally:
        vacuum.close()


def timed_command(url: str, home: Path, *arguments: str) -> tuple[float, str]:
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("OFFGATE_")},
                   "OFFGATE_DATABASE_URL": url, "COLUMNS": "200"}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "offgate", "--home", str(home), *arguments], env=environment,
                          capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"offgate {' '.join(arguments)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def in_process(url: str, days: int, alerts: bool = True) -> tuple[float, float | None]:
    """`report --by team --since DAYS` and the alert round (unless not `alerts`) as a running
    process pays them (the watcher, the dashboard): imports and start-up already paid, which on
    the loaded machine cost most of a command's time."""
    from analytics.alerts.evaluate import evaluate
    from analytics.report.model import build_report
    from offgate.config import AlertSettings

    with Store.open(url) as store:
        now = datetime.now(UTC)
        began = time.perf_counter()
        build_report(store, now - timedelta(days=days), now, "team")
        report_s = time.perf_counter() - began
        if not alerts:
            return report_s, None
        began = time.perf_counter()
        evaluate(store, AlertSettings(), now)
        return report_s, time.perf_counter() - began


def one_device_month(url: str) -> float:
    query = ("SELECT model, count(*), sum(cost_usd) FROM usage_event WHERE device = 'device-00001' "
             "AND ts >= now() - interval '30 days' GROUP BY model")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(query)  # warm: the second run is what a dashboard's refresh sees
        began = time.perf_counter()
        cursor.execute(query)
        cursor.fetchall()
        return time.perf_counter() - began


def drop_device_index(url: str) -> None:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("DROP INDEX usage_event_device_ts")


def table_size(url: str, table: str) -> str:
    """The table's size with its indexes, and its rows."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{table}')), (SELECT count(*) FROM {table})")
        size, rows = cursor.fetchone() or ("?", 0)
        return f"{size} ({rows:,} rows)"


def measure(server: str, devices: int, calls_per_day: int, days: int, home: Path) -> dict[str, Any]:
    with fresh_database(server) as url:
        Store.open(url).close()  # every migration: the indexes are there before the rows
        log(f"{devices:,} devices: generating")
        rows, generate_s, rollups_s = generate(url, devices, calls_per_day, days)
        timings = time_commands(url, days, home)
        indexed_s = one_device_month(url)
        sizes = {table: table_size(url, table) for table in ("usage_event", *ROLLUPS)}
        drop_device_index(url)
        unindexed_s = one_device_month(url)
        log(f"  one device's month: {indexed_s * 1000:.1f} ms indexed, {unindexed_s * 1000:.0f} ms without")
    return {"devices": devices, "calls_per_day": calls_per_day, "rows": rows, "generate_s": generate_s,
            "rollups_s": rollups_s, "sizes": sizes, **timings, "one_device_indexed_s": indexed_s,
            "one_device_unindexed_s": unindexed_s}


def measure_existing(url: str, days: int, home: Path, alerts: bool = True) -> dict[str, Any]:
    """The timings on a database already filled (its migrations apply on the first open)."""
    log(f"{url}: migrating")
    began = time.perf_counter()
    Store.open(url).close()
    log(f"  migrations (if any) applied in {time.perf_counter() - began:.0f} s")
    timings = time_commands(url, days, home, alerts)
    sizes = {table: table_size(url, table) for table in ("usage_event", *ROLLUPS)}
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT device), sum(calls) FROM usage_daily")
        devices, rows = cursor.fetchone() or (0, 0)
    return {"devices": devices, "calls_per_day": round((rows or 0) / max(devices, 1) / days), "rows": int(rows or 0),
            "sizes": sizes, **timings}


def time_commands(url: str, days: int, home: Path, alerts: bool = True) -> dict[str, Any]:
    """`report --by team` (whole days, then `--since DAYS`), the alert round (unless not
    `alerts`), as commands and in process."""
    first_day = (datetime.now(UTC) - timedelta(days=days - 1)).date().isoformat()
    log(f"  offgate report --by team --since {first_day} (whole days but today's)")
    report_days_s, _ = timed_command(url, home, "report", "--by", "team", "--since", first_day)
    log(f"  report: {report_days_s:.1f} s; offgate report --by team --since {days}d (a ragged first day)")
    report_s, report = timed_command(url, home, "report", "--by", "team", "--since", f"{days}d", "--format", "json")
    log(f"  report: {report_s:.1f} s")
    found: dict[str, Any] = {"alerts_s": None, "alerts": None}
    if alerts:
        log("  offgate alerts")
        found["alerts_s"], raised = timed_command(url, home, "alerts", "--json")
        found["alerts"] = len(json.loads(raised))
        log(f"  alerts: {found['alerts_s']:.1f} s ({found['alerts']} alerts)")
    report_in_s, found["alerts_in_process_s"] = in_process(url, days, alerts)
    log(f"  in process: report {report_in_s:.1f} s" + (f", alert round {found['alerts_in_process_s']:.1f} s"
                                                        if alerts else ""))
    return {"report_days_s": report_days_s, "report_s": report_s, "report_in_process_s": report_in_s, **found,
            "captured_calls": json.loads(report)["totals"]["captured_calls"], "teams": len(json.loads(report)["rows"]),
            "load_average": os.getloadavg()}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["| devices x calls a day | records | generate / build rollups | usage_event | usage_daily "
             "| usage_hourly_unmanaged | `report --by team` (whole days / `--since 30d` / in process) "
             "| alert round (command / in process) "
             "| one device's month (index / none) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        sizes = result["sizes"]
        generated = (f"{result['generate_s']:.0f} s / {result['rollups_s']:.0f} s" if "generate_s" in result
                     else "(existing)")
        device_month = "-"
        if "one_device_indexed_s" in result:
            device_month = (f"{result['one_device_indexed_s'] * 1000:.1f} ms / "
                            f"{result['one_device_unindexed_s'] * 1000:.0f} ms")
        lines.append(f"| {result['devices']:,} x {result['calls_per_day']} | {result['rows']:,} | {generated} | "
                     f"{sizes['usage_event']} | {sizes['usage_daily']} | "
                     f"{sizes['usage_hourly_unmanaged']} | {result['report_days_s']:.1f} s / "
                     f"{result['report_s']:.1f} s / {result['report_in_process_s']:.1f} s | "
                     f"{_seconds(result['alerts_s'])} / {_seconds(result['alerts_in_process_s'])} | {device_month} |")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", default="0,100,1000,10000",
                        help="comma-separated fleet sizes (0: an empty store, what starting the commands costs)")
    parser.add_argument("--calls-per-day", default="200",
                        help="comma-separated: more calls a day on as many devices grow the records, not the rollups")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--url", help="time this existing PostgreSQL database instead (nothing generated or dropped)")
    parser.add_argument("--report-only", action="store_true", help="with --url: time the report, not the alert round")
    options = parser.parse_args()
    sizes = [int(size) for size in options.devices.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as home:
        if options.url:
            results.append(measure_existing(options.url, options.days, Path(home), not options.report_only))
        else:
            with postgres_server() as server:
                for devices in sizes:
                    for calls_per_day in (int(calls) for calls in options.calls_per_day.split(",")):
                        results.append(measure(server, devices, calls_per_day, options.days, Path(home)))
                    print(markdown(results[-1:]), flush=True)
    print(markdown(results))
    for result in results:
        slowest = max(result["report_days_s"], result["report_s"])
        print(f"{result['devices']:,} x {result['calls_per_day']}: `offgate report --by team` as a command "
              f"{'within' if slowest < GOAL_S else 'over'} the {GOAL_S:.0f} s goal (slowest {slowest:.1f} s, "
              f"load average {result['load_average'][0]:.1f})")
    out = BENCH / "results" / f"fleet-scale-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "goal_s": GOAL_S,
                               "load_before": os.getloadavg(), "results": results}, indent=1) + "\n")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
