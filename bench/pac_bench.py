"""The PAC path for sites that are not LLM hosts: does pointing the desktop at offgate's PAC
file cost a page load anything? Measured against peers in the same run.

    uv run python bench/pac_bench.py [--loads N] [--quick]

Page loads in Debian's headless Chromium (Playwright), one browser per setup, all started
before the first load; a local page server answers every *.example.test name (mapped with
--host-resolver-rules): a page with a stylesheet, a script and an image on three more names,
none cacheable. The setups:

- direct:  --no-proxy-server;
- pac:     --proxy-pac-url to offgate's PAC file, served over HTTP as the dashboard serves it
           (every *.example.test request is DIRECT after FindProxyForURL);
- relay:   --proxy-server to a plain TCP relay on loopback (the cheapest possible proxy hop);
- mitmdump: --proxy-server to bare mitmdump (the interceptor's engine) with map_remote to
           the page server: what sending everything through the interceptor would cost.

Loads are interleaved (one load per setup in turn, rotating who goes first). Each load's
time is the browser's own navigation timing (start to the end of the load event). Then
FindProxyForURL itself, per call, in Chromium's V8 with and without its JIT: offgate's PAC
against a naive one (a chain of shExpMatch over the same hosts, with the shExpMatch that
Chromium and Firefox define), on non-LLM and on catalog hosts; both must answer alike.
Prints markdown tables and writes bench/results/pac-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from aiohttp import web
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from offgate.catalog import PROVIDERS
from offgate.demo.threaded_server import ThreadedServer
from offgate.pac import render_pac

BENCH = Path(__file__).resolve().parent
MITMDUMP = Path(sys.executable).parent / "mitmdump"
START_TIMEOUT = 30.0
PAGE = """<!doctype html><html><head><title>a site</title>
<link rel="stylesheet" href="http://static.example.test/style.css">
<script src="http://static.example.test/app.js"></script></head>
<body><h1>a site</h1><img src="http://img.example.test/logo.svg" alt="logo">
<script src="http://cdn.example.test/lib.js"></script></body></html>"""
ASSETS = {
    "/": ("text/html", PAGE),
    "/style.css": ("text/css", "h1 { color: #333; }\n" * 50),
    "/app.js": ("text/javascript", "window.appLoaded = true;\n" * 50),
    "/lib.js": ("text/javascript", "window.libLoaded = true;\n" * 50),
    "/logo.svg": ("image/svg+xml", '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'),
}
# What Chromium's and Firefox's PAC runtimes define shExpMatch as: a RegExp built per call.
SH_EXP_MATCH = r"""
function shExpMatch(url, pattern) {
    pattern = pattern.replace(/\./g, '\\.');
    pattern = pattern.replace(/\*/g, '.*');
    pattern = pattern.replace(/\?/g, '.');
    var newRe = new RegExp('^' + pattern + '$');
    return newRe.test(url);
}
"""
TIME_CALLS = """([source, requests, rounds]) => {
    const find = new Function(source + "\\nreturn FindProxyForURL;")();
    const answers = requests.map(([url, host]) => find(url, host));
    const perCall = [];
    for (let round = 0; round < rounds; round++) {
        const started = performance.now();
        let direct = 0;
        for (let repeat = 0; repeat < 20; repeat++) {
            for (let i = 0; i < requests.length; i++) {
                if (find(requests[i][0], requests[i][1]) === "DIRECT") direct++;
            }
        }
        perCall.push((performance.now() - started) * 1e6 / (20 * requests.length));
        if (direct < 0) throw new Error("unreachable");
    }
    return {answers, perCall};
}"""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- servers -----------------------------------------------------------------------------


def page_server() -> tuple[ThreadedServer, int]:
    async def asset(request: web.Request) -> web.Response:
        kind, body = ASSETS[request.path]
        return web.Response(text=body, content_type=kind, headers={"Cache-Control": "no-store"})

    app = web.Application()
    for path in ASSETS:
        app.router.add_get(path, asset)
    server = ThreadedServer()
    return server, server.serve(app)


def pac_server(pac: str) -> tuple[ThreadedServer, int]:
    async def pac_file(_: web.Request) -> web.Response:
        return web.Response(text=pac, content_type="application/x-ns-proxy-autoconfig")

    app = web.Application()
    app.router.add_get("/proxy.pac", pac_file)
    server = ThreadedServer()
    return server, server.serve(app)


class Relay:
    """A plain proxy on loopback: every client connection is piped, byte for byte, to the page
    server (which takes the absolute-form requests a browser sends to a proxy)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for stream in (writer, up_writer):
            stream.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)


