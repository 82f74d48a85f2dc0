"""Coaching on the desktop: the watcher's tick turns calls the proxy marked under the policy
into one alert per app per hour, whose sentence says which process called which provider and
how to go through the gateway; under `offgate up` the desktop channel shows it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from analytics.alerts.coaching import raise_coaching_alerts
from analytics.watch import Watcher
from offgate.config import Settings
from offgate.events import UsageEvent
from offgate.policy import PolicySettings
from offgate.store import Store
from tests.support.notification_daemon import notification_daemon

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
GATEWAY = "https://litellm.example.com"
POLICY = PolicySettings.model_validate({"rules": [
    {"name": "coach-openai", "action": "coach", "provider": "openai", "message": "Use the gateway's gpt-4o.",
     "alternative_url": "https://ai.example.com/start"},
    {"name": "no-anthropic", "action": "block", "provider": "anthropic"},
]})
PYTHON_SENTENCE = ("python3 called openai directly, around the gateway (rule 'coach-openai'). "
                   "Use the gateway's gpt-4o. Route it through the company's LiteLLM gateway at "
                   "https://litellm.example.com: `offgate route <tool>` prints the settings. See https://ai.example.com/start.")


def call(minutes: float, process: str | None = "python3", outcome: str | None = "coached",
         rule: str | None = "coach-openai", provider: str = "openai") -> UsageEvent:
    return UsageEvent(ts=T0 + timedelta(minutes=minutes), provider=provider, host=f"api.{provider}.com",
                      path="/v1/chat/completions", model="gpt-4o-mini", process_name=process,
                      policy_outcome=outcome, policy_rule=rule)  # type: ignore[arg-type]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


def raised(store: Store, minutes: float) -> list[tuple[str, str]]:
    new = raise_coaching_alerts(store, POLICY, [GATEWAY], T0 + timedelta(minutes=minutes))
    return [(alert.entity, alert.message) for alert in new]


def test_one_alert_per_app_per_hour_saying_who_called_what_and_how_to_route_it(store):
    store.add([call(1), call(2), call(3, process="node", outcome="blocked", rule="no-anthropic", provider="anthropic"),
               call(4, outcome=None, rule=None, process="curl")])  # an allowed call: nobody is told
    assert raised(store, 5) == [
        ("python3", PYTHON_SENTENCE),
        ("node", "node was refused a direct call to anthropic (rule 'no-anthropic'). Route it through"
                 " the company's LiteLLM gateway at https://litellm.example.com: `offgate route <tool>` "
                 "prints the settings."),
    ]
    store.add([call(30)])
    assert raised(store, 31) == []  # python3 was told 29 minutes ago
    store.add([call(62)])
    assert raised(store, 63) == []  # within the hour of the call told about
    store.add([call(125)])
    assert raised(store, 126) == [("python3", PYTHON_SENTENCE)]


@pytest.mark.e2e
def test_the_watchers_tick_shows_the_coaching_on_the_desktop(tmp_path):
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    with Store.open(url) as store:
        store.add([call(1)])
    settings = Settings.model_validate({"policy": POLICY.model_dump(), "proxy": {"gateways": [GATEWAY]},
                                        "notify": {"desktop": True}})
    with notification_daemon() as daemon:
        watcher = Watcher(url, settings)
        try:
            summary = watcher.tick(T0 + timedelta(minutes=2))
        finally:
            watcher.close()
        assert daemon.shown() == [("offgate", "Warning: app python3 called an AI provider around the gateway",
                                   PYTHON_SENTENCE)]
    assert summary.notifications.sent == 1
