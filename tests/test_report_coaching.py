"""The report's coaching part on a world whose every number is known: alice's claude-code goes
from 12 unmanaged calls to none as its gateway calls grow, alice was shown chatgpt's notice
twice and clicked it once, bob's codex only ever used the gateway (nothing to show), and the
people mapping names alice as her LiteLLM user on both the calls and the notices. Per week
for a long window, per day for a short one, in every format."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.report.model import build_report
from analytics.report.render import render
from offgate.cli import app as cli
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.coaching import CoachingEvent, CoachingStore
from offgate.store.filters import CallFilter
from offgate.store.people import People, Person

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # week 1; week 2 from 2026-11-09, week 3 from 2026-11-16
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
ALICE = "alice@example.com"
CLAUDE_CODE = (f"claude-code for {ALICE}: 12 unmanaged and 0 gateway calls in the week of 2026-11-02, "
               "0 and 9 in the week of 2026-11-16; 0 notices shown, 0 clicked; 4 calls coached, 1 blocked")
CHATGPT = (f"chatgpt for {ALICE}: 3 unmanaged and 0 gateway calls in the week of 2026-11-02, "
           "0 and 0 in the week of 2026-11-16; 2 notices shown, 1 clicked; 0 calls coached, 0 blocked")
runner = CliRunner(env={"COLUMNS": "200"})


def calls(prefix: str, n: int, day: int, **fields: object) -> list[UsageEvent]:
    """`n` calls on November `day`, alice's claude-code going direct unless `fields` say otherwise."""
    at = datetime(2026, 11, day, 10, 0, tzinfo=UTC)
    return [UsageEvent(**{
        "id": f"{prefix}-{index}", "ts": at + timedelta(minutes=index), "route": "direct", "provider": "anthropic",
        "host": "api.anthropic.com", "path": "/v1/messages", "model": "claude-sonnet-4-20250514",
        "app": "claude-code", "process_name": "node", "user": "alice", "device": "alice-laptop",
        "prompt_tokens": 100, "completion_tokens": 10, "cost_usd": 0.001, **fields}) for index in range(n)]


def gateway(prefix: str, n: int, day: int, **fields: object) -> list[UsageEvent]:
    return calls(prefix, n, day, route="gateway", provider="litellm", host="litellm.example.com",
                 path="/v1/chat/completions", **fields)


def fill(url: str) -> None:
    with Store.open(url) as store:
        store.add([
            *calls("w1", 9, 3), *calls("w1-coached", 3, 4, policy_outcome="coached", policy_rule="coach claude"),
            *calls("w2", 3, 10), *calls("w2-coached", 1, 10, policy_outcome="coached", policy_rule="coach claude"),
            *calls("w2-blocked", 1, 11, status_code=403, policy_outcome="blocked", policy_rule="no anthropic"),
            *gateway("w2-gw", 5, 12), *gateway("w3-gw", 9, 17),
            *calls("chat", 3, 5, app="chatgpt", provider="openai", host="chatgpt.com", path="/backend-api/conversation",
                   process_name=None, source="extension"),
            *gateway("codex", 4, 3, app="codex", user="bob", device="bob-desktop"),  # never around the gateway
            *calls("before", 2, 1),  # before the window
        ])
        coaching = CoachingStore(store)
        for event_id, kind, day in (("n1", "shown", 3), ("n2", "shown", 5), ("n3", "clicked", 5),
                                    ("n-late", "shown", 23)):  # the last one after the window
            coaching.record(CoachingEvent(event_id, datetime(2026, 11, day, 11, 0, tzinfo=UTC), "chatgpt",
                                          "coach chatgpt", kind, "alice", "alice-laptop"))  # type: ignore[arg-type]
        People(store).replace([Person(login="alice", litellm_user_id=ALICE, team="data")], "test")


def period(start: str, unmanaged: int = 0, gateway_calls: int = 0, coached: int = 0, blocked: int = 0,
           shown: int = 0, clicked: int = 0) -> dict:
    return {"start": start, "unmanaged_calls": unmanaged, "gateway_calls": gateway_calls, "coached_calls": coached,
            "blocked_calls": blocked, "notices_shown": shown, "notices_clicked": clicked}


