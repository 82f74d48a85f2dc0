"""The fleet's ingest: records per second into PostgreSQL through one and two collectors,
against PostgreSQL's own COPY of the same rows; and what pushing costs an agent.

    uv run python bench/fleet_ingest_bench.py [--records 200000] [--devices 16] [--quick]

A throw-away PostgreSQL (tests/support/postgres.py: fsync and synchronous commit off, as for every
run here, the COPY ceiling included) gets `--records` synthetic usage records shaped like
the proxy's, split over `--devices` enrolled devices. Each device pushes its share as the
agent does: gzip-compressed batches of 1,000 (fleet/pusher.py's batch), one at a time, so
the client keeps `--devices` requests in flight. The setups, each on an emptied table:

- copy:         `COPY usage_event FROM STDIN` of the same rows, pre-rendered as COPY text, in
                one statement (the ceiling: what a bulk load costs with the house's invariants,
                into the same table with the same indexes, the rollup triggers adding the rows
                to usage_daily and usage_hourly_unmanaged as for the collector's inserts; but
                no HTTP, no JSON, no validation, no duplicate check, one trigger run in all);
- copy x2:      two COPY streams at once, on half the rows each;
- 1 collector:  one `offgate serve` process;
- 2 collectors: two, each taking half the devices (the machine has 2 cores, shared with
                PostgreSQL and this client).

The goal: ingest at least half of COPY's rate, and 10,000 records/s. `--repeat N` runs the
setups N times over, each row with the load average when it started. Beside the rates, the
CPU each setup cost per record, of the collectors and of the PostgreSQL server's processes
(read from /proc through psutil): on a machine others share, the rate depends on what they
run, the CPU per record much less. Then the agent side:
an `offgate proxy` (its own process) records calls to a fake provider (bench/fake_provider.py),
its CPU time is read, and the same records are pushed from that home (Pusher.push_once, in
this process): CPU seconds per 1,000 records pushed, and the push's CPU as a share of the
proxy's for the same calls (goal: under 2%). A larger synthetic outbox gives the steady
per-record push cost. Results: a markdown table on stdout and bench/results/fleet-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg2
from aiohttp import ClientSession, ClientTimeout

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from fleet.enrolment import Enrolment, save_enrolment  # noqa: E402
from fleet.ingest import COLUMNS  # noqa: E402
from fleet.outbox import Outbox  # noqa: E402
from fleet.pusher import GZIP_LEVEL, PUSH_BATCH_RECORDS, Pusher  # noqa: E402
from fleet.registry import Registry  # noqa: E402
from fleet.wire import HEALTH_PATH, INGEST_PATH, EnrollRequest  # noqa: E402
from offgate.events import UsageEvent  # noqa: E402
from offgate.store import Store  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.postgres import postgres_server  # noqa: E402

GOAL_SHARE_OF_COPY = 0.5
GOAL_RECORDS_PER_S = 10_000
GOAL_PUSH_SHARE = 0.02
START_TIMEOUT_S = 60
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash")
PROVIDERS = ("openai", "openai", "anthropic", "gemini")
HOSTS = ("api.openai.com", "api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def synthetic_records(count: int, device: str) -> list[dict[str, Any]]:
    """Records as the proxy writes them: every usual field set, ids unique."""
    start = datetime.now(UTC) - timedelta(days=7)
    records = []
    for index in range(count):
        kind = index % 4
        event = UsageEvent(
            ts=start + timedelta(seconds=index * 3.7), source="proxy", route="direct", provider=PROVIDERS[kind],
            endpoint="chat.completions", host=HOSTS[kind], path="/v1/chat/completions", model=MODELS[kind],
            streamed=index % 3 == 0, status_code=200, prompt_tokens=400 + index % 900,
            completion_tokens=50 + index % 300, cached_tokens=index % 5 * 64 or None,
            cost_usd=0.0004 + index % 97 * 1e-5,
            duration_ms=800 + index % 700, ttft_ms=200 + index % 300, request_bytes=2_000 + index % 5_000,
            response_bytes=1_000 + index % 4_000, response_id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            process_name="python3", pid=4000 + index % 50, exe="/usr/bin/python3.12", user=f"user{index % 3}",
            device=device, key_fingerprint=f"{index % 7:012x}")
        records.append(event.model_dump(mode="json"))
    return records


@dataclass
class Device:
    name: str
    credential: str
    outbox: str
    bodies: list[bytes]


def enrol_devices(store: Store, records_per_device: int, count: int) -> list[Device]:
    registry = Registry(store)
    token = registry.create_token(None, None, "bench")
    devices = []
    for number in range(count):
        name = f"bench-{number:02d}"
        answer = registry.enroll(EnrollRequest(token=token.secret, device_name=name, agent_version="bench"))
        records = synthetic_records(records_per_device, name)
        outbox = uuid.uuid4().hex
        bodies = []
        for first in range(0, len(records), PUSH_BATCH_RECORDS):
            chunk = records[first:first + PUSH_BATCH_RECORDS]
            seqs = list(range(first + 1, first + len(chunk) + 1))
            payload = {"outbox": outbox, "records": chunk, "record_seqs": seqs,
                       "deletions": [], "agent": {"version": "bench", "running": {"proxy": True, "native_host": False},
                                                  "last_records": {"proxy": None, "extension": None},
                                                  "pending": len(records) - first - len(chunk)}}
            bodies.append(gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), GZIP_LEVEL))
        devices.append(Device(answer.device_name, answer.credential, outbox, bodies))
    return devices


def copy_text(devices: list[Device]) -> list[bytes]:
    """Each device's rows as COPY text, the way the collector would store them."""
    texts = []
    for device in devices:
        out = io.StringIO()
        for body in device.bodies:
            for record in json.loads(gzip.decompress(body))["records"]:
                event = UsageEvent.model_validate(record)
                values = [getattr(event, column) for column in COLUMNS]
                values[COLUMNS.index("ts")] = event.ts.replace(tzinfo=None)
                out.write("\t".join(_copy_value(value) for value in values) + "\n")
        texts.append(out.getvalue().encode())
    return texts


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def reset(url: str) -> None:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("TRUNCATE usage_event")
        cursor.execute("UPDATE fleet_device SET outbox = NULL, acked_through = 0, records_stored = 0")
    connection.close()
    connection = psycopg2.connect(url)
    connection.autocommit = True
    connection.cursor().execute("VACUUM ANALYZE usage_event")
    connection.close()


