"""`offgate scan` over a home full of Claude Code session logs, against ccusage on the same data.

    uv run python bench/agent_logs_bench.py [--files 5000] [--megabytes 1024] [--ccusage PATH]

Generates (seeded) a user home with `--files` session files under ~/.claude/projects (20
projects) totalling about `--megabytes`: each reply is written as Claude Code writes it, one
line per content block carrying the message's usage (1-4 lines per call), with user turns
and tool results between them and text padding up to the size. Then, each in a fresh
process (so the memory is its own):
- offgate's first scan (every file read, every call stored in a fresh SQLite store);
- offgate's rescan with nothing new (goal: under 1 s and faster than ccusage's full read);
- a rescan after appending one call to 10 files;
- `ccusage claude daily --json --offline` (it reads everything every time), when given.
Each run includes its process's start (offgate's CLI: about 1.5 s of CPU). It prints a
markdown table (wall and CPU seconds, peak RSS) and writes bench/results/agent-logs-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-5-20251101")


def generate(home: Path, files: int, megabytes: int, seed: int = 7) -> tuple[int, int]:
    """Session files under `home`; returns (calls, bytes)."""
    rng = random.Random(seed)
    per_file = megabytes * 1024 * 1024 // files
    start = datetime(2026, 10, 1, tzinfo=UTC)
    calls = written = 0
    for index in range(files):
        project = home / ".claude" / "projects" / f"-home-user-src-project-{index % 20}"
        project.mkdir(parents=True, exist_ok=True)
        moment = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
        lines: list[str] = []
        size = 0
        while size < per_file:
            moment += timedelta(seconds=rng.randrange(5, 90))
            padding = "x" * rng.randrange(200, 1800)
            first_of_turn = len(lines)
            lines.append(json.dumps({"type": "user", "sessionId": f"s{index}", "timestamp": _ts(moment),
                                     "message": {"role": "user", "content": padding}}))
            calls += 1
            usage = {"input_tokens": rng.randrange(1, 500), "cache_creation_input_tokens": rng.randrange(0, 5000),
                     "cache_read_input_tokens": rng.randrange(0, 80000), "output_tokens": rng.randrange(1, 3000)}
            message = {"id": f"msg_{index:05d}_{calls:08d}", "type": "message", "role": "assistant",
                       "model": rng.choice(MODELS), "usage": usage}
            for block in range(rng.randrange(1, 5)):
                line = {"type": "assistant", "sessionId": f"s{index}", "version": "2.1.3",
                        "requestId": f"req_{index:05d}_{calls:08d}",
                        "timestamp": _ts(moment + timedelta(seconds=block)),
                        "message": {**message, "content": [{"type": "text", "text": padding[:400]}]}}
                lines.append(json.dumps(line))
            size += sum(len(line) + 1 for line in lines[first_of_turn:])
        (project / f"session-{index:05d}.jsonl").write_text("\n".join(lines) + "\n")
        written += size
    return calls, written


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def append_calls(home: Path, count: int) -> None:
    for index, path in enumerate(sorted((home / ".claude" / "projects").rglob("*.jsonl"))[:count]):
        line = {"type": "assistant", "sessionId": "new", "version": "2.1.3", "requestId": f"req_new_{index}",
                "timestamp": "2026-12-01T12:00:00Z",
                "message": {"id": f"msg_new_{index}", "model": MODELS[0],
                            "usage": {"input_tokens": 10, "output_tokens": 20}}}
        with open(path, "a") as file:
            file.write(json.dumps(line) + "\n")


def timed(command: list[str]) -> dict[str, float | str]:
    """Run `command`: its wall and CPU seconds (the machine may be shared), its own peak RSS
    (wait4 reports that child's alone) and its output's first line."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({child.returncode})")
    first = output.strip().splitlines()[0][:200] if output.strip() else ""
    return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "output": first}


def rescan_in_process(offgate_home: Path, user_home: Path) -> dict[str, float | str]:
    """The scan alone, as `offgate up` runs it every few minutes: no interpreter or CLI start."""
    from offgate.config import Settings, database_url_for, load_settings
    from offgate.fingerprint import load_salt
    from offgate.store import Store
    from workstation.agent_logs import scan_agent_logs
    from workstation.scan import ScanContext, run_scan

    settings: Settings = load_settings(offgate_home)
    with Store.open(database_url_for(settings, offgate_home)) as store:
        context = ScanContext(user_home=user_home, env={}, store=store, settings=settings, device="bench",
                              user="bench", now=datetime.now(UTC), salt=load_salt(offgate_home))
        started, cpu = time.perf_counter(), time.process_time()
        [result] = run_scan(context, [("agent-logs", scan_agent_logs)])
        return {"seconds": round(time.perf_counter() - started, 3), "cpu_seconds": round(time.process_time() - cpu, 3),
                "peak_rss_mb": "-", "output": f"read {result.read}, kept {result.kept}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=1024)
    parser.add_argument("--ccusage", help="path of a ccusage executable (npm install ccusage@20.0.24)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent-logs-bench-") as scratch:
        user_home, offgate_home = Path(scratch) / "user", Path(scratch) / "offgate"
        started = time.perf_counter()
        calls, size = generate(user_home, args.files, args.megabytes)
        print(f"generated {args.files} files, {size / 2**20:.0f} MB, {calls} calls in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        scan = [sys.executable, "-m", "offgate", "--home", str(offgate_home), "scan", "--user-home", str(user_home)]
        runs: dict[str, dict[str, float | str]] = {}

        def record(name: str, measured: dict[str, float | str]) -> None:
            runs[name] = measured
            print(f"{name}: {measured}", file=sys.stderr, flush=True)  # kept should a later run fail

        record("offgate first scan", timed(scan))
        record("offgate rescan, nothing new", timed(scan))
        append_calls(user_home, 10)
        record("offgate rescan, 10 files appended", timed(scan))
        record("offgate rescan in-process, nothing new (no CLI start)", rescan_in_process(offgate_home, user_home))
        if args.ccusage:
            record("ccusage claude daily (full read)", timed(
                ["env", "-i", f"HOME={user_home}", "TZ=UTC", args.ccusage, "claude", "daily", "--json", "--offline"]))
    print("| run | wall s | CPU s | peak RSS (MB) |\n|---|---:|---:|---:|")
    for name, run in runs.items():
        print(f"| {name} | {run['seconds']} | {run['cpu_seconds']} | {run['peak_rss_mb']} |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"agent-logs-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"files": args.files, "megabytes": round(size / 2**20), "calls": calls,
                               "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
