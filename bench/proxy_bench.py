"""Proxy overhead: a direct connection, bare mitmdump and offgate, measured in one run.

    uv run python bench/proxy_bench.py [--quick] [--check]

A fake OpenAI endpoint (bench/fake_provider.py) and every proxy run as their own
processes on 127.0.0.1; this process is the client. The setups:

- direct:           http://127.0.0.1:FAKE, no proxy;
- mitmdump:         bare mitmdump, decrypting https://api.openai.com, map_remote to the fake;
- mitmdump+stream:  the same plus bench/stream_addon.py, one line that streams every
                    response: bare mitmdump buffers each response (SSE too) while offgate
                    streams them, so this is the like-for-like peer for streams and memory;
- offgate:          `offgate proxy` with the same options, recording to SQLite.

Work is interleaved across the setups (one request, one stream or one burst at a time,
rotating who goes first), so a busy moment on the machine hits all of them alike.
It prints a markdown table with offgate's ratios to its peers (issue 17's goals, as ratios
to mitmdump+stream; within 10% where it sets none), writes bench/results/proxy-<timestamp>.json,
and checks that offgate stored every call. With --check it also exits with status 2 when a ratio
misses its goal by more than the run's own noise: how far apart the two mitmdump setups landed
on that figure, or on the figure standing in for it where streaming sets them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import platform
import select
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import mitmproxy.version
import psutil

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the venv's mitmdump and offgate sit beside its python
MB = 1024 * 1024
PROXIED_URL = "https://api.openai.com/v1/chat/completions"
HEADERS = {"authorization": "Bearer sk-bench-0000000000000000", "content-type": "application/json"}
GOAL = 1.10  # offgate within 10% of its bare-mitmproxy peer, where issue 17 sets no goal of its own
PEER = "mitmdump+stream"  # the like-for-like peer the goals are ratios to
BIG_STREAMS_MB = (10, 100)  # the proxy's memory should not grow with the body's size
BIG_STREAM_REPEATS = 3
RUN_TIMEOUT = 1800.0
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 120.0


@dataclass(frozen=True)
class Plan:
    sequential: int  # small non-streaming requests, one after another
    streams: int  # SSE streams of `stream_chunks` events, one after another
    stream_chunks: int
    chunk_delay_ms: float  # pause between events, so each reaches the proxy as its own read
    throughput: int  # small requests from CONCURRENCY clients at once, in bursts of BURST


FULL = Plan(sequential=1000, streams=200, stream_chunks=50, chunk_delay_ms=1, throughput=4000)
QUICK = Plan(sequential=100, streams=30, stream_chunks=50, chunk_delay_ms=1, throughput=400)
CONCURRENCY = 16
BURST = 200  # requests per throughput slice; slices of all setups alternate


def _body(**fields: object) -> bytes:
    return json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}],
                       **fields}).encode()


SMALL_BODY = _body()
STREAM_OPTIONS = {"stream": True, "stream_options": {"include_usage": True}}


# -- figures -----------------------------------------------------------------------------

LOWER, HIGHER = "lower", "higher"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    better: str
    digits: int
    goal: float | None = None  # the largest offgate / PEER ratio allowed (for HIGHER: its inverse); None: no goal
    # The figure whose spread between the two mitmdump setups is this one's noise: on it
    # streaming makes no difference, so the two measure the same thing twice.
    noise_from: str | None = None


FIGURES = [
    Figure("latency_p50", "small request latency p50", "ms", LOWER, 2, GOAL, "latency_p50"),
    Figure("latency_p99", "small request latency p99", "ms", LOWER, 2),
    Figure("ttfc_p50", "stream time to first chunk p50", "ms", LOWER, 2, GOAL, "latency_p50"),
    Figure("ttfc_p99", "stream time to first chunk p99", "ms", LOWER, 2),
    Figure("stream_p50", "stream total time p50", "ms", LOWER, 1, GOAL, "latency_p50"),
    Figure("stream_p99", "stream total time p99", "ms", LOWER, 1),
    Figure("throughput", "throughput, 16 concurrent small requests", "req/s", HIGHER, 0, 1.03, "throughput"),
    Figure("cpu_per_request", "proxy CPU per small request", "µs", LOWER, 0, 1.03, "cpu_per_request"),
    Figure("off_loop_cpu_per_request", "of which off the event loop (writer, lookups)", "µs", LOWER, 0),
    Figure("stream_100mb_rate", "100 MB stream throughput (median of 3)", "MB/s", HIGHER, 0, 1 / 0.95, "throughput"),
    Figure("cpu_100mb", "proxy CPU per 100 MB stream (median of 3)", "s", LOWER, 2),
    Figure("idle_rss", "proxy RSS at idle after start", "MB", LOWER, 1, 1.10, "idle_rss"),
    Figure("load_peak_rss", "proxy peak RSS, small requests and streams", "MB", LOWER, 1),
    Figure("peak_10mb", "proxy peak RSS, 10 MB stream (worst of 3)", "MB", LOWER, 1, 1.10, "idle_rss"),
    Figure("peak_100mb", "proxy peak RSS, 100 MB stream (worst of 3)", "MB", LOWER, 1, 1.10, "idle_rss"),
]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# -- processes ---------------------------------------------------------------------------


# What both proxies import at start, compiled once before they start (see child_env).
PRIME_IMPORTS = "import mitmproxy.tools.main, interceptor.runner, offgate.cli"


def child_env(pycache: Path) -> dict[str, str]:
    """The environment minus anything that would redirect offgate's store or the clients.

    Bytecode is cached under `pycache` even where PYTHONDONTWRITEBYTECODE is set: an
    installed package has its .pyc files, and compiling every module at start leaves
    megabytes of compiler garbage in the idle RSS."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OFFGATE_") and not k.lower().endswith("_proxy")
           and k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(pycache)}