def count_rows(url: str) -> int:
    """The records stored, once the rollups are checked to count each of them once."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM usage_event), (SELECT COALESCE(sum(calls), 0) FROM usage_daily)")
        count, rolled_up = cursor.fetchone()  # type: ignore[misc]  # one row, always
    connection.close()
    if rolled_up != count:
        raise SystemExit(f"usage_daily counts {rolled_up} calls of {count} records stored")
    return count


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy so far (every process, ours or not)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def copy_rows(url: str, text: bytes) -> None:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.copy_expert(f"COPY usage_event ({', '.join(f'"{c}"' for c in COLUMNS)}) FROM STDIN", io.BytesIO(text))
    connection.close()


async def copy_streams(url: str, texts: list[bytes]) -> None:
    await asyncio.gather(*(asyncio.to_thread(copy_rows, url, text) for text in texts))


def start_collectors(url: str, count: int, home: Path) -> tuple[list[subprocess.Popen[bytes]], list[str]]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OFFGATE_")}
    environment["OFFGATE_DATABASE_URL"] = url
    processes, urls = [], []
    for number in range(count):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "offgate", "--home", str(home / f"collector-{number}"), "serve",
             "--listen-port", str(port)], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + START_TIMEOUT_S
    for base in urls:
        while True:
            try:
                if httpx.get(base + HEALTH_PATH, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the collector at {base} did not start")
            time.sleep(0.1)
    return processes, urls


async def push_all(devices: list[Device], urls: list[str]) -> None:
    async with ClientSession(timeout=ClientTimeout(total=120)) as session:
        async def device_pushes(number: int, device: Device) -> None:
            base = urls[number % len(urls)]
            headers = {"Authorization": f"Bearer {device.credential}", "Content-Type": "application/json",
                       "Content-Encoding": "gzip"}
            for body in device.bodies:
                async with session.post(base + INGEST_PATH, data=body, headers=headers) as response:
                    if response.status != 200:
                        raise SystemExit(f"the collector refused a batch: {response.status} {await response.text()}")
                    await response.read()

        await asyncio.gather(*(device_pushes(number, device) for number, device in enumerate(devices)))


def postgres_cpu(url: str) -> float:
    """CPU seconds of the server at `url` so far: the postmaster, its live backends, and the
    ones that ended (counted into the postmaster's children's times once it reaped them). The
    live backends are read before the postmaster, and read again after: a backend reaped in
    between would be counted twice (once if read the other way round, when it was reaped after
    the listing: the COPY's own backend, say), so then it is all read again."""
    port = str(urlsplit(url).port)
    postmaster = next((process for process in psutil.process_iter(["name", "cmdline"])
                       if process.info["name"] == "postgres" and port in (process.info["cmdline"] or [])), None)
    if postmaster is None:
        raise SystemExit(f"no PostgreSQL server process listens on port {port}")
    for _ in range(100):
        try:
            children = postmaster.children()
            total = 0.0
            for child in children:
                if child.status() == psutil.STATUS_ZOMBIE:  # ended, not reaped yet: wait for its reaping
                    raise psutil.ZombieProcess(child.pid)
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
            times = postmaster.cpu_times()
            if {child.pid for child in children} - {child.pid for child in postmaster.children()}:
                raise psutil.NoSuchProcess(0)  # one was reaped meanwhile
        except psutil.NoSuchProcess:  # ended meanwhile (ZombieProcess is one): read again once reaped
            time.sleep(0.02)
            continue
        return total + times.user + times.system + times.children_user + times.children_system
    raise SystemExit("the PostgreSQL server did not reap its ended backends in 2 s")


def process_cpu(processes: list[subprocess.Popen[bytes]]) -> float:
    total = 0.0
    for process in processes:
        times = psutil.Process(process.pid).cpu_times()
        total += times.user + times.system
    return total


def measure_ingest(url: str, devices: list[Device], collectors: int, home: Path, total: int) -> dict[str, float]:
    reset(url)
    processes, urls = start_collectors(url, collectors, home)
    try:
        load = os.getloadavg()[0]
        cpu_before, busy_before, server_before = process_cpu(processes), machine_busy(), postgres_cpu(url)
        started = time.perf_counter()
        asyncio.run(push_all(devices, urls))
        elapsed = time.perf_counter() - started
        cpu, busy = process_cpu(processes) - cpu_before, machine_busy() - busy_before
        server = postgres_cpu(url) - server_before
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
    stored = count_rows(url)
    if stored != total:
        raise SystemExit(f"{collectors} collector(s) stored {stored} of {total} records")
    return {"records_per_s": total / elapsed, "seconds": elapsed, "collector_cpu_s": cpu, "postgres_cpu_s": server,
            "machine_cores_busy": busy / elapsed, "load_average": load}


def measure_copy(url: str, texts: list[bytes], streams: int, total: int) -> dict[str, float]:
    reset(url)
    blob = b"".join(texts)
    lines = blob.splitlines(keepends=True)
    share = -(-len(lines) // streams)
    parts = [b"".join(lines[index:index + share]) for index in range(0, len(lines), share)]
    load, busy_before, server_before = os.getloadavg()[0], machine_busy(), postgres_cpu(url)
    started = time.perf_counter()
    asyncio.run(copy_streams(url, parts))
    elapsed = time.perf_counter() - started
    busy, server = machine_busy() - busy_before, postgres_cpu(url) - server_before
    if count_rows(url) != total:
        raise SystemExit("COPY stored a different number of rows")
    return {"records_per_s": total / elapsed, "seconds": elapsed, "postgres_cpu_s": server,
            "machine_cores_busy": busy / elapsed, "load_average": load}


# -- the agent's side ------------------------------------------------------------------------


def agent_push_cost(url: str, tmp: Path, calls: int, outbox_records: int) -> dict[str, float]:
    """The proxy's CPU for `calls` real calls, and that of `offgate push` (its own process,
    pushing every 10 s as `offgate up` does) over the same time, until the collector has
    them all; then the push's steady cost on a larger synthetic outbox."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OFFGATE_")}
    home = tmp / "agent"
    home.mkdir()
    collector, urls = start_collectors(url, 1, tmp / "agent-collector")
    fake = subprocess.Popen([sys.executable, str(BENCH / "fake_provider.py")], stdout=subprocess.PIPE, text=True,
                            env=environment)
    children: list[subprocess.Popen[Any]] = [*collector, fake]
    try:
        fake_port = int(fake.stdout.readline().split()[1])  # type: ignore[union-attr]
        store_url = f"sqlite:///{home / 'offgate.db'}"
        enrol(url, home, urls[0], store_url)
        pusher = subprocess.Popen([sys.executable, "-m", "offgate", "--home", str(home), "push"],
                                  env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proxy_port = free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "offgate", "--home", str(home), "proxy", "--listen-port", str(proxy_port),
             "--set", "connection_strategy=lazy", "--set",
             f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{fake_port}/"],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children += [pusher, proxy]
        wait_until(lambda: central_count(url, home.name) is not None, "the first push (a heartbeat)")
        push_before = cpu_of(pusher)
        proxy_cpu = drive_proxy(home, proxy, proxy_port, calls)
        with Store.open(store_url) as store:
            recorded = store.count()
        wait_until(lambda: central_count(url, home.name) == recorded, "the collector to have every call")
        push_cpu = cpu_of(pusher) - push_before
        synthetic = tmp / "synthetic"
        synthetic.mkdir()
        synthetic_url = f"sqlite:///{synthetic / 'offgate.db'}"
        with Store.open(synthetic_url) as store:
            store.add([UsageEvent.model_validate(record) for record in synthetic_records(outbox_records, "synthetic")])
        enrol(url, synthetic, urls[0], synthetic_url)
        steady = timed_push(synthetic, synthetic_url)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(60)
    return {
        "calls": calls, "recorded": recorded, "proxy_cpu_s": proxy_cpu, "push_cpu_s": push_cpu,
        "push_share_of_proxy_cpu": push_cpu / proxy_cpu, "push_cpu_s_per_1000": push_cpu / recorded * 1000,
        "steady_records": outbox_records, "steady_push_cpu_s_per_1000": steady["cpu_s"] / outbox_records * 1000,
        "steady_push_records_per_s": outbox_records / steady["seconds"],
    }


def cpu_of(process: subprocess.Popen[Any]) -> float:
    times = psutil.Process(process.pid).cpu_times()
    return times.user + times.system


def central_count(url: str, device: str) -> int | None:
    """How many records the central store has from `device`; None before its first push."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT last_seen_at, records_stored FROM fleet_device WHERE name = %s", (device,))
        row = cursor.fetchone()
    connection.close()
    return None if row is None or row[0] is None else row[1]


def wait_until(done: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.2)


def drive_proxy(home: Path, proxy: subprocess.Popen[bytes], port: int, calls: int) -> float:
    ca = home / "ca" / "mitmproxy-ca-cert.pem"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ca.exists() or not _listening(port):
        if time.monotonic() > deadline or proxy.poll() is not None:
            raise SystemExit("the proxy did not start")
        time.sleep(0.1)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=str(ca), timeout=30) as client:
        client.post("https://api.openai.com/v1/chat/completions", json=body).raise_for_status()  # warm
        before = psutil.Process(proxy.pid).cpu_times()
        for _ in range(calls):
            client.post("https://api.openai.com/v1/chat/completions", json=body,
                        headers={"authorization": "Bearer sk-bench"}).raise_for_status()
        time.sleep(1.0)  # the writer's last batch
        after = psutil.Process(proxy.pid).cpu_times()
    return after.user + after.system - before.user - before.system


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def enrol(url: str, home: Path, collector: str, store_url: str) -> None:
    with Store.open(url) as central:
        registry = Registry(central)
        token = registry.create_token(None, 1)
        answer = registry.enroll(EnrollRequest(token=token.secret, device_name=home.name, agent_version="bench"))
    with Store.open(store_url) as store:
        Outbox(store).start()
    save_enrolment(home, Enrolment(collector=collector, device_id=answer.device_id, device_name=answer.device_name,
                                   credential=answer.credential, enrolled_at=datetime.now(UTC)))


