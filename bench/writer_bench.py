"""The writer's CPU per call, apart from the proxy: what the capture path pays in `put`
(the journal line, the queue) and what the writer's thread pays (the event, its price,
the store's duplicate check and insert, settling the journal).

    uv run python bench/writer_bench.py [--calls 10000] [--rate 1000]

Calls arrive in bursts at `rate` calls per second, as a busy proxy hands them over, into a
fresh SQLite store in a temporary home; each is a chat call that reported its usage (the
fixture shape of the proxy bench's small request). Both threads' CPU is read from the
kernel (per thread), divided by the calls; the store is counted at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from offgate.captured import CapturedCall
from offgate.catalog.base import Reading, Usage
from offgate.store import Store
from offgate.writer import EventWriter

BURST = 50  # calls handed over back to back, then a pause to keep `rate`


def call(index: int) -> CapturedCall:
    reading = Reading(model="gpt-4o-mini", response_id=f"chatcmpl-bench-{index}",
                      usage=Usage(prompt_tokens=9, completion_tokens=12))
    return CapturedCall(provider="openai", app=None, endpoint="chat", route="direct", usage="reported",
                        reading=reading, status_code=200,
                        facts={"source": "proxy", "host": "api.openai.com", "method": "POST",
                               "path": "/v1/chat/completions", "device": "bench", "ts": datetime.now(UTC),
                               "duration_ms": 4.0, "ttft_ms": 3.5, "request_bytes": 120, "response_bytes": 600})


def thread_cpu(native_id: int | None) -> float:
    thread = next(t for t in psutil.Process().threads() if t.id == native_id)
    return thread.user_time + thread.system_time


def main() -> None:
    parser = argparse.ArgumentParser(description="The writer's CPU per call, apart from the proxy.")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="calls per second handed to the writer")
    args = parser.parse_args()
    calls = [call(index) for index in range(args.calls)]
    with tempfile.TemporaryDirectory(prefix="offgate-writer-bench-") as tmp:
        home = Path(tmp)
        url = f"sqlite:///{home / 'offgate.db'}"
        Store.open(url).close()  # the schema, made before the clock starts
        writer = EventWriter(lambda: Store.open(url), home)
        writer.start()
        writer.put(call(-1))  # the first call loads the price map: not a per-call cost
        time.sleep(1)
        writer_before = thread_cpu(writer._thread.native_id)
        put_cpu = 0.0
        started = time.monotonic()
        for first in range(0, len(calls), BURST):
            cpu = time.thread_time()
            for item in calls[first:first + BURST]:
                writer.put(item)
            put_cpu += time.thread_time() - cpu
            time.sleep(max(0.0, started + (first + BURST) / args.rate - time.monotonic()))
        time.sleep(1)  # the writer stores the last batch
        writer_cpu = thread_cpu(writer._thread.native_id) - writer_before
        writer.close()
        with Store.open(url) as store:
            stored = store.count()
    print(f"{args.calls:,} calls at {args.rate:,.0f}/s; stored {stored - 1:,}")
    print(f"put (capture path's thread): {put_cpu / args.calls * 1e6:,.0f} µs CPU per call")
    print(f"writer thread:               {writer_cpu / args.calls * 1e6:,.0f} µs CPU per call")


if __name__ == "__main__":
    main()