class Children:
    """Child processes, each in its own session; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.env = child_env(logs / "pycache")
        self.procs: dict[str, subprocess.Popen] = {}

    def prime(self) -> None:
        """Compile what the proxies import, so they start from cached bytecode."""
        subprocess.run([sys.executable, "-c", PRIME_IMPORTS], env=self.env, check=True, timeout=START_TIMEOUT)

    def start(self, name: str, argv: list[str], pipe_stdout: bool = False) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE if pipe_stdout else log, stderr=log,
                                stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 30.0) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log_tails(self, lines: int = 20) -> str:
        """The end of every child's log, to show why a run failed."""
        return "\n".join(f"--- {path.stem} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                         for path in sorted(self.logs.glob("*.log")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT:.0f} s")


def start_fake(children: Children) -> int:
    proc = children.start("fake", [sys.executable, str(BENCH / "fake_provider.py"),
                                   "--lifetime", str(RUN_TIMEOUT + 2 * START_TIMEOUT)], pipe_stdout=True)
    assert proc.stdout is not None  # started with pipe_stdout
    ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("port "):
        raise RuntimeError(f"the fake provider did not start: {line!r}")
    return int(line.split()[1])


def proxy_commands(fake_port: int, tmp: Path) -> dict[str, tuple[list[str], Path]]:
    """Per proxied setup: its command line and the CA certificate the client trusts."""
    common = ["--set", "connection_strategy=lazy",
              "--set", rf"map_remote=|^https://api\.openai\.com/|http://127.0.0.1:{fake_port}/"]
    # mitmdump prints every flow unless flow_detail=0; offgate runs without that printer.
    mitmdump = [str(BIN / "mitmdump"), "--listen-host", "127.0.0.1", "--set", "flow_detail=0", *common]
    bare, streaming, home = tmp / "mitmdump", tmp / "mitmdump-stream", tmp / "offgate-home"
    return {
        "mitmdump": ([*mitmdump, "--set", f"confdir={bare}"], bare / "mitmproxy-ca-cert.pem"),
        "mitmdump+stream": ([*mitmdump, "--set", f"confdir={streaming}", "-s", str(BENCH / "stream_addon.py")],
                            streaming / "mitmproxy-ca-cert.pem"),
        "offgate": ([str(BIN / "offgate"), "--home", str(home), "proxy", "--listen-host", "127.0.0.1", *common],
                    home / "ca" / "mitmproxy-ca-cert.pem"),
    }


# -- setups and their clients ------------------------------------------------------------


@dataclass
class Setup:
    name: str
    url: str
    client: httpx.AsyncClient
    process: psutil.Process | None = None  # the proxy; None for the direct connection
    calls: int = 0
    samples: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    figures: dict[str, float] = field(default_factory=dict)


def make_client(proxy: str | None = None, ca: Path | None = None) -> httpx.AsyncClient:
    pool = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    verify = ssl.create_default_context(cafile=str(ca)) if ca else True
    return httpx.AsyncClient(proxy=proxy, verify=verify, limits=pool, trust_env=False,
                             headers=HEADERS, timeout=REQUEST_TIMEOUT)


