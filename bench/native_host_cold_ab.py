"""The native host's cold start, two or more source trees interleaved (issue 17: before and after).

    git archive <commit> native_host offgate browser_extension | tar -x -C /tmp/before
    uv run python bench/native_host_cold_ab.py 30 before=/tmp/before after=.

Each tree's host is started as the launcher starts it (`python -I`, its `native_host` first on
sys.path), sent a hello and a ChatGPT call at once, in a fresh home. Per start: the time to the
hello's reply and to the call's acknowledgement, the CPU the host used until that
acknowledgement (it is killed there and its usage read: what load distorts least, as the
machine is shared) and, in a second start, the CPU of the whole start to its exit. The trees
take turns in a rotating order; one round that compiles bytecode is left out.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fixture_files import load_fixture  # noqa: E402
from tests.support.native_host_process import (  # noqa: E402
    OUR_ORIGIN,
    call_message,
    children_cpu_s,
    frame,
    hello,
    read_reply,
)

FIXTURE = load_fixture("chatgpt/conversation_delta")
MEASURES = ("hello_ms", "ack_ms", "cpu_to_ack_ms", "cpu_whole_ms")


def start(tree: Path, home: str, whole: bool) -> dict[str, float]:
    """One cold start; `whole`: let it exit (CPU of the whole start), else kill it at the ack."""
    code = (f"import sys; sys.path.insert(0, {str(tree)!r}); import runpy; "
            "runpy.run_module('native_host', run_name='__main__', alter_sys=True)")
    cpu_before, started = children_cpu_s() * 1000, time.perf_counter()
    host = subprocess.Popen([sys.executable, "-I", "-c", code, "--home", home, OUR_ORIGIN],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert host.stdin is not None and host.stdout is not None
    host.stdin.write(frame(hello()) + frame(call_message(FIXTURE)))
    host.stdin.flush()
    read_reply(host.stdout)
    hello_ms = (time.perf_counter() - started) * 1000
    assert read_reply(host.stdout)["type"] == "ack"
    ack_ms = (time.perf_counter() - started) * 1000
    if whole:
        host.stdin.close()
    else:
        host.kill()
    host.wait(60)
    cpu = children_cpu_s() * 1000 - cpu_before
    return {"cpu_whole_ms": cpu} if whole else {"hello_ms": hello_ms, "ack_ms": ack_ms, "cpu_to_ack_ms": cpu}


def main() -> None:
    runs, trees = int(sys.argv[1]), dict(arg.split("=", 1) for arg in sys.argv[2:])
    names = list(trees)
    results: dict[str, dict[str, list[float]]] = {name: {m: [] for m in MEASURES} for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs + 1):
            for whole in (False, True):
                for name in names[run % len(names):] + names[:run % len(names)]:
                    measured = start(Path(trees[name]).resolve(), tempfile.mkdtemp(dir=tmp), whole)
                    if run:  # the first round compiles bytecode
                        for measure, value in measured.items():
                            results[name][measure].append(value)
    print(f"{runs} starts each, load average {os.getloadavg()[0]:.1f} at the end; medians, ms")
    print("| tree | " + " | ".join(MEASURES) + " |")
    print("|---|" + "---:|" * len(MEASURES))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{statistics.median(results[name][m]):.1f}" for m in MEASURES) + " |")


if __name__ == "__main__":
    main()
