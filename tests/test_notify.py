"""Notifications through real receivers on loopback: what each channel delivers, and how
failures are retried, limited, logged and survived."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.notify import channels_from
from analytics.notify.dispatcher import DeliveryCounts, Dispatcher
from analytics.notify.text import facts, headline
from offgate.config import ChannelUrl, ConfigError, NotifySettings, load_settings
from offgate.store import Store
from offgate.store.alerts import Alert, AlertStore, Severity
from tests.support.notification_daemon import notification_daemon, private_session_bus
from tests.support.notify_receivers import SmtpReceiver, WebhookReceiver
from tests.support.ports import free_port
from tests.support.web_apps import ThrowawayCA

NOW = datetime(2026, 11, 20, 12, 5, tzinfo=UTC)
HEADLINE = "Warning: cost spike for user alice"
SENTENCE = "alice spent $12.00 on unmanaged AI between 11:00 and 12:00, 6 times the usual $2.00."


def spike(entity: str = "alice", severity: Severity = "warning", hour: int = 11) -> Alert:
    message = SENTENCE if entity == "alice" else f"{entity} spent a lot."
    return Alert(kind="spike", severity=severity, dimension="user", entity=entity, metric="cost_usd",
                 ts=datetime(2026, 11, 20, hour, tzinfo=UTC), message=message, statistic=12.0, baseline=2.0,
                 p_value=1e-6, q_value=1.5e-4, details={"hour_of_week": 107})


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as opened:
        yield opened


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.stop()


def raise_alerts(store: Store, *alerts: Alert, now: datetime = NOW) -> list[Alert]:
    return AlertStore(store).raise_alerts(list(alerts), timedelta(0), now)


def deliver(store: Store, now: datetime = NOW, **settings: Any) -> DeliveryCounts:
    notify = NotifySettings(**{"desktop": False, **settings})
    dispatcher = Dispatcher(store, notify, channels_from(notify))
    try:
        return dispatcher.deliver(now)
    finally:
        dispatcher.close()


# -- what each channel delivers ---------------------------------------------------------


def test_the_webhook_gets_the_alerts_fields_slack_and_teams_their_documented_payloads(sqlite_store, receiver):
    [alert] = raise_alerts(sqlite_store, spike())
    counts = deliver(sqlite_store, webhook={"url": receiver.url("hook")}, slack={"url": receiver.url("slack")},
                     teams={"url": receiver.url("teams")})
    assert counts == DeliveryCounts(sent=3)

    [fields] = receiver.delivered("hook")
    assert fields == alert.to_json()
    assert (fields["id"], fields["severity"], fields["entity"], fields["statistic"], fields["q_value"],
            fields["raised_at"]) == (alert.id, "warning", "alice", 12.0, 1.5e-4, "2026-11-20T12:05:00+00:00")

    [slack] = receiver.delivered("slack")
    assert slack["text"] == f"{HEADLINE}: {SENTENCE}"
    header, section, context = slack["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": HEADLINE}}
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": SENTENCE}}
    assert context["type"] == "context"
    assert context["elements"][0] == {
        "type": "mrkdwn", "text": f"*When:* 2026-11-20 11:00 UTC · *Observed:* $12.00 · *Usual:* $2.00 · "
                                  f"*q-value:* 0.00015 · *Alert:* {alert.id}"}
    assert context["elements"][1]["text"] == f"Acknowledge it with: offgate alerts ack {alert.id}"

    [teams] = receiver.delivered("teams")
    assert teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, sentence, facts, hint = card["body"]
    assert (title["text"], title["color"], sentence["text"]) == (HEADLINE, "Warning", SENTENCE)
    assert facts["facts"] == [{"title": "When", "value": "2026-11-20 11:00 UTC"},
                              {"title": "Observed", "value": "$12.00"}, {"title": "Usual", "value": "$2.00"},
                              {"title": "q-value", "value": "0.00015"}, {"title": "Alert", "value": alert.id}]
    assert hint["text"] == f"Acknowledge it with: offgate alerts ack {alert.id}"


def test_slack_text_escapes_its_markup_characters(sqlite_store, receiver):
    alert = spike()
    alert.message = "R&D's <bot> spent more."
    raise_alerts(sqlite_store, alert)
    deliver(sqlite_store, slack={"url": receiver.url("slack")})
    [slack] = receiver.delivered("slack")
    assert slack["blocks"][1]["text"]["text"] == "R&amp;D's &lt;bot&gt; spent more."


@pytest.fixture
def smtp_ca(tmp_path, monkeypatch) -> ThrowawayCA:
    """A CA this process trusts (as the system's would be), whose certificate the SMTP server shows."""
    ca = ThrowawayCA.make(tmp_path / "smtp-ca", ["localhost"])
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_pem))
    return ca