def start_setups(children: Children, tmp: Path) -> list[Setup]:
    children.prime()
    fake_port = start_fake(children)
    setups = [Setup("direct", f"http://127.0.0.1:{fake_port}/v1/chat/completions", make_client())]
    started = []
    for name, (argv, ca) in proxy_commands(fake_port, tmp).items():
        port = free_port()
        started.append((name, port, ca, children.start(name, [*argv, "--listen-port", str(port)])))
    for name, port, ca, proc in started:
        wait_for_port(port, proc, name)
        client = make_client(f"http://127.0.0.1:{port}", ca)
        setups.append(Setup(name, PROXIED_URL, client, psutil.Process(proc.pid)))
    return setups


# -- workloads ---------------------------------------------------------------------------


async def small_request(setup: Setup) -> float:
    started = time.perf_counter()
    response = await setup.client.post(setup.url, content=SMALL_BODY)
    response.raise_for_status()
    setup.calls += 1
    return time.perf_counter() - started


async def stream(setup: Setup, body: bytes, headers: dict[str, str]) -> tuple[float, float, int]:
    """Time to the first body bytes, total time and bytes received."""
    started = time.perf_counter()
    first, size = 0.0, 0
    async with setup.client.stream("POST", setup.url, content=body, headers=headers) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            first = first or time.perf_counter() - started
            size += len(chunk)
    setup.calls += 1
    return first, time.perf_counter() - started, size


async def sequential(setup: Setup, count: int) -> None:
    for _ in range(count):
        setup.samples["latency"].append(await small_request(setup))


async def streams(setup: Setup, count: int, plan: Plan) -> None:
    body = _body(max_tokens=plan.stream_chunks, **STREAM_OPTIONS)
    headers = {"x-bench-chunk-delay-ms": str(plan.chunk_delay_ms)}
    for _ in range(count):
        first, total, _ = await stream(setup, body, headers)
        setup.samples["ttfc"].append(first)
        setup.samples["stream"].append(total)


async def burst(setup: Setup, count: int) -> None:
    """`count` small requests from CONCURRENCY clients sharing one work queue."""
    work = iter(range(count))

    async def client() -> None:
        for _ in work:
            await small_request(setup)

    process = setup.process
    cpu = process_cpu(process) if process else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    setup.samples["burst_rate"].append(count / (time.perf_counter() - started))
    if process:
        setup.samples["burst_cpu"].append((process_cpu(process) - cpu) / count)


def process_cpu(process: psutil.Process) -> float:
    """CPU-seconds the process has used so far, user and system."""
    times = process.cpu_times()
    return times.user + times.system


def off_loop_cpu(process: psutil.Process) -> float:
    """CPU-seconds of the proxy's threads but its main one, the event loop's: in offgate the
    writer (events, prices, the store) and the process lookups; in mitmdump next to nothing."""
    return sum(t.user_time + t.system_time for t in process.threads() if t.id != process.pid)


async def warm_up(setup: Setup, plan: Plan) -> None:
    """TLS sessions, mitmproxy's certificate for api.openai.com and a full keep-alive pool."""
    await sequential(setup, 10)
    await burst(setup, CONCURRENCY * 4)
    await streams(setup, 2, plan)
    setup.samples.clear()


async def interleaved(setups: list[Setup], rounds: int, work: Callable[[Setup], Awaitable[None]]) -> None:
    """Run `work(setup)` for every setup, `rounds` times, rotating who goes first."""
    for index in range(rounds):
        shift = index % len(setups)
        for setup in setups[shift:] + setups[:shift]:
            await work(setup)


# -- memory (Linux: the kernel's own peak RSS, reset per phase) ---------------------------


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / MB


def reset_peak(process: psutil.Process) -> None:
    # "5" resets VmHWM to the current RSS; the kernel then keeps the phase's peak, which
    # polling could miss between two samples.
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")


def peak_mb(process: psutil.Process) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


async def big_stream(setup: Setup, megabytes: int) -> None:
    """One stream of `megabytes`: its rate, and the proxy's peak RSS meanwhile."""
    process = setup.process
    cpu = process_cpu(process) if process else 0.0
    if process:
        reset_peak(process)
    _, seconds, size = await stream(setup, _body(**STREAM_OPTIONS), {"x-bench-stream-bytes": str(megabytes * MB)})
    if size < megabytes * MB * 0.95:
        raise RuntimeError(f"{setup.name}: the {megabytes} MB stream brought only {size} bytes")
    setup.samples[f"rate_{megabytes}mb"].append(megabytes / seconds)
    if process:
        setup.samples[f"peak_{megabytes}mb"].append(peak_mb(process))
        # The proxy's own CPU-seconds: unlike the rate, other programs' load hardly moves it.
        setup.samples[f"cpu_{megabytes}mb"].append(process_cpu(process) - cpu)


