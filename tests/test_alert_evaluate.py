"""Alerts evaluated over a real store (SQLite and PostgreSQL): calls written by Store.add
(or `offgate events import`), the exact alerts they raise, and none from quiet data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from analytics.alerts import evaluate, raise_new_alerts
from analytics.alerts.series import read_series
from analytics.spend.rows import record_from_row
from offgate.cli import app
from offgate.config import AlertSettings
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.alerts import AlertStore
from offgate.store.reconciliation import Reconciliations
from offgate.store.spend import SpendLog

FIRST_MONDAY = datetime(2026, 10, 19, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # a Tuesday afternoon
SPIKE_HOUR = datetime(2026, 11, 24, 14, tzinfo=UTC)
USERS = {"alice": ("alice-laptop", "a1a1a1a1a1a1"), "bob": ("bob-desktop", "b2b2b2b2b2b2"),
         "carol": ("carol-mac", "c3c3c3c3c3c3")}


def call(user: str, moment: datetime, cost: float = 0.05, **fields: object) -> UsageEvent:
    device, key = USERS.get(user, (f"{user}-laptop", None))
    return UsageEvent(**{
        "ts": moment, "route": "direct", "provider": "openai", "endpoint": "chat.completions",
        "host": "api.openai.com", "path": "/v1/chat/completions", "model": "gpt-4o-mini", "status_code": 200,
        "prompt_tokens": 800, "completion_tokens": 200, "cost_usd": cost, "user": user, "device": device,
        "key_fingerprint": key, **fields})


def office_hours(start: datetime, end: datetime, user: str) -> list[UsageEvent]:
    """Weekdays 09:00-17:00, one week 2 calls an hour, the next 3, then 4, and round again
    (from FIRST_MONDAY), at $0.05 each: so each hour of the week usually has 3."""
    events = []
    hour = start
    while hour < end:
        week = (hour - FIRST_MONDAY).days // 7
        if hour.weekday() < 5 and 9 <= hour.hour < 17:
            for number in range(2 + week % 3):
                moment = hour + timedelta(minutes=10 * number + 2)
                if moment < end:
                    events.append(call(user, moment))
        hour += timedelta(hours=1)
    return events


def office(end: datetime = NOW, start: datetime = FIRST_MONDAY) -> list[UsageEvent]:
    return [event for user in USERS for event in office_hours(start, end, user)]


def batch_job(user: str, hour: datetime) -> list[UsageEvent]:
    """Ten $3 calls in one hour."""
    return [call(user, hour + timedelta(minutes=3 + 5 * number), cost=3.0, prompt_tokens=200_000)
            for number in range(10)]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def test_a_spend_spike_raises_one_alert_per_usage(store: Store) -> None:
    store.add(office() + batch_job("alice", SPIKE_HOUR))
    alerts = evaluate(store, AlertSettings(), now=NOW)
    assert [(a.kind, a.dimension, a.entity, a.metric, a.ts, a.severity) for a in alerts] == [
        ("spike", "user", "alice", "cost_usd", SPIKE_HOUR, "critical"),
        ("spike", "provider", "openai", "cost_usd", SPIKE_HOUR, "critical"),
    ]
    alice, openai = alerts
    # Alice's four calls of that Tuesday (a week of 4) plus the batch; Tuesdays at 14:00 had 2, 3, 4, 2 and 3 calls.
    assert (alice.statistic, alice.baseline) == (pytest.approx(30.20), pytest.approx(0.15))
    assert alice.message == ("Unmanaged AI spend by alice was $30.20 in the hour from 14:00 UTC on Tue 24 Nov, "
                             "about 201 times the usual $0.15 for a Tuesday at that hour.")
    assert alice.details["same_as"] == ["device:alice-laptop", "key:a1a1a1a1a1a1"]  # the same calls
    details = alice.details
    assert (details["weekday"], details["hour_utc"], details["weeks_of_history"]) == ("Tuesday", 14, 5)
    assert openai.message == ("Unmanaged AI spend with openai was $30.60 in the hour from 14:00 UTC on Tue 24 Nov, "
                              "about 68 times the usual $0.45 for a Tuesday at that hour.")
    for alert in alerts:
        assert alert.q_value <= 0.01 and alert.p_value <= alert.q_value


def test_alike_users_are_not_the_same_usage(store: Store) -> None:
    store.add(office() + batch_job("alice", SPIKE_HOUR) + batch_job("bob", SPIKE_HOUR))  # hour by hour alike
    alerts = evaluate(store, AlertSettings(dimensions=["user", "device"]), now=NOW)
    assert [(a.entity, a.statistic, a.details["same_as"]) for a in alerts] == [
        ("alice", pytest.approx(30.20), ["device:alice-laptop"]), ("bob", pytest.approx(30.20), ["device:bob-desktop"])]


def test_a_call_surge_of_cheap_calls_is_a_quiet_alert(store: Store) -> None:
    loop = [call("bob", SPIKE_HOUR + timedelta(seconds=20 * number), cost=0.001) for number in range(150)]
    store.add(office() + loop)
    alerts = evaluate(store, AlertSettings(dimensions=["user"]), now=NOW)
    assert [(a.kind, a.entity, a.metric, a.severity, a.statistic, a.baseline) for a in alerts] == [
        ("surge", "bob", "calls", "info", 154.0, 3.0)]  # $0.15 more than usual: under min_cost_usd
    assert alerts[0].message == ("There were 154 unmanaged AI calls by bob in the hour from 14:00 UTC on Tue 24 Nov, "
                                 "about 51 times the usual 3 for a Tuesday at that hour.")
    assert alerts[0].details["cost_usd"] == pytest.approx(0.35)


def test_quiet_weeks_raise_nothing(store: Store) -> None:
    store.add(office())
    assert evaluate(store, AlertSettings(), now=NOW, since=NOW - timedelta(days=21)) == []


def test_an_empty_store_or_one_with_only_managed_calls_raises_nothing(store: Store) -> None:
    settings = AlertSettings(monthly_budget_usd=1, entity_budgets_usd={"user:alice": 1})
    assert evaluate(store, settings, now=NOW) == []
    store.add([call("alice", NOW - timedelta(hours=3), route="gateway", host="litellm.example.com")])
    assert evaluate(store, settings, now=NOW, since=NOW - timedelta(days=30)) == []


def test_a_spike_smaller_than_min_cost_is_not_raised(store: Store) -> None:
    store.add(office() + [call("alice", SPIKE_HOUR + timedelta(minutes=5), cost=3.0)])
    raised = evaluate(store, AlertSettings(dimensions=["user"]), now=NOW)
    assert [(a.entity, a.statistic, a.severity) for a in raised] == [("alice", pytest.approx(3.2), "warning")]
    assert evaluate(store, AlertSettings(dimensions=["user"], min_cost_usd=5), now=NOW) == []  # $3.05 over


def test_first_seen_counts_only_calls_around_the_gateway(store: Store) -> None:
    new_provider = [call("bob", datetime(2026, 11, 24, 10, 17, 30, tzinfo=UTC) + timedelta(minutes=minute),
                         cost=0.02, provider="deepseek", host="api.deepseek.com", key_fingerprint="d4d4d4d4d4d4")
                    for minute in (0, 20)]
    new_device = [call("dave", datetime(2026, 11, 24, 11, 5, tzinfo=UTC))]
    through_gateway = [call("eve", datetime(2026, 11, 24, 12, tzinfo=UTC), route="gateway", provider="litellm",
                            host="litellm.example.com", key_fingerprint="e5e5e5e5e5e5")]
    store.add(office() + new_provider + new_device + through_gateway)
    alerts = [alert for alert in evaluate(store, AlertSettings(), now=NOW) if alert.kind == "first_seen"]
    assert [(a.dimension, a.entity, a.severity, a.ts, a.statistic) for a in alerts] == [
        ("provider", "deepseek", "warning", new_provider[0].ts, 2.0),
        ("key", "d4d4d4d4d4d4", "warning", new_provider[0].ts, 2.0),
        ("device", "dave-laptop", "info", new_device[0].ts, 1.0),
    ]
    assert [a.message for a in alerts] == [
        "A new AI provider, deepseek, was called directly for the first time at 10:17 UTC on Tue 24 Nov: "
        "2 calls and $0.04 of unmanaged spend so far.",
        "A new API key (d4d4d4d4d4d4) made its first direct AI call at 10:17 UTC on Tue 24 Nov: "
        "2 calls and $0.04 of unmanaged spend so far.",
        "Device dave-laptop used AI outside the gateway for the first time at 11:05 UTC on Tue 24 Nov: "
        "1 call and $0.05 of unmanaged spend so far.",
    ]
    assert evaluate(store, AlertSettings(first_seen=False, dimensions=["provider", "key", "device"]), now=NOW) == []


def test_nothing_is_new_while_the_store_is_still_learning(store: Store) -> None:
    store.add(office(start=NOW - timedelta(days=3)) + [call("dave", NOW - timedelta(hours=2))])
    assert [a for a in evaluate(store, AlertSettings(), now=NOW) if a.kind == "first_seen"] == []


def test_a_device_seen_before_the_baseline_weeks_is_not_new(store: Store) -> None:
    """The round reads its baseline weeks; a device's first call ever may lie before them,
    made with other values (here another key) than its calls in the window."""
    long_ago = call("dave", FIRST_MONDAY - timedelta(weeks=12), key_fingerprint="f6f6f6f6f6f6")
    store.add([*office(), long_ago, call("dave", NOW - timedelta(hours=2))])
    assert read_series(store, ["device"], NOW - timedelta(weeks=9), NOW).first_call == long_ago.ts.timestamp()
    assert [a for a in evaluate(store, AlertSettings(), now=NOW) if a.kind == "first_seen"] == []


def every_hour(user: str, start: datetime, end: datetime, cost: float) -> list[UsageEvent]:
    hours = int((end - start) / timedelta(hours=1))
    return [call(user, start + timedelta(hours=hour, minutes=30), cost=cost) for hour in range(hours)]


def test_budgets_forecast_the_month_end(store: Store) -> None:
    store.add(every_hour("alice", FIRST_MONDAY, NOW, cost=0.5))  # $12 a day
    settings = AlertSettings(dimensions=["user", "device"], monthly_budget_usd=350,
                             entity_budgets_usd={"user:alice": 400, "device:alice-laptop": 250})
    alerts = evaluate(store, settings, now=NOW)
    # 23 days and 16 calls of November: $284.00; then 7.5 hours and 6 days at $12 a day: $75.75.
    november = datetime(2026, 11, 1, tzinfo=UTC)
    assert [(a.kind, a.dimension, a.entity, a.ts, a.severity, a.statistic, a.baseline) for a in alerts] == [
        ("budget", "device", "alice-laptop", november, "critical", pytest.approx(359.75), 250.0),
        ("budget", "total", "all", november, "warning", pytest.approx(359.75), 350.0),
    ]
    device, total = alerts
    assert device.message == ("Unmanaged AI spend on device alice-laptop has reached $284.00 in November 2026, "
                              "over its $250.00 budget; about $359.75 is expected by the end of the month.")
    assert total.message == ("At the current pace, unmanaged AI spend across all users in November 2026 will reach "
                             "about $359.75 (90% range $359.75 to $359.75), against a budget of $350.00: "
                             "100% likely to pass it.")
    assert total.details == {"month": "2026-11", "month_to_date_usd": pytest.approx(284.0), "days_fitted": 28,
                             "probability": 1.0, "forecast_low_usd": pytest.approx(359.75),
                             "forecast_high_usd": pytest.approx(359.75)}


def test_a_rising_unmanaged_share(store: Store) -> None:
    days = [FIRST_MONDAY + timedelta(days=day) for day in range((NOW - FIRST_MONDAY).days)]
    change = datetime(2026, 11, 10, tzinfo=UTC)
    unmanaged = [call("alice", day + timedelta(hours=13), cost=(2.0 if day < change else 8.0) + (-0.2, 0.2)[n % 2])
                 for n, day in enumerate(days)]
    logged = [record_from_row({
        "request_id": f"chatcmpl-{n}", "startTime": (day + timedelta(hours=12)).isoformat(), "model": "gpt-4o",
        "spend": 10.0, "prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "status": "success"})
        for n, day in enumerate(days)]
    store.add(unmanaged)
    SpendLog(store).add(logged, "file")
    [alert] = [a for a in evaluate(store, AlertSettings(), now=NOW) if a.kind == "unmanaged_share"]
    assert (alert.dimension, alert.entity, alert.metric, alert.ts, alert.severity) == (
        "total", "all", "share", change, "critical")
    assert alert.baseline == pytest.approx((1.8 / 11.8 + 2.2 / 12.2) / 2, abs=0.002)
    assert alert.statistic == pytest.approx((7.8 / 17.8 + 8.2 / 18.2) / 2, abs=0.002)
    assert alert.p_value < 1e-6
    assert alert.message == ("The unmanaged share of AI spend rose from 17% to 44% of each day's spend, "
                             "from Tue 10 Nov on.")


def test_days_whose_logged_spend_has_no_cost_say_nothing_about_the_share(store: Store) -> None:
    """LiteLLM stops logging costs from 10 Nov (its rows carry no `spend`): the managed spend of
    those days is unknown, not $0, so the unmanaged share did not jump to 100%."""
    days = [FIRST_MONDAY + timedelta(days=day) for day in range((NOW - FIRST_MONDAY).days)]
    change = datetime(2026, 11, 10, tzinfo=UTC)
    store.add([call("alice", day + timedelta(hours=13), cost=2.0 + (-0.2, 0.2)[n % 2]) for n, day in enumerate(days)])
    logged = [record_from_row({
        "request_id": f"chatcmpl-{n}", "startTime": (day + timedelta(hours=12)).isoformat(), "model": "gpt-4o",
        "prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100, "status": "success",
        **({"spend": 10.0} if day < change else {})}) for n, day in enumerate(days)]
    SpendLog(store).add(logged, "file")
    assert [alert for alert in evaluate(store, AlertSettings(), now=NOW) if alert.kind == "unmanaged_share"] == []
    daily = read_series(store, [], FIRST_MONDAY, NOW).daily
    assert [(day.day.isoformat(), day.managed_cost_usd, day.unpriced_spend_rows) for day in daily[21:23]] == [
        ("2026-11-09", 10.0, 0), ("2026-11-10", 0.0, 1)]


def test_imported_history_is_evaluated_as_it_is(store_url: str, tmp_path: Path) -> None:
    shift = timedelta(weeks=10)  # the whole world, ten weeks earlier: history ended long before NOW
    events = [event.model_copy(update={"ts": event.ts - shift, "source": "import"})
              for event in office() + batch_job("alice", SPIKE_HOUR)]
    lines = tmp_path / "history.jsonl"
    lines.write_text("".join(event.model_dump_json() + "\n" for event in events))
    result = CliRunner(env={"OFFGATE_DATABASE_URL": store_url}).invoke(
        app, ["--home", str(tmp_path), "events", "import", str(lines)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with Store.open(store_url) as store:
        assert evaluate(store, AlertSettings(), now=NOW) == []  # nothing in the last day
        alerts = evaluate(store, AlertSettings(), now=NOW, since=NOW - timedelta(days=90))
    assert [(a.kind, a.dimension, a.entity, a.ts, a.statistic) for a in alerts] == [
        ("spike", "user", "alice", SPIKE_HOUR - shift, pytest.approx(30.20)),
        ("spike", "provider", "openai", SPIKE_HOUR - shift, pytest.approx(30.60)),
    ]
    assert alerts[0].message.startswith("Unmanaged AI spend by alice was $30.20 in the hour from 14:00 UTC on "
                                        "Tue 15 Sep,")


def test_raising_stores_each_alert_once(store: Store) -> None:
    store.add(office() + batch_job("alice", SPIKE_HOUR))
    new = raise_new_alerts(store, AlertSettings(), now=NOW)
    assert sorted((a.entity, a.raised_at) for a in new) == [("alice", NOW), ("openai", NOW)]
    assert raise_new_alerts(store, AlertSettings(), now=NOW + timedelta(minutes=5)) == []
    stored = AlertStore(store).alerts()
    assert sorted(a.id for a in stored) == sorted(a.id for a in new)
    assert json.loads(json.dumps([a.to_json() for a in stored]))  # JSON-ready, details included


def test_naive_times_are_utc_and_the_window_must_not_be_empty(store: Store) -> None:
    store.add(office() + batch_job("alice", SPIKE_HOUR))
    naive = evaluate(store, AlertSettings(dimensions=["user"]), now=NOW.replace(tzinfo=None))
    assert [(a.entity, a.ts) for a in naive] == [("alice", SPIKE_HOUR)]
    with pytest.raises(ValueError, match=r"nothing to evaluate: since \(2026-11-24T16:30:00\+00:00\) is not before"):
        evaluate(store, AlertSettings(), now=NOW, since=NOW)


def test_reading_counts_only_unmanaged_calls_in_their_utc_hour(store: Store) -> None:
    edge = datetime(2026, 11, 24, 10, 59, 59, 999000, tzinfo=UTC)
    upstream = call("svc", edge, id="upstream-call", process_name="litellm")
    store.add([call("alice", edge), call("alice", edge + timedelta(milliseconds=1)), upstream,
               call("alice", edge, route="gateway", host="litellm.example.com", provider="litellm")])
    reconciled = {"event_id": "upstream-call", "classification": "gateway-upstream", "spend_request_id": None,
                  "matched_by": None}
    Reconciliations(store).save(None, None, [reconciled], [])
    data = read_series(store, ["user", "provider"], edge - timedelta(hours=2), NOW)
    users = data.dimensions["user"]
    assert users.entities == ["alice"]  # svc's call is the gateway's own, eve's went through it
    assert users.start == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert users.calls[0, 2:4].tolist() == [1.0, 1.0]  # 10:59:59.999 is in the hour from 10:00
    assert users.first_call[0] == pytest.approx(edge.timestamp(), abs=1e-3)
    assert data.dimensions["provider"].entities == ["openai"]


@pytest.mark.parametrize(("budgets", "problem"), [
    ({"alice": 10}, """'alice' is not "dimension:name" with a dimension of user, device, app, provider, key"""),
    ({"team:red": 10}, """'team:red' is not "dimension:name" with a dimension of user, device, app, provider, key"""),
    ({"user:alice": 0}, "the budget for 'user:alice' must be above 0, got 0.0"),
])
def test_entity_budgets_must_name_a_dimension_and_an_amount(budgets: dict, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        AlertSettings(entity_budgets_usd=budgets)
    assert raised.value.errors()[0]["msg"] == f"Value error, {problem}"


def test_a_spike_over_a_near_idle_hour_is_told_without_a_meaningless_multiple() -> None:
    from analytics.alerts.messages import spike_message

    sunday_noon = datetime(2026, 11, 29, 12, tzinfo=UTC)
    sentence = spike_message("user", "root", "cost_usd", sunday_noon, 2.39, 0.00006, sunday_noon + timedelta(hours=1))
    assert sentence == ("Unmanaged AI spend by root was $2.39 in the hour from 12:00 UTC on Sun 29 Nov, "
                        "when it is usually under $0.01 for a Sunday at that hour.")
