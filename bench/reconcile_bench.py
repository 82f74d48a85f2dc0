"""Reconciliation at scale: n captured calls against n LiteLLM spend rows, n = 10k, 100k, 1M.

    uv run python bench/reconcile_bench.py [--sizes 10000 100000 1000000] [--store 100000 1000000]

Each size runs in a child process of its own, on synthetic columns shaped exactly as
the store reads them, and times `analytics.reconcile.decide` (classification, pairing,
findings: everything but the store). Then it runs again under tracemalloc for the peak of
what the algorithm allocates, and reports the child's peak RSS (input data included). The
goal: 1M x 1M in under 10 s and 2 GB, time growing no faster than n log n.

The calls arrive at a steady one per second (1M calls span 11.6 days): the candidate pairs
per call depend on how many look-alike calls share a tolerance window, not on n. The mix:
  60% gateway calls whose response id is their row's request_id,  5% with only the
  LiteLLM call id, 20% without ids (a quarter with estimated tokens, off by up to 10%;
  a tenth in bursts of 20 look-alike calls within 2 s), 5% gateway calls LiteLLM never
  logged, 10% direct calls; plus rows no call made (15% of the rows).
The ground truth is known, so the run also reports how many pairs came out right.

`--store N` measures the store round trip for that size as well: writing the calls and rows
to SQLite as offgate does (Store.add, SpendLog.add), then, in a process of its own,
`offgate reconcile` over the store (read the columns, decide, write results and findings).
Results go to bench/results/reconcile-<timestamp>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from analytics.reconcile import decide, reconcile  # noqa: E402
from offgate.config import ReconcileSettings  # noqa: E402

MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini", "claude-sonnet-4", "claude-3-5-haiku",
          "gemini-2.5-flash"]
MODEL_WEIGHTS = np.array([30, 15, 10, 10, 8, 12, 8, 7], dtype=float) / 100
START = datetime(2026, 1, 1, tzinfo=UTC)
MB = 1024 * 1024
GOAL_SECONDS, GOAL_MB = 10.0, 2048


def synthetic(n: int, seed: int = 7) -> tuple[dict[str, list], dict[str, list], dict[str, str]]:
    """(call columns, spend columns, truth: call id -> request_id it should pair with)."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(6, size=n, p=[0.60, 0.05, 0.20, 0.00, 0.05, 0.10])  # 3: bursts, placed below
    fuzzy = np.nonzero(kind == 2)[0]
    kind[fuzzy[: len(fuzzy) // 10]] = 3
    ts = START.timestamp() + np.sort(rng.uniform(0, n, size=n))  # one call per second
    model = rng.choice(len(MODELS), size=n, p=MODEL_WEIGHTS)
    prompt = np.exp(rng.uniform(np.log(10), np.log(20000), size=n)).astype(np.int64)
    completion = np.exp(rng.uniform(np.log(5), np.log(2000), size=n)).astype(np.int64)
    burst = np.nonzero(kind == 3)[0]  # groups of 20 alike calls within 2 s: same model and prompt
    for first in range(0, len(burst) - 20, 20):
        members = burst[first:first + 20]
        ts[members] = ts[members[0]] + np.sort(rng.uniform(0, 2, size=20))
        model[members], prompt[members] = model[members[0]], prompt[members[0]]
    estimated = (kind == 2) & (rng.random(n) < 0.25)

    logged = np.isin(kind, (0, 1, 2, 3))
    row_ts = ts[logged] + rng.uniform(0.005, 0.3, size=int(logged.sum()))
    row_prompt, row_completion = prompt[logged].copy(), completion[logged].copy()
    noise = 1 + rng.uniform(-0.1, 0.1, size=n)  # what an estimate is off by
    call_prompt = np.where(estimated, (prompt * noise).astype(np.int64), prompt)
    extra = n - int(logged.sum())  # rows no agent saw
    all_row_ts = np.concatenate([row_ts, START.timestamp() + rng.uniform(0, n, size=extra)])
    all_row_model = np.concatenate([model[logged], rng.choice(len(MODELS), size=extra, p=MODEL_WEIGHTS)])
    all_row_prompt = np.concatenate([row_prompt, np.exp(rng.uniform(np.log(10), np.log(20000), size=extra))
                                     .astype(np.int64)])
    all_row_completion = np.concatenate([row_completion, rng.integers(5, 2000, size=extra)])
    order = np.argsort(all_row_ts, kind="stable")

    request_ids = [f"chatcmpl-{i:08d}" for i in range(n)]
    call_ids = [f"call-{i:08d}" for i in range(n)]
    logged_index = np.nonzero(logged)[0].tolist()
    row_of = dict(zip(logged_index, range(len(logged_index)), strict=True))
    kinds = kind.tolist()
    calls = {
        "id": [f"event-{i:08d}" for i in range(n)],
        "ts": ts.tolist(),
        "route": ["direct" if k == 5 else "gateway" for k in kinds],
        "host": ["api.openai.com" if k == 5 else "litellm.example.com" for k in kinds],
        "model": [MODELS[m] + ("-2024-07-18" if m == 0 else "") for m in model.tolist()],
        "prompt_tokens": call_prompt.tolist(),
        "completion_tokens": completion.tolist(),
        "tokens_estimated": estimated.tolist(),
        "cost_usd": (prompt * 2.5e-6 + completion * 1e-5).tolist(),
        "response_id": [request_ids[row_of[i]] if k == 0 else (f"chatcmpl-x{i}" if k == 5 else None)
                        for i, k in enumerate(kinds)],
        "litellm_call_id": [call_ids[row_of[i]] if k == 1 else None for i, k in enumerate(kinds)],
        "process_name": ["python3"] * n,
        "status_code": [200] * n,
    }
    rows = order.tolist()
    row_models = all_row_model.tolist()
    spend = {
        "request_id": [request_ids[j] for j in rows],
        "litellm_call_id": [call_ids[j] for j in rows],
        "start": all_row_ts[order].tolist(),
        "model": [f"openai/{MODELS[row_models[j]]}" for j in rows],
        "model_group": [MODELS[row_models[j]] for j in rows],
        "api_base": ["https://api.openai.com/v1"] * n,
        "prompt_tokens": all_row_prompt[order].tolist(),
        "completion_tokens": all_row_completion[order].tolist(),
        "spend": (all_row_prompt[order] * 2.5e-6 + all_row_completion[order] * 1e-5).tolist(),
        "status": ["success"] * n,
    }
    truth = {calls["id"][i]: request_ids[row_of[i]] for i in logged_index}
    return calls, spend, truth


def measure(n: int) -> dict:
    """One size, in this process: time, memory, and how right the pairs are."""
    calls, spend, truth = synthetic(n)
    settings = ReconcileSettings()
    until = START + timedelta(seconds=n + 3600)
    started = time.perf_counter()
    decision = decide(calls, spend, {}, settings, None, until)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    tracemalloc.reset_peak()
    decide(calls, spend, {}, settings, None, until)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    row = decision.classified.row
    paired = {calls["id"][i]: spend["request_id"][j] for i, j in enumerate(row.tolist()) if j >= 0}
    right = sum(paired.get(call) == request for call, request in truth.items())
    kinds: dict[str, int] = {}
    for finding in decision.findings:
        kinds[finding["kind"]] = kinds.get(finding["kind"], 0) + 1
    return {"n": n, "seconds": seconds, "traced_peak_mb": traced_peak / MB,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "pairs": len(paired), "right": right, "truth": len(truth),
            "wrong": sum(paired[call] != truth.get(call) for call in paired), "findings": kinds}


def write_store(n: int, database: str) -> dict:
    """Store the calls and rows of one size in a SQLite store, the way offgate writes them."""
    from offgate.events import UsageEvent
    from offgate.store import Store
    from offgate.store.spend import SpendLog, SpendRecord

    calls, spend, _ = synthetic(n)
    started = time.perf_counter()
    with Store.open(f"sqlite:///{database}") as store:
        for begin in range(0, n, 50_000):
            store.add([UsageEvent(id=calls["id"][i], ts=datetime.fromtimestamp(calls["ts"][i], UTC),
                                  route=calls["route"][i], host=calls["host"][i], path="/v1/chat/completions",
                                  model=calls["model"][i], prompt_tokens=calls["prompt_tokens"][i],
                                  completion_tokens=calls["completion_tokens"][i],
                                  tokens_estimated=calls["tokens_estimated"][i], cost_usd=calls["cost_usd"][i],
                                  response_id=calls["response_id"][i], litellm_call_id=calls["litellm_call_id"][i],
                                  process_name="python3", status_code=200)
                       for i in range(begin, min(begin + 50_000, n))])
        spend_log = SpendLog(store)
        for begin in range(0, n, 50_000):
            spend_log.add([SpendRecord(request_id=spend["request_id"][j],
                                       start_time=datetime.fromtimestamp(spend["start"][j], UTC).replace(tzinfo=None),
                                       spend=spend["spend"][j], prompt_tokens=spend["prompt_tokens"][j],
                                       completion_tokens=spend["completion_tokens"][j], total_tokens=0, raw={},
                                       litellm_call_id=spend["litellm_call_id"][j], model=spend["model"][j],
                                       model_group=spend["model_group"][j], api_base=spend["api_base"][j],
                                       status="success")
                           for j in range(begin, min(begin + 50_000, n))], "file")
    return {"n": n, "write_seconds": time.perf_counter() - started}


def reconcile_store(n: int, database: str) -> dict:
    """`offgate reconcile` over a whole store, in a process that holds nothing else."""
    from offgate.store import Store

    with Store.open(f"sqlite:///{database}") as store:
        started = time.perf_counter()
        summary = reconcile(store, ReconcileSettings(), since=None, now=START + timedelta(seconds=n + 3600))
        seconds = time.perf_counter() - started
    return {"n": n, "reconcile_seconds": seconds, "calls": summary.calls,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--store", type=int, nargs="*", default=[], help="sizes to run through the store too")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:  # one measurement in a fresh process: "decide:N", "write:N:DB" or "reconcile:N:DB"
        what, size, *database = arguments.child.split(":")
        measured = {"decide": measure, "write": write_store, "reconcile": reconcile_store}[what](int(size), *database)
        print(json.dumps(measured))
        return

    results = [_child(f"decide:{n}") for n in arguments.sizes]
    base = results[0]
    print("| calls x rows | time (s) | traced peak (MB) | peak RSS (MB) | time / (n log n), vs first | pairs right |")
    print("|---|---|---|---|---|---|")
    for result in results:
        growth = (result["seconds"] / _n_log_n(result["n"])) / (base["seconds"] / _n_log_n(base["n"]))
        result["n_log_n_ratio"] = growth
        print(f"| {result['n']:,} x {result['n']:,} | {result['seconds']:.2f} | {result['traced_peak_mb']:.0f} "
              f"| {result['peak_rss_mb']:.0f} | {growth:.2f} | {result['right']:,} of {result['truth']:,} "
              f"({result['wrong']} wrong) |")
    stored = []
    for n in arguments.store:
        with tempfile.TemporaryDirectory() as directory:
            database = f"{directory}/offgate.db"
            stored.append({**_child(f"write:{n}:{database}"), **_child(f"reconcile:{n}:{database}")})
    for result in stored:
        print(f"store round trip, {result['n']:,} calls and rows: write {result['write_seconds']:.1f} s, "
              f"reconcile (read, decide, write) {result['reconcile_seconds']:.1f} s, "
              f"peak RSS {result['peak_rss_mb']:.0f} MB")
    largest = results[-1]
    verdict = largest["seconds"] < GOAL_SECONDS and largest["peak_rss_mb"] < GOAL_MB
    print(f"goal (1M x 1M under {GOAL_SECONDS:.0f} s and {GOAL_MB} MB): {'met' if verdict else 'NOT met'} "
          f"at {largest['n']:,}")
    out = BENCH / "results" / f"reconcile-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "decide": results, "store": stored}, indent=1))
    print(f"wrote {out}")


def _child(what: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", what], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def _n_log_n(n: int) -> float:
    return n * math.log(n)


if __name__ == "__main__":
    main()