def test_an_email_goes_through_a_real_smtp_server_over_starttls(sqlite_store, smtp_ca):
    smtp = SmtpReceiver(smtp_ca, login=("offgate", "s3cret"))
    try:
        [alert] = raise_alerts(sqlite_store, spike())
        counts = deliver(sqlite_store, email={"host": "localhost", "port": smtp.port, "username": "offgate",
                                              "password": "s3cret",
                                              "sender": "offgate@example.com",
                                              "to": ["finops@example.com", "it@example.com"]})
    finally:
        smtp.stop()
    assert counts == DeliveryCounts(sent=1)
    [(recipients, message)] = smtp.messages
    assert recipients == ["finops@example.com", "it@example.com"]
    assert message["Subject"] == f"[offgate] {HEADLINE}"
    assert (message["From"], message["To"]) == ("offgate@example.com", "finops@example.com, it@example.com")
    assert message.get_content().replace("\r\n", "\n") == (
        f"{SENTENCE}\n\nWhen: 2026-11-20 11:00 UTC\nObserved: $12.00\nUsual: $2.00\nq-value: 0.00015\n"
        f"Alert: {alert.id}\n\nAcknowledge it with: offgate alerts ack {alert.id}\n")


@pytest.mark.e2e
def test_a_desktop_notification_reaches_the_session_bus(sqlite_store, receiver):
    with notification_daemon() as daemon:
        raise_alerts(sqlite_store, spike(), spike("bob", severity="critical"))
        counts = deliver(sqlite_store, desktop=True)
        assert daemon.shown() == [("offgate", "Critical: cost spike for user bob", "bob spent a lot."),
                                  ("offgate", HEADLINE, SENTENCE)]
        assert [shown.hints for shown in daemon.received()] == [{"urgency": 2}, {"urgency": 1}]  # critical, normal
    assert counts == DeliveryCounts(sent=2)


@pytest.mark.parametrize(("fields", "title", "figures"), [
    ({"kind": "surge", "severity": "info", "dimension": "device", "entity": "laptop-7", "metric": "calls",
      "statistic": 480.0, "baseline": 12.0}, "Info: surge in calls for device laptop-7",
     [("Observed", "480"), ("Usual", "12")]),
    ({"kind": "budget", "severity": "critical", "dimension": "total", "entity": "all", "metric": "cost_usd",
      "statistic": 1234.5, "baseline": 1000.0}, "Critical: budget at risk for all unmanaged usage",
     [("Month-end forecast", "$1,234.50"), ("Budget", "$1,000.00")]),
    ({"kind": "first_seen", "severity": "warning", "dimension": "app", "entity": "claude.ai",
      "metric": "first_call", "statistic": 3.0, "baseline": 0.0}, "Warning: new app claude.ai",
     [("Calls so far", "3")]),
    ({"kind": "unmanaged_share", "severity": "warning", "dimension": "total", "entity": "all", "metric": "share",
      "statistic": 0.42, "baseline": 0.1}, "Warning: unmanaged share rising for all unmanaged usage",
     [("Share now", "42%"), ("Share before", "10%")]),
    ({"kind": "approval_decided", "severity": "warning", "dimension": "user", "entity": "alice@example.com",
      "metric": "approval"}, "Warning: approval request decided for user alice@example.com's call at the gateway", []),
])
def test_every_kind_of_alert_has_a_headline_and_named_figures(fields, title, figures):
    alert = Alert(ts=NOW, message="A sentence.", **fields)
    assert headline(alert) == title
    assert facts(alert) == [("When", "2026-11-20 12:05 UTC"), *figures, ("Alert", alert.id)]


# -- failures ----------------------------------------------------------------------------


def test_a_webhook_answering_500_is_retried_within_the_tick(store, receiver, caplog):
    receiver.answer("hook/secret-token", 500, 200)
    [alert] = raise_alerts(store, spike())
    with caplog.at_level(logging.WARNING, logger="offgate.notify"):
        counts = deliver(store, webhook={"url": receiver.url("hook/secret-token")})
    assert counts == DeliveryCounts(sent=1)
    assert [post.status for post in receiver.posts] == [500, 200]
    assert receiver.delivered("hook/secret-token") == [alert.to_json()]
    assert caplog.messages == [
        f"notify webhook: alert {alert.id} not delivered (attempt 1 of 4): http://127.0.0.1:{receiver.port}/… "
        "answered 500 Internal Server Error; retrying in 1 s"]
    assert deliver(store, NOW + timedelta(minutes=5), webhook={"url": receiver.url("hook/secret-token")}) \
        == DeliveryCounts()  # sent once, never again


