"""The coding agents' fixture homes (tests/fixtures/agent_logs/), copied where a test may
change them, a scan of one into a store, and the store's records totalled per day and model
the way ccusage's `daily --json` totals them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from offgate.config import Settings
from offgate.events import UsageEvent
from offgate.store import Store
from workstation.agent_logs import scan_agent_logs
from workstation.scan import ScanContext, ScanResult, run_scan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "agent_logs"
# What the fixtures hold that the store must never (see their README).
PROMPT = "Refactor the invoice matcher in acme-payments so refunds reconcile"
COMMAND = "psql postgresql://billing:hunter2@db.acme.internal/ledger -c 'select 1'"
KEYS = ("sk-ant-api03-FIXTUREkeyNEVERstored", "sk-proj-FIXTUREkeyNEVERstored")
HOME_PATHS = ("/home/alice/src/acme-payments", "-home-alice-src-acme-payments", "acme-payments", "-home-alice-notes")

GOOSE_COLUMNS = ("name", "working_dir", "created_at", "provider_name", "model_config_json", "total_tokens",
                 "input_tokens", "output_tokens", "accumulated_total_tokens", "accumulated_input_tokens",
                 "accumulated_output_tokens")

# (day, model) -> [uncached input, output, cache creation, cache read, cost, reasoning (in the output)]
DailyTotals = dict[tuple[str, str], list[float]]


def agent_home(tmp_path: Path, agent: str) -> Path:
    home = tmp_path / f"{agent}-home"
    fixture = FIXTURES / agent / "home"
    if fixture.exists():
        shutil.copytree(fixture, home)
    if agent == "opencode":
        opencode_database(home / ".local" / "share" / "opencode" / "opencode.db",
                          (FIXTURES / "opencode" / "database.jsonl").read_text().splitlines())
    if agent == "goose":  # Goose keeps only its database: built here, no home to copy
        (home / ".local" / "share" / "goose" / "sessions").mkdir(parents=True)
        goose_database(home / ".local" / "share" / "goose" / "sessions" / "sessions.db",
                       (FIXTURES / "goose" / "sessions.jsonl").read_text().splitlines())
    return home


def opencode_database(path: Path, rows: list[str]) -> None:
    """OpenCode's SQLite database (its `message` table, packages/opencode/src/session/session.sql.ts,
    in WAL mode as OpenCode opens it) holding `rows` ({"id", "session_id", "data"} JSON lines)."""
    with closing(sqlite3.connect(path)) as database, database:
        database.execute("PRAGMA journal_mode = WAL")
        database.execute("CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, "
                         "time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL)")
        for row in map(json.loads, rows):
            created = row["data"]["time"]["created"]
            database.execute("INSERT OR REPLACE INTO message VALUES (?, ?, ?, ?, ?)",
                             (row["id"], row["session_id"], created, created, json.dumps(row["data"])))


def scan_context(store: Store, home: Path, settings: Settings | None = None, *, device: str = "ws-17",
                 user: str = "alice") -> ScanContext:
    return ScanContext(user_home=home, env={}, store=store, settings=settings or Settings(), device=device,
                       user=user, now=datetime.now(UTC), salt=b"agent-log-tests")


def scan_home(store: Store, home: Path, settings: Settings | None = None, *, device: str = "ws-17",
              user: str = "alice") -> ScanResult:
    context = scan_context(store, home, settings, device=device, user=user)
    [result] = run_scan(context, [("agent-logs", scan_agent_logs)])
    return result


def goose_database(path: Path, rows: list[str]) -> None:
    """Goose's SQLite database (its `sessions` table, crates/goose/src/session/session_manager.rs,
    the columns ccusage reads and a few it does not) holding `rows` (JSON objects, one a line)."""
    with closing(sqlite3.connect(path)) as database, database:
        database.execute("PRAGMA journal_mode = WAL")
        database.execute(f"CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, {', '.join(GOOSE_COLUMNS)})")
        names = ["id", *GOOSE_COLUMNS]
        insert = f"INSERT OR REPLACE INTO sessions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        for row in map(json.loads, rows):
            database.execute(insert, [row.get(name) for name in names])


@pytest.fixture(name="store")
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """The `store` fixture of the agents' tests (they import it): a fresh SQLite store."""
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        yield store


def daily_tokens(store: Store) -> DailyTotals:
    """`daily_totals` of the stored calls without the cost: the tokens alone."""
    return {key: row[:4] + row[5:] for key, row in daily_totals(store.events()).items()}


def daily_totals(events: list[UsageEvent]) -> DailyTotals:
    totals: DailyTotals = defaultdict(lambda: [0, 0, 0, 0, 0.0, 0])
    for event in events:
        cached, written = event.cached_tokens or 0, event.cache_write_tokens or 0
        row = totals[(event.ts.astimezone(UTC).date().isoformat(), event.model or "")]
        row[0] += (event.prompt_tokens or 0) - cached - written
        row[1] += event.completion_tokens or 0
        row[2] += written
        row[3] += cached
        row[4] += event.cost_usd or 0.0
        row[5] += event.reasoning_tokens or 0
    return dict(totals)


def ccusage_totals(report: dict) -> dict[tuple[str, str], list[float | None]]:
    """The same totals from `ccusage claude daily --json --breakdown`, `ccusage gemini daily --json` or
    `ccusage codex daily --json` (which gives Codex's cost per day only: None per model)."""
    totals: dict[tuple[str, str], list[float | None]] = {}
    for day in report["daily"]:
        if "modelBreakdowns" in day:
            for model in day["modelBreakdowns"]:
                totals[(day["date"], model["modelName"])] = [
                    model["inputTokens"], model["outputTokens"], model["cacheCreationTokens"],
                    model["cacheReadTokens"], model["cost"]]
        else:  # codex: per-model tokens, the cost per day
            for name, model in day["models"].items():
                totals[(day["date"], name)] = [model["inputTokens"], model["outputTokens"],
                                               model["cacheCreationTokens"], model["cacheReadTokens"], None]
    return totals