def start_mitmdump(page_port: int, confdir: Path, log_file: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen(
        [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(port), "--set", f"confdir={confdir}",
         "--set", "flow_detail=0", "--set", "connection_strategy=lazy",
         "--set", rf"map_remote=|^http://[a-z]+\.example\.test/|http://127.0.0.1:{page_port}/"],
        stdout=log_file.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mitmdump exited with {proc.returncode}: {log_file.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"mitmdump did not listen within {START_TIMEOUT:.0f} s")


# -- page loads --------------------------------------------------------------------------


def load_time_ms(page: Page) -> float:
    """One load of the site; the browser's own navigation time (start to load event end)."""
    page.goto("http://www.example.test/", wait_until="load")
    duration = page.evaluate("performance.getEntriesByType('navigation')[0].duration")
    if page.evaluate("!(window.appLoaded && window.libLoaded)"):
        raise RuntimeError("the page loaded without its scripts")
    return duration


def page_loads(pages: dict[str, Page], loads: int, warm_up: int) -> dict[str, list[float]]:
    names = list(pages)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(warm_up + loads):
        turn = names[round_number % len(names):] + names[:round_number % len(names)]
        for name in turn:
            duration = load_time_ms(pages[name])
            if round_number >= warm_up:
                samples[name].append(duration)
    return samples


# -- FindProxyForURL per call ------------------------------------------------------------


def naive_pac(proxy_address: str) -> str:
    """The PAC file people write by hand: one shExpMatch per catalog entry."""
    tests = []
    for provider in PROVIDERS:
        for host in provider.hosts:
            if ":" in host:
                tests.append(f'shExpMatch(url, "*://{host}/*")')
            else:
                tests.append(f'shExpMatch(host, "{host}")')
    chain = "\n        || ".join(tests)
    return (f"{SH_EXP_MATCH}\nfunction FindProxyForURL(url, host) {{\n    if ({chain})\n"
            f'        return "PROXY {proxy_address}; DIRECT";\n    return "DIRECT";\n}}\n')


def sample_requests() -> dict[str, list[list[str]]]:
    other = [f"{label}.example{i}.com" for i in range(100) for label in ("www", "cdn", "static")]
    other += ["www.google.com", "fonts.gstatic.com", "github.com", "api.github.com", "en.wikipedia.org",
              "login.microsoftonline.com", "slack.com", "s3.amazonaws.com", "openai.com", "azure.com"]
    catalog = sorted({host.replace("*.", "my-resource.") for provider in PROVIDERS for host in provider.hosts})
    return {
        "non-LLM hosts": [[f"https://{host}/", host] for host in other],
        "catalog hosts": [[f"http://{host}/" if ":" in host else f"https://{host}/", host.split(":")[0]]
                          for host in catalog],
    }


def time_find_proxy(page: Page, rounds: int) -> dict[str, dict[str, float]]:
    ours, naive = render_pac("127.0.0.1:8080"), naive_pac("127.0.0.1:8080")
    figures: dict[str, dict[str, float]] = {}
    for label, requests in sample_requests().items():
        timed = {name: page.evaluate(TIME_CALLS, [source, requests, rounds])
                 for name, source in (("offgate", ours), ("naive", naive))}
        if timed["offgate"]["answers"] != timed["naive"]["answers"]:
            raise RuntimeError(f"offgate's PAC and the naive one disagree on {label}")
        figures[label] = {name: statistics.median(result["perCall"]) for name, result in timed.items()}
    return figures


# -- the report --------------------------------------------------------------------------


def launch(playwright: Playwright, chromium: str, args: list[str]) -> Browser:
    return playwright.chromium.launch(executable_path=chromium, headless=True, args=args)


def machine(browser_version: str) -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "python": platform.python_version(), "chromium": browser_version,
            "load_average_1min_at_end": os.getloadavg()[0]}


def load_table(samples: dict[str, list[float]]) -> tuple[str, dict[str, dict[str, float]]]:
    figures = {name: {"median_ms": statistics.median(values), "p95_ms": percentile(values, 95)}
               for name, values in samples.items()}
    base = figures["direct"]
    lines = ["| setup | page load median (ms) | p95 (ms) | median / direct | p95 / direct |",
             "|---|---|---|---|---|"]
    for name, figure in figures.items():
        lines.append(f"| {name} | {figure['median_ms']:.2f} | {figure['p95_ms']:.2f} | "
                     f"{figure['median_ms'] / base['median_ms']:.2f} | {figure['p95_ms'] / base['p95_ms']:.2f} |")
    return "\n".join(lines), figures


def call_table(calls: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| engine | hosts | offgate PAC (ns/call) | naive shExpMatch chain (ns/call) | naive / offgate |",
             "|---|---|---|---|---|"]
    for engine, figures in calls.items():
        for label, figure in figures.items():
            lines.append(f"| {engine} | {label} | {figure['offgate']:,.0f} | {figure['naive']:,.0f} | "
                         f"{figure['naive'] / figure['offgate']:.0f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Page loads through offgate's PAC file against going direct.")
    parser.add_argument("--loads", type=int, default=200, help="page loads per setup (default 200)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 30 loads per setup, fewer JS rounds")
    arguments = parser.parse_args()
    loads, rounds = (30, 5) if arguments.quick else (arguments.loads, 15)
    chromium = shutil.which("chromium")
    if chromium is None:
        log("chromium is not installed (apt-get install chromium)")
        return 2
    page_srv, page_port = page_server()
    pac_srv, pac_port = pac_server(render_pac("127.0.0.1:9"))  # never reached: no *.example.test is an LLM host
    relay = Relay(page_port)
    resolve = f"--host-resolver-rules=MAP *.example.test 127.0.0.1:{page_port}"
    setups = {
        "direct": ["--no-proxy-server"],
        "pac": [f"--proxy-pac-url=http://127.0.0.1:{pac_port}/proxy.pac"],
        "relay": [f"--proxy-server=http://127.0.0.1:{relay.port}"],
    }
    with tempfile.TemporaryDirectory(prefix="offgate-pac-bench-") as tmp_name:
        tmp = Path(tmp_name)
        mitmdump, mitm_port = start_mitmdump(page_port, tmp / "mitmproxy", tmp / "mitmdump.log")
        setups["mitmdump"] = [f"--proxy-server=http://127.0.0.1:{mitm_port}"]
        try:
            with sync_playwright() as playwright:
                browsers = {name: launch(playwright, chromium, [*args, resolve]) for name, args in setups.items()}
                version = browsers["direct"].version
                pages = {name: browser.new_page() for name, browser in browsers.items()}
                log(f"{loads} page loads per setup, interleaved ...")
                samples = page_loads(pages, loads, warm_up=10)
                jitless = launch(playwright, chromium, ["--js-flags=--jitless"])
                log("FindProxyForURL per call ...")
                calls = {"V8 (JIT)": time_find_proxy(pages["direct"], rounds),
                         "V8 (--jitless)": time_find_proxy(jitless.new_page(), rounds)}
                for browser in [*browsers.values(), jitless]:
                    browser.close()
        finally:
            mitmdump.terminate()
            mitmdump.wait(10)
            relay.stop()
            page_srv.stop()
            pac_srv.stop()
    loads_md, load_figures = load_table(samples)
    calls_md = call_table(calls)
    out = BENCH / "results" / f"pac-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"loads_per_setup": loads, "machine": machine(version), "page_loads": load_figures,
                               "find_proxy_ns_per_call": calls, "samples_ms": samples,
                               "markdown": f"{loads_md}\n\n{calls_md}"}, indent=1) + "\n")
    print(loads_md)
    print()
    print(calls_md)
    print(f"\nload average at the end (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
