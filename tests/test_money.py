"""One money formatter, offgate.money.usd, for every place offgate writes money for people:
exact enough for one call in tables and reports, in cents in sentences and notifications,
and the same amount reads the same in an alert's sentence and in its notification's facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.alerts.messages import spike_message
from analytics.notify.text import facts
from offgate.cli import app
from offgate.events import UsageEvent
from offgate.money import usd
from offgate.store import Store
from offgate.store.alerts import Alert

NOW = datetime(2026, 11, 29, 13, 5, tzinfo=UTC)


@pytest.mark.parametrize(("amount", "shown"), [
    (None, "-"), (0.0, "$0.000000"), (0.00045, "$0.000450"), (0.9999994, "$0.999999"), (1.0, "$1.00"),
    (1234.5, "$1,234.50"),
])
def test_exact_enough_for_one_call(amount: float | None, shown: str) -> None:
    assert usd(amount) == shown


@pytest.mark.parametrize(("amount", "shown"), [
    (None, "-"), (0.0, "$0.00"), (0.004, "under $0.01"), (0.01, "$0.01"), (0.15, "$0.15"), (30.2, "$30.20"),
    (1234.5, "$1,234.50"),
])
def test_in_cents_for_a_sentence(amount: float | None, shown: str) -> None:
    assert usd(amount, cents=True) == shown


def test_a_notification_states_the_usual_spend_as_the_alert_sentence_does() -> None:
    hour = datetime(2026, 11, 29, 12, tzinfo=UTC)
    alert = Alert(kind="spike", severity="warning", dimension="user", entity="root", metric="cost_usd", ts=hour,
                  message=spike_message("user", "root", "cost_usd", hour, 2.39, 0.004, NOW),
                  statistic=2.39, baseline=0.004)
    assert alert.message.endswith("when it is usually under $0.01 for a Sunday at that hour.")
    assert dict(facts(alert))["Usual"] == "under $0.01"  # was "$0.00": nothing, which it was not
    assert dict(facts(alert))["Observed"] == "$2.39"


def test_the_events_table_writes_costs_as_the_report_does(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        store.add([UsageEvent(id=f"e{n}", ts=NOW, provider="openai", host="api.openai.com", path="/v1/responses",
                              model="gpt-4o", prompt_tokens=10, completion_tokens=5, cost_usd=cost)
                   for n, cost in enumerate((0.00045, 1234.5, None))])
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["--home", str(tmp_path), "events"],
                                                      catch_exceptions=False)
    assert result.exit_code == 0
    rows = [line.split("│") for line in result.stdout.splitlines() if "gpt-4o" in line]
    assert [row[7].strip() for row in rows] == ["$0.000450", "$1,234.50", "-"]