def test_a_refused_port_is_retried_on_later_ticks_then_given_up(store, caplog):
    url = f"http://127.0.0.1:{free_port()}/hooks/secret-token"
    [alert] = raise_alerts(store, spike())
    with caplog.at_level(logging.WARNING, logger="offgate.notify"):
        first = deliver(store, webhook={"url": url})
        second = deliver(store, NOW + timedelta(minutes=5), webhook={"url": url})
        third = deliver(store, NOW + timedelta(minutes=10), webhook={"url": url})
    assert (first, second, third) == (DeliveryCounts(failed=1), DeliveryCounts(gave_up=1), DeliveryCounts())
    attempts = [record.getMessage().split(": ", 1)[1].split(":")[0] for record in caplog.records]
    assert attempts == [f"alert {alert.id} not delivered (attempt {n} of 4)" for n in (1, 2, 3)] + [
        f"gave up on alert {alert.id} (attempt 4 of 4)"]
    assert all("Connection refused" in message for message in caplog.messages)
    assert "secret-token" not in caplog.text
    assert caplog.records[-1].levelno == logging.ERROR


def test_an_smtp_server_refusing_the_login_is_logged_without_the_password(sqlite_store, smtp_ca, caplog):
    smtp = SmtpReceiver(smtp_ca, login=("offgate", "right"))
    try:
        raise_alerts(sqlite_store, spike())
        with caplog.at_level(logging.WARNING, logger="offgate.notify"):
            counts = deliver(sqlite_store, retries=0, email={
                "host": "localhost", "port": smtp.port, "username": "offgate", "password": "wrong-password",
                "to": ["finops@example.com"]})
    finally:
        smtp.stop()
    assert counts == DeliveryCounts(gave_up=1)
    assert smtp.messages == []
    [line] = caplog.messages
    assert f"SMTP server localhost:{smtp.port} refused the login of 'offgate': 535" in line
    assert "wrong-password" not in caplog.text


def test_an_smtp_server_that_is_not_there_is_logged(sqlite_store, caplog):
    port = free_port()
    raise_alerts(sqlite_store, spike())
    with caplog.at_level(logging.WARNING, logger="offgate.notify"):
        counts = deliver(sqlite_store, retries=0, email={"host": "127.0.0.1", "port": port, "to": ["it@example.com"]})
    assert counts == DeliveryCounts(gave_up=1)
    assert caplog.messages[0].endswith(f"cannot reach the SMTP server 127.0.0.1:{port}: Connection refused")


def test_an_smtp_certificate_nobody_trusts_is_refused(sqlite_store, tmp_path, caplog):
    smtp = SmtpReceiver(ThrowawayCA.make(tmp_path / "untrusted", ["localhost"]), login=("offgate", "s3cret"))
    try:
        raise_alerts(sqlite_store, spike())
        with caplog.at_level(logging.WARNING, logger="offgate.notify"):
            counts = deliver(sqlite_store, retries=0, email={"host": "localhost", "port": smtp.port,
                                                             "username": "offgate", "password": "s3cret",
                                                             "to": ["it@example.com"]})
    finally:
        smtp.stop()
    assert counts == DeliveryCounts(gave_up=1)
    assert smtp.messages == []
    assert f"TLS with the SMTP server localhost:{smtp.port} failed: CERTIFICATE_VERIFY_FAILED" in caplog.text


class BrokenChannel:
    name = "broken"

    def send(self, alert: Alert) -> None:
        raise KeyError("a bug")

    def close(self) -> None:
        pass


def test_a_bug_in_a_channel_is_logged_and_the_other_channels_deliver(sqlite_store, receiver, caplog):
    [alert] = raise_alerts(sqlite_store, spike())
    notify = NotifySettings(desktop=False, retries=0, webhook=ChannelUrl(url=receiver.url("hook")))
    dispatcher = Dispatcher(sqlite_store, notify, [BrokenChannel(), *channels_from(notify)])
    with caplog.at_level(logging.WARNING, logger="offgate.notify"):
        assert dispatcher.deliver(NOW) == DeliveryCounts(sent=1, gave_up=1)
    assert caplog.messages == [f"notify broken: gave up on alert {alert.id} (attempt 1 of 1): unexpected KeyError"]
    assert receiver.delivered("hook") == [alert.to_json()]


