"""The VS Code extension's logic (ide_extension/lib/dashboard.js) under node, against the real
dashboard over a real store: the status bar's figures are the report's for today, the panel
lists the recent calls and open alerts, and each way it can fail says why."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.alerts import AlertStore
from offgate.store.queries import CallQueries
from tests.support.dashboard_world import TOKEN, fill, report_json, serving, use_store, utc_now
from tests.support.ports import free_port
from tests.support.required import unavailable

pytestmark = pytest.mark.e2e
LIBRARY = Path(__file__).parent.parent / "ide_extension" / "lib" / "dashboard.js"
# Reads the dashboard as the extension does; prints what it would show, or the problem.
READ = """
const dashboard = require(process.argv[1]);
const [home, url, now] = process.argv.slice(2);
(async () => {
  try {
    const state = await dashboard.readDashboard(url, dashboard.readToken(dashboard.offgateHome(home)), new Date(now));
    console.log(JSON.stringify({text: dashboard.statusText(state.figures),
                                tooltip: dashboard.statusTooltip(state.figures), figures: state.figures,
                                html: dashboard.panelHtml(state)}));
  } catch (error) {
    console.log(JSON.stringify({problem: error.short, message: error.message}));
  }
})();
"""


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        unavailable("node is not installed", "the IDE extension's tests need node: apt-get install nodejs")
    return found


def read_as_extension(node: str, home: Path, url: str, now: datetime) -> dict[str, Any]:
    done = subprocess.run([node, "-e", READ, str(LIBRARY), str(home), url, now.isoformat()],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, str, datetime]]:
    home = tmp_path / "home"
    home.mkdir()
    use_store(home, f"sqlite:///{tmp_path / 'offgate.db'}")
    now = utc_now()
    fill(f"sqlite:///{tmp_path / 'offgate.db'}", now)
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:  # and two calls around the gateway today
        store.add([UsageEvent(ts=max(now - timedelta(minutes=minutes), now.replace(hour=0, minute=0, second=0)),
                              route="direct", provider="openai", host="api.openai.com", path="/v1/chat/completions",
                              model="gpt-4o", prompt_tokens=1000, completion_tokens=200, cost_usd=0.35,
                              process_name="python3") for minutes in (3, 4)])
    (home / "dashboard-token").write_text(TOKEN + "\n")
    with serving(home) as url:
        yield home, url, now


def test_the_status_bar_shows_today_as_the_report_counts_it(node: str, world: tuple[Path, str, datetime]) -> None:
    home, url, now = world
    shown = read_as_extension(node, home, url, now)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    totals = report_json(home, "--since", today.isoformat())["totals"]
    calls = totals["managed_calls"] + totals["unmanaged_calls"]
    share = totals["unmanaged_cost_usd"] / totals["total_cost_usd"]
    assert calls > 0 and 0 < share < 1  # the world has both kinds today
    assert shown["figures"] == {"calls": calls, "spend": totals["total_cost_usd"],
                                "unmanagedSpend": totals["unmanaged_cost_usd"], "unmanagedShare": share}
    spend = totals["total_cost_usd"]
    assert shown["text"] == f"$(pulse) {calls:,} calls · ${spend:.2f} · {round(share * 100)}% unmanaged"
    assert shown["tooltip"].startswith(f"offgate today (UTC): {calls:,} LLM calls, ")


def test_the_panel_lists_recent_calls_and_open_alerts(node: str, world: tuple[Path, str, datetime]) -> None:
    home, url, now = world
    with Store.open(f"sqlite:///{home.parent / 'offgate.db'}") as store:
        latest = [call.event.id for call in CallQueries(store).latest_calls(20)]
        open_alerts = AlertStore(store).alerts(include_acked=False, limit=200)
        AlertStore(store).ack(open_alerts[0].id, by="alice")
    html = read_as_extension(node, home, url, now)["html"]
    assert [part.split('"', 1)[0] for part in html.split('data-call="')[1:]] == latest
    assert [part.split('"', 1)[0] for part in html.split('data-alert="')[1:]] == [a.id for a in open_alerts[1:]]
    assert f"Open alerts ({len(open_alerts) - 1})" in html
    assert "<script" not in html and "default-src 'none'" in html


def test_each_failure_says_why(node: str, world: tuple[Path, str, datetime], tmp_path: Path) -> None:
    home, url, now = world
    down = read_as_extension(node, home, f"http://127.0.0.1:{free_port()}", now)
    (tmp_path / "other").mkdir()
    no_token = read_as_extension(node, tmp_path / "other", url, now)
    token_file = tmp_path / "other" / "dashboard-token"
    token_file.write_text("someone-elses-token-000000\n")
    refused = read_as_extension(node, tmp_path / "other", url, now)
    assert down["problem"] == "not running" and "start offgate (offgate up)" in down["message"]
    assert no_token == {"problem": "no token", "message": f"no dashboard token at {token_file}: start offgate "
                                                          "(offgate up) once"}
    assert refused["problem"] == "token refused"


def test_what_the_dashboard_says_is_escaped_in_the_panel(node: str) -> None:
    state = {"figures": {"calls": 1, "spend": 0.5, "unmanagedSpend": 0.5, "unmanagedShare": 1.0},
             "calls": [{"id": "c1", "ts": "2026-03-02T09:00:00+00:00", "app": "<img src=x onerror=alert(1)>",
                        "provider": "openai", "model": "gpt-4o", "prompt_tokens": 10, "completion_tokens": None,
                        "tokens_estimated": True, "cost_usd": None, "classification": None, "route": "direct"}],
             "alerts": [{"id": "a1", "severity": "warning", "message": "bob's <script>alert(1)</script> spike"}]}
    script = f"console.log(require({json.dumps(str(LIBRARY))}).panelHtml({json.dumps(state)}))"
    html = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "bob&#39;s &lt;script&gt;alert(1)&lt;/script&gt; spike" in html
    assert "<td>10 (est.)</td><td>-</td><td>direct</td>" in html
    assert "1 call · $0.50 · 100% unmanaged" in html