def test_per_week_unmanaged_calls_turn_into_gateway_calls(store_url: str) -> None:
    fill(store_url)
    with Store.open(store_url) as store:
        document = build_report(store, MONDAY.replace(hour=0), UNTIL, "provider").model_dump(mode="json")
    assert document["coaching"] == {"period": "week", "trends": [
        {"app": "claude-code", "user": ALICE, **{name: value for name, value in period(
            "", 12 + 4, 5 + 9, 3 + 1, 1).items() if name != "start"},
         "periods": [period("2026-11-02", 12, 0, 3), period("2026-11-09", 4, 5, 1, 1), period("2026-11-16", 0, 9)],
         "summary": CLAUDE_CODE},
        {"app": "chatgpt", "user": ALICE, **{name: value for name, value in period(
            "", 3, 0, shown=2, clicked=1).items() if name != "start"},
         "periods": [period("2026-11-02", 3, shown=2, clicked=1), period("2026-11-16")],
         "summary": CHATGPT},
    ]}


def test_a_short_window_is_counted_per_day(store_url: str) -> None:
    fill(store_url)
    with Store.open(store_url) as store:
        coaching = build_report(store, datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC),
                                "provider").coaching
    assert coaching is not None and coaching.period == "day"
    [trend] = coaching.trends
    assert [(p.start.isoformat(), p.unmanaged_calls, p.gateway_calls, p.coached_calls, p.blocked_calls)
            for p in trend.periods] == [("2026-11-10", 4, 0, 1, 0), ("2026-11-11", 0, 0, 0, 1),
                                        ("2026-11-12", 0, 5, 0, 0)]
    assert trend.summary == (f"claude-code for {ALICE}: 4 unmanaged and 0 gateway calls on 2026-11-10, 0 and 5 on "
                             "2026-11-12; 0 notices shown, 0 clicked; 1 call coached, 1 blocked")


def test_a_sundays_call_counts_in_the_week_of_the_monday_before(store_url: str) -> None:
    """The weeks are counted by the database (SQLite and PostgreSQL alike), each from its Monday (UTC)."""
    sunday_night, monday = datetime(2026, 11, 8, 23, 59, 59, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC)
    with Store.open(store_url) as store:
        store.add([*calls("sun", 1, 8, ts=sunday_night), *calls("mon", 2, 9, ts=monday),
                   *calls("sat", 3, 14), *calls("sun-2", 4, 15)])
        coaching = build_report(store, MONDAY.replace(hour=0), UNTIL, "provider").coaching
    assert coaching is not None and coaching.period == "week"
    [trend] = coaching.trends
    assert [(p.start.isoformat(), p.unmanaged_calls) for p in trend.periods] == [("2026-11-02", 1),
                                                                                  ("2026-11-09", 2 + 3 + 4)]


def test_a_report_filtered_to_a_device_counts_only_its_calls_and_notices(store_url: str) -> None:
    fill(store_url)
    with Store.open(store_url) as store:
        coaching = build_report(store, MONDAY.replace(hour=0), UNTIL, "provider",
                                CallFilter(devices=("bob-desktop",))).coaching
    assert coaching is not None and coaching.trends == []  # bob's codex only used the gateway


@pytest.fixture
def home(tmp_path: Path) -> Path:
    fill(f"sqlite:///{tmp_path / 'offgate.db'}")
    return tmp_path


