"""The gateway hook's cost: added latency per request inside LiteLLM, and memory with many users.

    uv run python bench/hook_bench.py [--users 100000] [--calls 20000]

A SQLite store holds one unmanaged call for each of `--users` people (in 1,000 teams, listed
in the policy) and 1,000 approved requests; the policy has a per-request cost ceiling and a
team budget, so every call is estimated and looked up. The hook's keeper loads the table
once (timed; its memory measured with tracemalloc: what the loaded table keeps, and the peak
while loading). Then LiteLLM's own pre-call step (`ProxyLogging.pre_call_hook`, what the proxy
awaits before every call) runs `--calls` times without offgate's hook and with it, alternating
in rounds of 1,000 in the same process, each call by a different person among the users, and
the hook's `async_pre_call_hook` alone as well. Goal: under 0.1 ms added at the median.
Results go to bench/results/hook-<time>.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm.proxy._types import UserAPIKeyAuth
from litellm.proxy.common_utils.user_api_key_cache import UserApiKeyCache
from litellm.proxy.utils import ProxyLogging

from governance.hook import GovernanceHook
from governance.keeper import TableKeeper
from governance.table import load_table
from offgate.config import Settings
from offgate.events import UsageEvent
from offgate.policy import PolicyRule, PolicySettings
from offgate.store import Store
from offgate.store.approvals import ApprovalStore, Hold

BENCH = Path(__file__).parent
TEAMS = 1_000
APPROVALS = 1_000
ROUND = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    users = [f"user{i:06d}" for i in range(args.users)]
    policy = PolicySettings(
        rules=(PolicyRule(name="big calls", action="require_approval", model=("gpt-4o*",), max_cost_per_request=1.0),
               PolicyRule(name="team budget", action="require_approval", team=("*",), monthly_budget_usd=1_000_000,
                          budget_for="team")),
        teams={f"team{t:04d}": tuple(users[t::TEAMS]) for t in range(TEAMS)}, refresh_s=3600, stale_after_s=7200)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'offgate.db'}"
        fill_store(url, users)
        settings = Settings(policy=policy)
        with Store.open(url) as store:
            load = measure_load(store, policy, len(users))
        keeper = TableKeeper(lambda: (settings, Path(folder)), store_url=url)
        keeper.start().wait(600)
        hook = GovernanceHook(keeper)
        latency = asyncio.run(measure_latency(hook, users, args.calls))
        keeper.stop()
    result = {"when": datetime.now(UTC).isoformat(), "python": sys.version.split()[0], "machine": platform.machine(),
              "litellm": litellm.__version__ if hasattr(litellm, "__version__") else None,
              "users": args.users, "teams": TEAMS, "approvals": APPROVALS, "calls": args.calls, **load, **latency}
    out = BENCH / "results" / f"hook-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        if isinstance(value, float):
            print(f"| {key} | {value:.4f} |")
    print(f"\n{out}")


def fill_store(url: str, users: list[str]) -> None:
    now = datetime.now(UTC)
    with Store.open(url) as store:
        batch = 5_000
        for start in range(0, len(users), batch):
            store.add([UsageEvent(ts=now - timedelta(minutes=1), host="api.openai.com", method="POST",
                                  path="/v1/chat/completions", provider="openai", model="gpt-4o", user=user,
                                  cost_usd=0.01) for user in users[start:start + batch]])
        holds = [Hold(rule="big calls", reason="bench", user=user, team=None, model="gpt-4o")
                 for user in users[:APPROVALS]]
        approvals = ApprovalStore(store)
        approvals.ask(holds, "bench")
        for hold in holds:
            approvals.approve(hold.request_id, "bench", timedelta(days=1), None)


def measure_load(store: Store, policy: PolicySettings, users: int) -> dict[str, float]:
    started = time.perf_counter()
    load_table(store, policy, time.monotonic())
    seconds = time.perf_counter() - started  # timed apart: tracemalloc slows Python down several times
    tracemalloc.start()
    table = load_table(store, policy, time.monotonic())
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(table.user_spend) == users and len(table.approvals) == min(users, APPROVALS)
    return {"load_s": seconds, "table_mb": kept / 1e6, "load_peak_mb": peak / 1e6}


async def measure_latency(hook: GovernanceHook, users: list[str], calls: int) -> dict[str, float]:
    proxy_logging = ProxyLogging(user_api_key_cache=UserApiKeyCache())
    key = UserAPIKeyAuth(user_id="default_user_id")
    without: list[float] = []
    with_hook: list[float] = []
    hook_alone: list[float] = []
    for number in range(calls // ROUND):
        people = users[(number * ROUND) % len(users):][:ROUND]
        for callbacks, times in (([], without), ([hook], with_hook)):
            litellm.callbacks = callbacks
            for user in people:
                data = {"model": "gpt-4o-mini", "user": user, "max_tokens": 256,
                        "messages": [{"role": "user", "content": f"Summarise the notes of {user}, please."}]}
                started = time.perf_counter()
                await proxy_logging.pre_call_hook(key, data, "acompletion")
                times.append(time.perf_counter() - started)
        litellm.callbacks = []
        for user in people:
            data = {"model": "gpt-4o-mini", "user": user, "max_tokens": 256,
                    "messages": [{"role": "user", "content": f"Summarise the notes of {user}, please."}]}
            started = time.perf_counter()
            await hook.async_pre_call_hook(key, None, data, "acompletion")
            hook_alone.append(time.perf_counter() - started)
    ms = 1000.0
    return {"pre_call_without_ms_median": statistics.median(without) * ms,
            "pre_call_with_hook_ms_median": statistics.median(with_hook) * ms,
            "added_ms_median": (statistics.median(with_hook) - statistics.median(without)) * ms,
            "pre_call_without_ms_p99": statistics.quantiles(without, n=100)[98] * ms,
            "pre_call_with_hook_ms_p99": statistics.quantiles(with_hook, n=100)[98] * ms,
            "hook_alone_ms_median": statistics.median(hook_alone) * ms,
            "hook_alone_ms_p99": statistics.quantiles(hook_alone, n=100)[98] * ms}


if __name__ == "__main__":
    main()