def timed_push(home: Path, store_url: str) -> dict[str, float]:
    pusher = Pusher(home, store_url)
    cpu, started = time.process_time(), time.perf_counter()
    summary = pusher.push_once()
    cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
    pusher.close()
    if summary.pending or summary.stored != summary.entries:
        raise SystemExit(f"the push left {summary.pending} entries or stored {summary.stored} of {summary.entries}")
    return {"cpu_s": cpu, "seconds": elapsed}


# -- report ----------------------------------------------------------------------------------


SETUPS = ("copy", "copy x2", "1 collector", "2 collectors")


def markdown(results: dict[str, Any]) -> str:
    lines = ["| round | setup | load average | records/s | vs COPY | collector CPU µs/record | "
             "PostgreSQL CPU µs/record | CPU µs/record | cores busy (all processes) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    total = results["records"]
    for number, round_ in enumerate(results["rounds"], 1):
        copy = round_["copy"]["records_per_s"]
        for name in SETUPS:
            figure = round_[name]
            collector, server = figure.get("collector_cpu_s", 0.0), figure["postgres_cpu_s"]
            lines.append(f"| {number} | {name} | {figure['load_average']:.1f} | {figure['records_per_s']:,.0f} | "
                         f"{figure['records_per_s'] / copy:.2f} | {collector / total * 1e6:.0f} | "
                         f"{server / total * 1e6:.0f} | {(collector + server) / total * 1e6:.0f} | "
                         f"{figure['machine_cores_busy']:.2f} |")
    agent = results.get("agent")
    if agent:
        lines += ["", "| agent | value |", "|---|---:|",
                  f"| proxy CPU for {agent['calls']:,} calls | {agent['proxy_cpu_s']:.2f} s |",
                  f"| `offgate push` CPU meanwhile, until all {agent['recorded']:,} records were pushed | "
                  f"{agent['push_cpu_s']:.3f} s |",
                  f"| push CPU as a share of the proxy's | {agent['push_share_of_proxy_cpu']:.2%} |",
                  f"| push CPU per 1,000 records (those calls) | {agent['push_cpu_s_per_1000']:.3f} s |",
                  f"| push CPU per 1,000 records ({agent['steady_records']:,} waiting) | "
                  f"{agent['steady_push_cpu_s_per_1000']:.3f} s |",
                  f"| push rate ({agent['steady_records']:,} waiting) | "
                  f"{agent['steady_push_records_per_s']:,.0f} records/s |"]
    return "\n".join(lines)


def cpu_per_record(figure: dict[str, float], total: int) -> float:
    return (figure.get("collector_cpu_s", 0.0) + figure["postgres_cpu_s"]) / total


def verdicts(results: dict[str, Any]) -> list[str]:
    said = []
    for number, round_ in enumerate(results["rounds"], 1):
        copy = round_["copy"]["records_per_s"]
        best = max(round_["1 collector"]["records_per_s"], round_["2 collectors"]["records_per_s"])
        copy_cpu = cpu_per_record(round_["copy"], results["records"])
        cpu = min(cpu_per_record(round_[name], results["records"]) for name in ("1 collector", "2 collectors"))
        said.append(f"round {number}: ingest {'meets' if best >= GOAL_SHARE_OF_COPY * copy else 'MISSES'} the goal "
                    f"of half COPY's rate ({best / copy:.2f}) and {'meets' if best >= GOAL_RECORDS_PER_S else 'MISSES'}"
                    f" the goal of {GOAL_RECORDS_PER_S:,} records/s ({best:,.0f}); COPY's CPU per record is "
                    f"{copy_cpu / cpu:.2f} of the collector's")
    agent = results.get("agent")
    if agent:
        share = agent["push_share_of_proxy_cpu"]
        said.append(f"the push {'meets' if share < GOAL_PUSH_SHARE else 'MISSES'} the goal of under "
                    f"{GOAL_PUSH_SHARE:.0%} of the proxy's CPU ({share:.2%})")
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2_000, help="calls through the proxy for the push's share")
    parser.add_argument("--outbox", type=int, default=50_000, help="synthetic outbox for the steady push cost")
    parser.add_argument("--quick", action="store_true", help="20,000 records, 300 calls, 5,000 in the outbox")
    parser.add_argument("--repeat", type=int, default=1, help="run the ingest setups this many times over")
    parser.add_argument("--no-agent", action="store_true", help="measure the ingest only")
    args = parser.parse_args()
    if args.quick:
        args.records, args.calls, args.outbox = 20_000, 300, 5_000
    per_device = args.records // args.devices
    total = per_device * args.devices
    results: dict[str, Any] = {"records": total, "devices": args.devices, "batch": PUSH_BATCH_RECORDS,
                               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    with postgres_server() as url, tempfile.TemporaryDirectory(prefix="offgate-fleet-bench-") as scratch:
        tmp = Path(scratch)
        with Store.open(url) as store:
            log(f"making {total:,} records for {args.devices} devices")
            devices = enrol_devices(store, per_device, args.devices)
        texts = copy_text(devices)
        results["body_bytes_per_record"] = sum(len(b) for d in devices for b in d.bodies) / total
        runs = {"copy": lambda: measure_copy(url, texts, 1, total),
                "copy x2": lambda: measure_copy(url, texts, 2, total),
                "1 collector": lambda: measure_ingest(url, devices, 1, tmp, total),
                "2 collectors": lambda: measure_ingest(url, devices, 2, tmp, total)}
        results["rounds"] = []
        for number in range(1, args.repeat + 1):
            round_ = {}
            for name in SETUPS:
                log(f"round {number}: {name} ...")
                round_[name] = runs[name]()
                log(f"round {number}: {name}: {round_[name]['records_per_s']:,.0f} records/s")
            results["rounds"].append(round_)
        if not args.no_agent:
            log("the agent: calls through the proxy, then their push")
            reset(url)
            results["agent"] = agent_push_cost(url, tmp, args.calls, args.outbox)
    print(markdown(results))
    for line in verdicts(results):
        print(f"- {line}")
    out = BENCH / "results" / f"fleet-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