def test_every_format_shows_the_part(home: Path) -> None:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        report = build_report(store, MONDAY.replace(hour=0), UNTIL, "provider")

    text = render(report, "table")
    assert "Coaching, per week: does it work?" in text
    assert f"  {CLAUDE_CODE}\n  {CHATGPT}\n" in text
    line = next(line for line in text.splitlines() if "2026-11-09" in line)
    assert [cell.strip() for cell in line.strip("│┃ ").split("│")] == [
        "claude-code", ALICE, "2026-11-09", "4", "5", "1", "1", "0", "0"]

    *_, coaching_csv = render(report, "csv").split("\n\n")
    assert list(csv.DictReader(io.StringIO(coaching_csv))) == [
        {"coaching_week_app": app, "user": ALICE, "period_start": start, "unmanaged_calls": unmanaged,
         "gateway_calls": gateway_calls, "coached_calls": coached, "blocked_calls": blocked,
         "notices_shown": shown, "notices_clicked": clicked}
        for app, start, unmanaged, gateway_calls, coached, blocked, shown, clicked in (
            ("claude-code", "2026-11-02", "12", "0", "3", "0", "0", "0"),
            ("claude-code", "2026-11-09", "4", "5", "1", "1", "0", "0"),
            ("claude-code", "2026-11-16", "0", "9", "0", "0", "0", "0"),
            ("chatgpt", "2026-11-02", "3", "0", "0", "0", "2", "1"),
            ("chatgpt", "2026-11-16", "0", "0", "0", "0", "0", "0"))]

    html = render(report, "html")
    assert f"<li>{CLAUDE_CODE}</li><li>{CHATGPT}</li>" in unescape(html)
    assert (f'<tr data-app="claude-code" data-user="{ALICE}" data-key="2026-11-09"><td>claude-code</td>'
            f'<td>{ALICE}</td><td>2026-11-09</td>'
            '<td class="number" data-field="unmanaged_calls" data-value="4">4</td>'
            '<td class="number" data-field="gateway_calls" data-value="5">5</td>'
            '<td class="number" data-field="coached_calls" data-value="1">1</td>'
            '<td class="number" data-field="blocked_calls" data-value="1">1</td>'
            '<td class="number" data-field="notices_shown" data-value="0">0</td>'
            '<td class="number" data-field="notices_clicked" data-value="0">0</td></tr>') in html

    # The command line's JSON: the same part (its window runs to now, so the weeks after are empty).
    result = runner.invoke(cli, ["--home", str(home), "report", "--since", "2026-11-02T00:00:00", "--format", "json"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trends = json.loads(result.stdout)["coaching"]["trends"]
    assert [(trend["app"], trend["unmanaged_calls"], trend["gateway_calls"], trend["notices_shown"])
            for trend in trends] == [("claude-code", 16, 14, 0), ("chatgpt", 3, 0, 3)]  # the late notice too


def test_a_fleets_report_shows_the_top_trends_and_says_how_many_more(tmp_path: Path) -> None:
    """23 people's claude-code (person n with n + 1 calls): the text and HTML show the 20 with the
    most unmanaged calls and say 3 more are left out; the JSON and CSV keep every one."""
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add([call for n in range(23) for call in calls(f"u{n:02}", n + 1, 3, user=f"u{n:02}")])
        report = build_report(store, MONDAY.replace(hour=0), UNTIL, "team")
    assert report.coaching is not None and len(report.coaching.trends) == 23
    more = "and 3 more tools and people (every one in the JSON and CSV formats)"

    text = render(report, "table")
    summaries = [line for line in text.splitlines() if line.startswith("  claude-code for ")]
    assert summaries == [f"  claude-code for u{n:02}: {n + 1} unmanaged and 0 gateway calls in the week of 2026-11-02; "
                         f"0 notices shown, 0 clicked; 0 calls coached, 0 blocked" for n in range(22, 2, -1)]
    coaching_rows = [[cell.strip() for cell in line.split("│")[1:4]] for line in text.splitlines()
                     if line.startswith("│ claude-code ")]  # app, person, week
    assert coaching_rows == [["claude-code", f"u{n:02}", "2026-11-02"] for n in range(22, 2, -1)]
    assert text.endswith(f"  {more}\n")
    assert "u02" not in text

    html = unescape(render(report, "html"))
    assert [f"u{n:02}" for n in range(22, 2, -1)] == [
        line.split('data-user="')[1].split('"')[0] for line in html.splitlines() if line.startswith("<tr data-app")]
    assert html.count("<li>claude-code for ") == 20 and f"<p>{more.capitalize()}.</p>" in html
    assert len(render(report, "csv").split("\n\n")[-1].strip().splitlines()) == 1 + 23


def test_nothing_around_the_gateway_says_so(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        report = build_report(store, None, UNTIL, "provider")
    assert report.coaching is not None and report.coaching.model_dump() == {"period": "week", "trends": []}
    assert "Coaching: no call went around the gateway and nobody was coached" in render(report, "table")
    assert "<p>No call went around the gateway and nobody was coached.</p>" in render(report, "html")