def test_without_a_desktop_session_the_desktop_fails_and_the_others_deliver(sqlite_store, receiver, monkeypatch,
                                                                             caplog):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    raise_alerts(sqlite_store, spike())
    with caplog.at_level(logging.WARNING):
        counts = deliver(sqlite_store, desktop=True, webhook={"url": receiver.url("hook")})
    assert counts == DeliveryCounts(sent=1, failed=1)
    assert len(receiver.delivered("hook")) == 1
    assert [record.name for record in caplog.records] == ["offgate.notify", "offgate.notify"]  # nothing else
    assert caplog.messages[0].startswith("notify desktop: alert ")
    assert "no desktop notification service took it: DBUS_SESSION_BUS_ADDRESS not set" in caplog.messages[0]


@pytest.mark.e2e
def test_on_a_session_bus_without_a_notification_daemon_the_desktop_fails_and_says_why(sqlite_store, receiver,
                                                                                        caplog):
    raise_alerts(sqlite_store, spike())
    with private_session_bus(), caplog.at_level(logging.WARNING):
        counts = deliver(sqlite_store, desktop=True, webhook={"url": receiver.url("hook")})
    assert counts == DeliveryCounts(sent=1, failed=1)
    assert len(receiver.delivered("hook")) == 1
    assert [record.name for record in caplog.records] == ["offgate.notify", "offgate.notify"]  # nothing else
    assert caplog.messages[1].startswith("notify desktop: alert ")
    assert caplog.messages[1].endswith(": no desktop notification service took it: The name "
                                       "org.freedesktop.Notifications was not provided by any .service files; "
                                       "retrying on the next tick")


def test_over_the_hourly_limit_alerts_wait_most_severe_first(store, receiver):
    raise_alerts(store, spike("a", hour=1), spike("b", hour=2), spike("c", "critical", hour=3),
                 spike("d", hour=4), spike("e", "critical", hour=5))
    hook = {"webhook": {"url": receiver.url("hook")}, "max_per_hour": 2}
    assert deliver(store, **hook) == DeliveryCounts(sent=2, waiting=3)
    assert deliver(store, NOW + timedelta(minutes=59), **hook) == DeliveryCounts(waiting=3)
    assert deliver(store, NOW + timedelta(minutes=61), **hook) == DeliveryCounts(sent=2, waiting=1)
    assert deliver(store, NOW + timedelta(minutes=122), **hook) == DeliveryCounts(sent=1)
    assert [body["entity"] for body in receiver.delivered("hook")] == ["c", "e", "a", "b", "d"]


def test_the_hourly_limit_counts_what_another_process_sent(store, store_url, receiver):
    raise_alerts(store, spike("a"), spike("b"), spike("c"))
    hook = {"webhook": {"url": receiver.url("hook")}, "max_per_hour": 2}
    assert deliver(store, **hook) == DeliveryCounts(sent=2, waiting=1)
    with Store.open(store_url) as other:  # another watcher's
        assert deliver(other, NOW + timedelta(minutes=1), **hook) == DeliveryCounts(waiting=1)


def test_only_alerts_at_or_above_min_severity_are_sent(store, receiver):
    raise_alerts(store, spike("quiet", "info"), spike("usual", "warning"), spike("loud", "critical"))
    assert deliver(store, min_severity="critical", webhook={"url": receiver.url("hook")}) == DeliveryCounts(sent=1)
    assert deliver(store, min_severity="warning", webhook={"url": receiver.url("hook")}) == DeliveryCounts(sent=1)
    assert [body["entity"] for body in receiver.delivered("hook")] == ["loud", "usual"]


def test_acknowledged_and_day_old_alerts_are_not_sent(sqlite_store, receiver):
    [acked] = raise_alerts(sqlite_store, spike("acked"))
    AlertStore(sqlite_store).ack(acked.id, by="pat", now=NOW)
    raise_alerts(sqlite_store, spike("old"), now=NOW - timedelta(hours=25))
    raise_alerts(sqlite_store, spike("fresh", hour=10))
    assert deliver(sqlite_store, webhook={"url": receiver.url("hook")}) == DeliveryCounts(sent=1)
    assert [body["entity"] for body in receiver.delivered("hook")] == ["fresh"]


# -- settings ----------------------------------------------------------------------------


def test_a_webhook_url_must_be_http(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFGATE_NOTIFY__SLACK__URL", "hooks.slack.com/services/T0/B0/x")
    with pytest.raises(ConfigError, match=r"OFFGATE_NOTIFY__SLACK__URL: notify.slack.url: .*must be an http:// "
                                          r"or https:// URL"):
        load_settings(tmp_path)


def test_email_needs_a_recipient(tmp_path):
    (tmp_path / "config.toml").write_text('[notify.email]\nhost = "smtp.example.com"\npassword = "pw"\n')
    with pytest.raises(ConfigError, match=r"notify.email.to: .*lists no recipient, but email.host is set") as error:
        load_settings(tmp_path)
    assert "pw" not in str(error.value)
