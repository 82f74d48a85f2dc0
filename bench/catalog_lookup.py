"""What the catalog lookup costs per request, and whether that grows with the catalog.

    uv run python bench/catalog_lookup.py [--quick]

Every request the proxy sees is looked up once (`Catalog.lookup`: a dict lookup by host,
then the few path rules of that one provider). This times it on the real catalog and on
synthetic catalogs with 10x, 100x and 1000x as many providers (copies of the real ones
under other hosts, wildcards included), for hits (the recorded calls in tests/fixtures)
and for misses (unknown hosts, and known hosts on paths that are no LLM call). The peer
is the naive design that must grow with the catalog: one compiled regex per host,
scanned in order until one matches, then the same path rules. Prints a markdown table:
ns per lookup, and ratios against the real catalog and against the naive scan.
"""

from __future__ import annotations

import argparse
import gc
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: tests/ holds the fixtures

from offgate.catalog import PROVIDERS
from offgate.catalog.registry import Catalog, Match, Provider, _match_path
from tests.support.fixture_files import fixture_names, load_fixture, session_fixture_names

SCALES = (1, 10, 100, 1000)
Request = tuple[str, int, str, bool]  # host, port, path, websocket upgrade


def synthetic_catalog(scale: int) -> Catalog:
    """The real providers plus `scale - 1` copies of each under hosts of their own."""
    copies = [
        Provider(f"{p.name}-copy{n}", tuple(_moved(host, n) for host in p.hosts), p.paths, p.app, p.usage)
        for n in range(1, scale)
        for p in PROVIDERS
    ]
    return Catalog([*PROVIDERS, *copies])


def _moved(host: str, n: int) -> str:
    # "api.openai.com" -> "api.openai-copy7.com"; "*.openai.azure.com" -> "*.openai.azure-copy7.com"
    name, _, top = host.rpartition(".")
    return f"{name}-copy{n}.{top}"


class NaiveCatalog:
    """The peer: every host a compiled regex over "host:port" (as mitmproxy's `allow_hosts`
    holds them), tried in order, exact hosts before wildcards; then the same path rules."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        exact, wildcard = [], []
        for provider in providers:
            for host in provider.hosts:
                if host.startswith("*."):
                    wildcard.append((re.compile(rf"(?:[^:]+\.)+{re.escape(host[2:])}:\d+"), provider))
                else:
                    port = "" if ":" in host else r":\d+"  # an entry may name its port
                    exact.append((re.compile(re.escape(host) + port), provider))
        self._hosts = exact + wildcard

    def lookup(self, host: str, port: int, path: str, websocket: bool = False) -> Match | None:
        address = f"{host.lower().rstrip('.')}:{port}"
        for pattern, provider in self._hosts:
            if pattern.fullmatch(address):
                return _match_path(provider, path.split("?", 1)[0], "direct", websocket)
        return None


def workload() -> tuple[list[Request], list[Request]]:
    """Hits: every recorded call and session. Misses: as many unknown hosts, and known
    hosts asked for paths that are no LLM call."""
    hits = []
    for name in fixture_names() + session_fixture_names():
        fixture = load_fixture(name)
        hits.append((fixture.host, fixture.port, fixture.path, fixture.websocket))
    unknown = [(f"www.example{n}.org", 443, "/index.html", False) for n in range(len(hits) // 2)]
    not_llm = [(host, port, "/v1/models", False) for host, port, _, _ in hits[: len(hits) - len(unknown)]]
    return hits, unknown + not_llm


@dataclass(frozen=True)
class Timing:
    hit_ns: float
    miss_ns: float


def time_lookups(lookup: Callable[..., Match | None], hits: list[Request], misses: list[Request],
                 min_seconds: float) -> Timing:
    return Timing(_ns_per_call(lookup, hits, min_seconds), _ns_per_call(lookup, misses, min_seconds))


def _ns_per_call(lookup: Callable[..., Match | None], requests: list[Request], min_seconds: float) -> float:
    """Best of five rounds, each repeating the requests until `min_seconds` have passed."""
    best = float("inf")
    for _ in range(5):
        calls, started = 0, time.perf_counter_ns()
        while True:
            for host, port, path, websocket in requests:
                lookup(host, port, path, websocket)
            calls += len(requests)
            elapsed = time.perf_counter_ns() - started
            if elapsed >= min_seconds * 1e9:
                break
        best = min(best, elapsed / calls)
    return best


def check_agree(catalog: Catalog, naive: NaiveCatalog, requests: list[Request]) -> None:
    """The peer finds what the catalog finds, so the comparison is fair."""
    for request in requests:
        ours, theirs = catalog.lookup(*request), naive.lookup(*request)
        assert (ours and (ours.provider, ours.endpoint)) == (theirs and (theirs.provider, theirs.endpoint)), request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds (a rough figure)")
    args = parser.parse_args()
    min_seconds = 0.05 if args.quick else 0.3

    hits, misses = workload()
    gc.disable()  # no collection pauses inside the timed loops
    rows = []
    for scale in SCALES:
        catalog = synthetic_catalog(scale)
        naive = NaiveCatalog(catalog.providers)
        check_agree(catalog, naive, hits + misses)
        hosts = sum(len(p.hosts) for p in catalog.providers)
        ours = time_lookups(catalog.lookup, hits, misses, min_seconds)
        # The scan grows with the catalog; fewer rounds keep the 1000x run short.
        peer = time_lookups(naive.lookup, hits, misses, min_seconds / (1 if scale < 100 else 10))
        rows.append((scale, len(catalog.providers), hosts, ours, peer))

    base = rows[0][3]
    print(f"Catalog lookup, {len(hits)} hits and {len(misses)} misses per round; "
          f"Python {platform.python_version()}, {platform.machine()}\n")
    print("| catalog | providers | hosts | hit ns | miss ns | hit vs real | miss vs real "
          "| naive hit ns | naive miss ns | naive / ours (hit) | naive / ours (miss) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scale, providers, hosts, ours, peer in rows:
        label = "real" if scale == 1 else f"{scale}x"
        print(f"| {label} | {providers} | {hosts} | {ours.hit_ns:.0f} | {ours.miss_ns:.0f} "
              f"| {ours.hit_ns / base.hit_ns:.2f} | {ours.miss_ns / base.miss_ns:.2f} "
              f"| {peer.hit_ns:.0f} | {peer.miss_ns:.0f} "
              f"| {peer.hit_ns / ours.hit_ns:.1f} | {peer.miss_ns / ours.miss_ns:.1f} |")


if __name__ == "__main__":
    main()
