"""Three-way reconciliation of a month of bills at scale: 1,000 keys x 50 models, daily
(1.5M bill lines), against 1M captured calls and 1M LiteLLM spend rows.

    uv run python bench/bill_bench.py [--keys 1000] [--models 50] [--days 30] [--calls 1000000] [--rows 1000000]

It writes the bill lines, calls and spend rows to a fresh SQLite store in bulk (rows as
offgate's tables hold them, their daily totals kept by the store's triggers; not timed), then,
in a process of its own, times the report's bill part (analytics.report.bill.bill_part: read
the lines and the calls' and spend rows' daily totals, reconcile, build the document) and
reports the child's peak RSS, its CPU time (which other processes' load distorts less than the
wall clock) and the SHA-256 of the bill part's JSON (unchanged by a change that must keep the
figures exact). The goal: under 10 s and 2 GB.

Ten keys are the gateway's (LiteLLM's spend goes to them); the calls use the other keys'
hints, so the captured side joins through hints as in real use.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from analytics.bill.gateway_keys import GatewayKey  # noqa: E402
from offgate.events import UsageEvent  # noqa: E402
from offgate.store import Store  # noqa: E402
from offgate.store.bill import BillLine  # noqa: E402
from offgate.store.schema import BillLineRow, SpendLogRow, UsageEventRow  # noqa: E402
from offgate.store.sql import insert_rows  # noqa: E402

START = date(2026, 10, 1)
GATEWAY_KEYS = 10
BATCH = 50_000
MB = 1024 * 1024
GOAL_SECONDS, GOAL_MB = 10.0, 2048


def hint(number: int) -> str:
    return f"sk-proj-{number:03d}...{number:04d}"


def model(number: int) -> str:
    return f"bench-model-{number:02d}"


def fill(url: str, keys: int, models: int, days: int, calls: int, rows: int) -> None:
    """The store as a month of imports and captures leaves it, written in bulk (not timed)."""
    rng = np.random.default_rng(7)
    now = datetime.now(UTC).replace(tzinfo=None)
    begin = datetime.combine(START, datetime.min.time())
    seconds = rng.integers(0, days * 86400, size=max(calls, rows))
    call_keys = rng.integers(GATEWAY_KEYS, keys, size=calls)
    call_models = rng.integers(0, models, size=calls)
    spend_models = rng.integers(0, models, size=rows)
    event = UsageEvent(ts=begin.replace(tzinfo=UTC), provider="openai", host="api.openai.com",
                       path="/v1/chat/completions", cost_usd=0.0001).model_dump()
    with Store.open(url) as store:
        database = store.database

        def bulk(model: type, generated: Iterator[dict[str, Any]]) -> None:
            while batch := list(itertools.islice(generated, BATCH)):
                with database.atomic():
                    insert_rows(database, model, batch)

        bulk(BillLineRow, ({**asdict(line), "id": line.id, "source": "openai", "imported_at": now}
                           for d in range(days) for k in range(keys) for m in range(models)
                           for line in (BillLine(provider="openai", day=START + timedelta(days=d), model=model(m),
                                                 key_id=f"key_{k}", key_hint=hint(k), account="proj",
                                                 input_tokens=1000, output_tokens=100, cost_usd=0.01),)))
        bulk(UsageEventRow, ({**event, "id": f"c{i}", "ts": begin + timedelta(seconds=int(seconds[i])),
                              "model": model(int(call_models[i])), "key_fingerprint": f"f{call_keys[i]}",
                              "key_hint": hint(int(call_keys[i]))} for i in range(calls)))
        bulk(SpendLogRow, ({"request_id": f"r{i}", "start_time": begin + timedelta(seconds=int(seconds[i])),
                            "spend": 0.0001, "prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11,
                            "model": model(int(spend_models[i])), "custom_llm_provider": "openai", "source": "file",
                            "raw_json": "{}", "imported_at": now} for i in range(rows)))


def measure(url: str, models: int, days: int) -> dict[str, float | str]:
    """In the child: the bill part of the report over the month, timed, and the peak RSS."""
    from analytics.report.bill import bill_part

    gateway = [GatewayKey("openai", frozenset(model(m) for m in range(models)), hint(k), f"g{k}")
               for k in range(GATEWAY_KEYS)]
    since = datetime.combine(START, datetime.min.time())
    until = since + timedelta(days=days) - timedelta(seconds=1)
    with Store.open(url) as store:
        started, cpu_started = time.perf_counter(), time.process_time()
        bill = bill_part(store, since, until, gateway)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    assert bill is not None
    # The figures' fingerprint: equal before and after a change that must not move them.
    sha256 = hashlib.sha256(bill.model_dump_json().encode()).hexdigest()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "sha256": sha256,
            "billed_usd": bill.billed_usd, "explained_by_gateway_usd": bill.explained_by_gateway_usd,
            "explained_by_agents_usd": bill.explained_by_agents_usd, "unexplained_usd": bill.unexplained_usd,
            "keys": len(bill.keys), "findings": len(bill.findings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.models, args.days)))
        return
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'offgate.db'}"
        started = time.perf_counter()
        fill(url, args.keys, args.models, args.days, args.calls, args.rows)
        filled = time.perf_counter() - started
        child = subprocess.run([sys.executable, __file__, "--child", url, "--models", str(args.models),
                                "--days", str(args.days)], capture_output=True, text=True, check=True)
    result = json.loads(child.stdout)
    lines = args.keys * args.models * args.days
    summary = {"machine": platform.platform(), "python": platform.python_version(), "bill_lines": lines,
               "calls": args.calls, "spend_rows": args.rows, "fill_seconds": filled, **result,
               "goal": {"seconds": GOAL_SECONDS, "peak_rss_mb": GOAL_MB}}
    out = BENCH / "results" / f"bill-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print("| bill lines | calls | spend rows | bill part (s) | CPU (s) | peak RSS (MB) | goal |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {lines:,} | {args.calls:,} | {args.rows:,} | {result['seconds']:.2f} | {result['cpu_seconds']:.2f} | "
          f"{result['peak_rss_mb']:.0f} | < {GOAL_SECONDS:.0f} s, < {GOAL_MB} MB |")
    print(f"figures' SHA-256: {result['sha256']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