# -- the run -----------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def measure(setups: list[Setup], plan: Plan) -> None:
    proxied = [(s, s.process) for s in setups if s.process]
    await asyncio.sleep(1)  # let the proxies finish starting before the idle reading
    for setup, process in proxied:
        setup.figures["idle_rss"] = rss_mb(process)
    log("warming up")
    for setup in setups:
        await warm_up(setup, plan)
    for _, process in proxied:
        reset_peak(process)
    log(f"sequential small requests: {plan.sequential} per setup")
    await interleaved(setups, plan.sequential, lambda s: sequential(s, 1))
    log(f"streams: {plan.streams} per setup")
    await interleaved(setups, plan.streams, lambda s: streams(s, 1, plan))
    log(f"throughput: {plan.throughput} requests per setup, {CONCURRENCY} concurrent")
    off_loop = {setup.name: off_loop_cpu(process) for setup, process in proxied}
    await interleaved(setups, plan.throughput // BURST, lambda s: burst(s, BURST))
    await asyncio.sleep(1)  # the writer stores what it holds (it wakes every 0.2 s)
    for setup, process in proxied:  # over the whole phase, not a median of bursts
        spent = off_loop_cpu(process) - off_loop[setup.name]
        setup.figures["off_loop_cpu_per_request"] = spent / plan.throughput * 1e6
        setup.figures["load_peak_rss"] = peak_mb(process)
    for megabytes in BIG_STREAMS_MB:
        log(f"{BIG_STREAM_REPEATS} streams of {megabytes} MB per setup")
        await interleaved(setups, BIG_STREAM_REPEATS, functools.partial(big_stream, megabytes=megabytes))


def summarise(setup: Setup) -> None:
    for key in ("latency", "ttfc", "stream"):
        ms = [seconds * 1000 for seconds in setup.samples[key]]
        setup.figures[f"{key}_p50"] = percentile(ms, 50)
        setup.figures[f"{key}_p99"] = percentile(ms, 99)
    # Medians over the bursts: one burst slowed by another program on the machine counts once.
    setup.figures["throughput"] = statistics.median(setup.samples["burst_rate"])
    setup.figures["stream_100mb_rate"] = statistics.median(setup.samples["rate_100mb"])
    if setup.process:
        setup.figures["cpu_per_request"] = statistics.median(setup.samples["burst_cpu"]) * 1e6
        setup.figures["cpu_100mb"] = statistics.median(setup.samples["cpu_100mb"])
        for megabytes in BIG_STREAMS_MB:  # the worst of the repeats
            setup.figures[f"peak_{megabytes}mb"] = max(setup.samples[f"peak_{megabytes}mb"])


def recorded_calls(home: Path) -> dict[str, int]:
    """Rows offgate stored, by parse status (read after it stopped and flushed)."""
    database = home / "offgate.db"
    if not database.exists():
        return {}
    with contextlib.closing(sqlite3.connect(database)) as db:
        return dict(db.execute("SELECT parse_status, COUNT(*) FROM usage_event GROUP BY parse_status"))


# -- the report --------------------------------------------------------------------------

RATIOS = [("offgate", "mitmdump"), ("offgate", "mitmdump+stream"), ("mitmdump", "direct")]


def ratio(figures: dict[str, dict[str, float]], top: str, bottom: str, key: str) -> float | None:
    a, b = figures[top].get(key), figures[bottom].get(key)
    return a / b if a is not None and b else None


def misses_goal(figure: Figure, value: float, noise: float = 0.0) -> bool:
    """Whether the offgate / PEER ratio `value` misses the figure's goal by more than `noise`
    (a fraction: 0.05 lets the ratio be 5% worse than the goal)."""
    if figure.goal is None:
        return False
    if figure.better == LOWER:
        return value > figure.goal * (1 + noise)
    return value < 1 / figure.goal / (1 + noise)


def noise(figures: dict[str, dict[str, float]], figure: Figure) -> float:
    """The run's own noise on `figure`: how far apart the two mitmdump setups landed."""
    spread = ratio(figures, "mitmdump", PEER, figure.noise_from) if figure.noise_from else None
    return 0.0 if spread is None else abs(spread - 1)


def missed_goals(figures: dict[str, dict[str, float]]) -> list[str]:
    """One line per figure whose offgate / PEER ratio misses its goal by more than the noise."""
    missed = []
    for figure in FIGURES:
        value, margin = ratio(figures, "offgate", PEER, figure.key), noise(figures, figure)
        if value is not None and misses_goal(figure, value, margin):
            bound = figure.goal if figure.better == LOWER else 1 / (figure.goal or 1)
            missed.append(f"{figure.label}: offgate / {PEER} {value:.2f}, goal {'≤' if figure.better == LOWER else '≥'}"
                          f" {bound:.2f}, noise {margin:.0%}")
    return missed


def markdown_table(figures: dict[str, dict[str, float]]) -> str:
    names = list(figures)
    header = ["figure", "unit", *names, *(f"{t} / {b}" for t, b in RATIOS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for figure in FIGURES:
        cells = [figure.label, figure.unit]
        for name in names:
            value = figures[name].get(figure.key)
            cells.append("n/a" if value is None else f"{value:,.{figure.digits}f}")
        for top, bottom in RATIOS:
            value = ratio(figures, top, bottom, figure.key)
            missed = value is not None and (top, bottom) == ("offgate", PEER) and misses_goal(figure, value)
            mark = " ✗" if missed else ""
            cells.append("—" if value is None else f"{value:.2f}{mark}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "python": platform.python_version(), "mitmproxy": mitmproxy.version.VERSION}


def write_results(plan: Plan, setups: list[Setup], recorded: dict[str, int], table: str,
                  other_load: float) -> Path:
    out = BENCH / "results" / f"proxy-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    figures = {s.name: s.figures for s in setups}
    doc = {
        "plan": asdict(plan), "machine": machine(), "other_programs_cpus": other_load, "figures": figures,
        "ratios": {f"{t}/{b}": {f.key: ratio(figures, t, b, f.key) for f in FIGURES} for t, b in RATIOS},
        "calls_sent": {s.name: s.calls for s in setups}, "offgate_recorded": recorded,
        "markdown": table,
    }
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return out


def cpu_seconds() -> tuple[float, float]:
    """Busy CPU-seconds so far: of the whole machine, and of this process and its children."""
    machine = psutil.cpu_times()
    ours = [psutil.Process(), *psutil.Process().children(recursive=True)]
    return (machine.user + machine.nice + machine.system + machine.irq + machine.softirq,
            sum(p.cpu_times().user + p.cpu_times().system for p in ours))


async def run(plan: Plan, children: Children, tmp: Path) -> tuple[list[Setup], float]:
    """The setups with their samples, and how many CPUs other programs kept busy meanwhile."""
    setups = start_setups(children, tmp)
    try:
        machine_before, ours_before = cpu_seconds()
        started = time.monotonic()
        async with asyncio.timeout(RUN_TIMEOUT):
            await measure(setups, plan)
        machine_after, ours_after = cpu_seconds()
    finally:
        for setup in setups:
            await setup.client.aclose()
    others = (machine_after - machine_before) - (ours_after - ours_before)
    return setups, max(0.0, others) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description="Proxy overhead: direct, bare mitmdump and offgate.")
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke run of about 30 s")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 2 when a ratio misses issue 17's goal by more than the run's noise")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="offgate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        children = Children(tmp)
        try:
            setups, other_load = asyncio.run(run(plan, children, tmp))
            children.stop("offgate")  # SIGTERM: offgate writes every queued call before exiting
            recorded = recorded_calls(tmp / "offgate-home")
        except BaseException:
            log(children.log_tails())
            raise
        finally:
            children.stop_all()
    for setup in setups:
        summarise(setup)
    table = markdown_table({s.name: s.figures for s in setups})
    out = write_results(plan, setups, recorded, table, other_load)
    sent = next(s.calls for s in setups if s.name == "offgate")
    print(table)
    print(f"\n✗ = offgate misses its goal (issue 17: the ratio to {PEER}; {GOAL - 1:.0%} where it sets none).")
    print(f"Other programs kept {other_load:.2f} of the {os.cpu_count()} CPUs busy meanwhile (noise in every figure).")
    print(f"Results: {out.relative_to(BENCH.parent)}")
    print(f"offgate recorded {sum(recorded.values())} of the {sent} calls sent through it: {recorded}")
    if sum(recorded.values()) != sent:
        return 1
    missed = missed_goals({s.name: s.figures for s in setups}) if args.check else []
    for line in missed:
        print(f"MISSED {line}")
    return 2 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
