"""`offgate watch`, `offgate alerts` and `offgate alerts ack` as a user runs them: usage in
the store, an anomaly, the watcher as a real process, and the notification arriving on a
private D-Bus session, at webhook, Slack- and Teams-shaped receivers, and by SMTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics.watch import Watcher
from offgate.cli import app
from offgate.config import load_settings
from offgate.events import UsageEvent
from offgate.store import Store
from offgate.store.approvals import ApprovalStore, Hold
from tests.support.notification_daemon import notification_daemon
from tests.support.notify_receivers import SmtpReceiver, WebhookReceiver
from tests.support.ports import free_port
from tests.support.web_apps import ThrowawayCA

pytestmark = pytest.mark.e2e

runner = CliRunner(env={"COLUMNS": "250"})
SPIKE_CALLS, SPIKE_CALL_USD = 50, 0.50


def offgate(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def offgate_process(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offgate", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **env})


def record_usage(home: Path, spike: bool) -> datetime:
    """Three quiet weeks of alice's direct OpenAI calls (1-3 an hour, $0.10 each), and with
    `spike` 50 calls at $0.50 ($25) in the last full hour; returns that hour's start."""
    now = datetime.now(UTC)
    spike_hour = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    events = []
    hour = spike_hour - timedelta(days=21)
    while hour < spike_hour:
        for n in range(1 + (hour.day + hour.hour) % 3):
            events.append(call(hour + timedelta(minutes=5 + 15 * n), cost_usd=0.10))
        hour += timedelta(hours=1)
    if spike:
        events += [call(spike_hour + timedelta(minutes=n), cost_usd=SPIKE_CALL_USD) for n in range(SPIKE_CALLS)]
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        store.add(events)
    return spike_hour


def call(ts: datetime, cost_usd: float) -> UsageEvent:
    return UsageEvent(ts=ts, host="api.openai.com", path="/v1/chat/completions", provider="openai",
                      endpoint="chat.completions", model="gpt-4o-mini", prompt_tokens=1200, completion_tokens=300,
                      cost_usd=cost_usd, user="alice", device="laptop-alice", process_name="python3")


def write_config(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text)


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def test_watch_once_notifies_a_spike_on_every_channel(tmp_path, receiver):
    ca = ThrowawayCA.make(tmp_path / "ca", ["localhost"])
    smtp = SmtpReceiver(ca, login=("offgate", "s3cret"))
    spike_hour = record_usage(tmp_path, spike=True)
    write_config(tmp_path, f"""
[notify]
desktop = true
webhook.url = "{receiver.url('hook/T0-secret')}"
slack.url = "{receiver.url('slack')}"
teams.url = "{receiver.url('teams')}"

[notify.email]
host = "localhost"
port = {smtp.port}
username = "offgate"
password = "s3cret"
sender = "offgate@example.com"
to = ["finops@example.com"]
""")
    try:
        with notification_daemon() as daemon:
            first = offgate_process(tmp_path, "watch", "--once", SSL_CERT_FILE=str(ca.ca_pem))
            again = offgate_process(tmp_path, "watch", "--once", SSL_CERT_FILE=str(ca.ca_pem))
            shown = daemon.shown()
    finally:
        smtp.stop()
    assert first.returncode == 0, first.stderr
    assert "new alerts 1; notifications sent 5, to retry 0, given up 0, waiting 0" in first.stderr
    assert "new alerts 0; notifications sent 0, to retry 0, given up 0, waiting 0" in again.stderr

    listed = offgate(tmp_path, "alerts", "--json")
    [alert] = json.loads(listed.stdout)
    assert (alert["kind"], alert["severity"], alert["dimension"], alert["entity"], alert["metric"]) == (
        "spike", "critical", "user", "alice", "cost_usd")
    assert alert["ts"] == spike_hour.isoformat()
    assert alert["statistic"] == pytest.approx(SPIKE_CALLS * SPIKE_CALL_USD)
    assert "$25.00" in alert["message"]
    headline = "Critical: cost spike for user alice"

    assert shown == [("offgate", headline, alert["message"])]
    assert receiver.delivered("hook/T0-secret") == [alert]
    [slack] = receiver.delivered("slack")
    assert slack["blocks"][0]["text"]["text"] == headline
    assert slack["blocks"][1]["text"]["text"] == alert["message"]
    [teams] = receiver.delivered("teams")
    card = teams["attachments"][0]["content"]
    assert [block["text"] for block in card["body"][:2]] == [headline, alert["message"]]
    [(recipients, message)] = smtp.messages
    assert recipients == ["finops@example.com"]
    assert message["Subject"] == f"[offgate] {headline}"
    assert message.get_content().startswith(alert["message"] + "\r\n")


def test_watch_once_on_quiet_usage_notifies_nobody(tmp_path, receiver):
    record_usage(tmp_path, spike=False)
    write_config(tmp_path, f'[notify]\ndesktop = false\nwebhook.url = "{receiver.url("hook")}"\n')
    result = offgate_process(tmp_path, "watch", "--once")
    assert result.returncode == 0, result.stderr
    assert "new alerts 0; notifications sent 0," in result.stderr
    assert receiver.posts == []
    assert json.loads(offgate(tmp_path, "alerts", "--json").stdout) == []


def test_watch_survives_a_dead_channel_and_stops_cleanly_on_sigterm(tmp_path, receiver):
    record_usage(tmp_path, spike=True)
    write_config(tmp_path, f"""
[notify]
desktop = false
webhook.url = "{receiver.url('hook')}"
slack.url = "http://127.0.0.1:{free_port()}/services/T0/B0/secret"
""")
    watch = subprocess.Popen([sys.executable, "-m", "offgate", "--home", str(tmp_path), "watch", "--interval", "1h"],
                             stderr=subprocess.PIPE, text=True)
    assert watch.stderr is not None  # piped above
    try:
        lines = []
        for line in watch.stderr:
            lines.append(line)
            if " tick " in line:
                break
        watch.send_signal(signal.SIGTERM)
        rest = watch.stderr.read()
        assert watch.wait(60) == 0
    finally:
        watch.kill()
    log = "".join(lines) + rest
    assert "watching every 1h; notifying: webhook, slack" in log
    assert "notify slack: alert" in log and "(attempt 2 of 4): cannot reach http://127.0.0.1:" in log
    assert "new alerts 1; notifications sent 1, to retry 1, given up 0, waiting 0" in log
    assert log.rstrip().endswith("offgate.watch INFO: stopped")
    assert "secret" not in log
    assert len(receiver.delivered("hook")) == 1


def test_alerts_lists_acknowledges_and_hides_acknowledged(tmp_path):
    record_usage(tmp_path, spike=True)
    table = offgate(tmp_path, "alerts")
    assert table.exit_code == 0
    [alert] = json.loads(offgate(tmp_path, "alerts", "--json").stdout)
    assert alert["id"] in table.stdout and "critical" in table.stdout and "user: alice" in table.stdout
    assert "open alerts: 1 " in table.stdout

    acked = offgate(tmp_path, "alerts", "ack", alert["id"])
    assert acked.exit_code == 0
    assert acked.stdout.startswith(f"acknowledged {alert['id']} (by ")
    assert "open alerts: 0 " in offgate(tmp_path, "alerts").stdout
    [listed] = json.loads(offgate(tmp_path, "alerts", "--all", "--json").stdout)
    assert (listed["id"], listed["acked"]) == (alert["id"], True)


def test_alerts_since_limits_the_list(tmp_path):
    record_usage(tmp_path, spike=True)
    assert len(json.loads(offgate(tmp_path, "alerts", "--json").stdout)) == 1
    assert json.loads(offgate(tmp_path, "alerts", "--json", "--since", "1m").stdout) == []


@pytest.mark.parametrize(("args", "message"), [
    (["alerts", "ack", "0000000000"], "no alert has the id '0000000000'"),
    (["watch", "--interval", "often"], "--interval: 'often' is not a length of time: use a number and a unit"),
    (["watch", "--interval", "0s"], "--interval: '0s' is too short: the shortest interval is 1s"),
    (["alerts", "--since", "yesterday"], "--since: 'yesterday' is not a time"),
])
def test_bad_input_is_a_clear_error(tmp_path, args, message):
    result = offgate(tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize("command", [["alerts"], ["alerts", "ack"], ["watch"]])
def test_every_alert_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_alerts_raised_by_offgate_alerts_are_notified_by_the_next_watch(tmp_path, receiver):
    record_usage(tmp_path, spike=True)
    write_config(tmp_path, f'[notify]\ndesktop = false\nwebhook.url = "{receiver.url("hook")}"\n')
    [alert] = json.loads(offgate(tmp_path, "alerts", "--json").stdout)
    result = offgate_process(tmp_path, "watch", "--once")
    assert "new alerts 0; notifications sent 1," in result.stderr
    assert receiver.delivered("hook") == [alert]


def test_a_call_held_at_the_gateway_is_notified_once_to_the_approvers(tmp_path, receiver):
    write_config(tmp_path, f'[notify]\ndesktop = false\nwebhook.url = "{receiver.url("hook")}"\n')
    hold = Hold(rule="big calls", reason="estimated cost $0.012000 is over the $0.005000 per-request ceiling",
                user="alice", team="data", model="gpt-4o-mini", estimated_cost_usd=0.012)
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        ApprovalStore(store).ask([hold], "gateway hook")
    first = offgate_process(tmp_path, "watch", "--once")
    again = offgate_process(tmp_path, "watch", "--once")
    assert "new alerts 1; notifications sent 1," in first.stderr, first.stderr
    assert "new alerts 0; notifications sent 0," in again.stderr
    [alert] = receiver.delivered("hook")
    assert (alert["kind"], alert["dimension"], alert["entity"], alert["metric"]) == (
        "approval_request", "user", "alice", "approval")
    assert alert["message"] == (
        "The gateway held alice's call to gpt-4o-mini under rule 'big calls' (estimated cost $0.012000 is over the "
        f"$0.005000 per-request ceiling): `offgate approvals approve {hold.request_id}` lets it through, "
        f"`offgate approvals deny {hold.request_id}` refuses it")
    assert alert["details"]["request_id"] == hold.request_id


def test_the_requester_hears_of_each_decision_and_expiry_once_by_webhook_and_at_their_own_address(tmp_path, receiver):
    smtp = SmtpReceiver()
    write_config(tmp_path, f"""
[notify]
desktop = false
webhook.url = "{receiver.url('hook')}"

[notify.email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
sender = "offgate@example.com"
to = ["finops@example.com"]
""")
    hold = Hold(rule="big-calls", reason="estimated cost $0.800000 is over the $0.500000 per-request ceiling",
                user="alice@example.com", team="data", model="gpt-5", estimated_cost_usd=0.8)
    approved_at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    try:
        with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
            approvals = ApprovalStore(store)
            approvals.ask([hold], "gateway hook", approved_at - timedelta(minutes=5))
            approvals.approve(hold.request_id, "carol", timedelta(hours=2), 5.0, "launch week", now=approved_at)
            told_of_approval = offgate_process(tmp_path, "watch", "--once")
            approvals.deny(hold.request_id, "carol", "use gpt-5-mini", now=approved_at + timedelta(minutes=1))
            told_of_denial = offgate_process(tmp_path, "watch", "--once")
            again = offgate_process(tmp_path, "watch", "--once")
            approvals.approve(hold.request_id, "carol", timedelta(minutes=1), None,
                              now=approved_at + timedelta(minutes=2))
            told_of_expiry = offgate_process(tmp_path, "watch", "--once")  # approved for a minute, long gone
    finally:
        smtp.stop()
    assert "new alerts 1; notifications sent 2," in told_of_approval.stderr, told_of_approval.stderr
    assert "new alerts 1; notifications sent 2," in told_of_denial.stderr, told_of_denial.stderr
    assert "new alerts 0; notifications sent 0," in again.stderr, again.stderr
    assert "new alerts 2; notifications sent 4," in told_of_expiry.stderr, told_of_expiry.stderr

    call = f"Your gateway call with gpt-5 (rule 'big-calls', request {hold.request_id})"
    until = (approved_at + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    approval = f"{call} was approved by carol until {until} UTC, up to $5.00: launch week"
    denial = f"{call} was denied by carol: use gpt-5-mini"
    short = (approved_at + timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M")
    expiry = [f"{call} was approved by carol until {short} UTC",
              f"{call}: carol's approval expired at {short} UTC; the gateway holds such calls again"]
    # The request was decided before any watch ran: the approvers' alert is not raised for it any more.
    kinds = ["approval_decided", "approval_decided", "approval_decided", "approval_expired"]
    texts = [approval, denial, *expiry]
    assert [(alert["kind"], alert["entity"], alert["message"]) for alert in receiver.delivered("hook")] == [
        (kind, "alice@example.com", text) for kind, text in zip(kinds, texts, strict=True)]
    decided = "Warning: approval request decided for user alice@example.com's call at the gateway"
    ended = "Warning: approval expired for user alice@example.com's call at the gateway"
    assert [(recipients, message["To"], message["Subject"], message.get_content().split("\r\n")[0])
            for recipients, message in smtp.messages] == [
        (["finops@example.com", "alice@example.com"], "finops@example.com, alice@example.com", f"[offgate] {title}",
         text) for title, text in zip([decided, decided, decided, ended], texts, strict=True)]


def test_alerts_since_a_future_time_is_a_clear_error(tmp_path):
    result = offgate(tmp_path, "alerts", "--since", "2999-01-01")
    assert result.exit_code == 2
    assert "--since: nothing to evaluate: since (2999-01-01T00:00:00+00:00) is not before now" in result.stderr


class StopAfter(logging.Handler):
    """Sets `stop` once the watcher logged `count` lines (a tick's line, or its failure)."""

    def __init__(self, stop: threading.Event, count: int) -> None:
        super().__init__(logging.INFO)
        self.stop, self.count, self.records = stop, count, []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if len(self.records) == self.count:
            self.stop.set()


def run_for_ticks(watcher: Watcher, count: int) -> list[logging.LogRecord]:
    """Run the watcher, without pauses, for `count` ticks; what it logged."""
    stop = threading.Event()
    handler = StopAfter(stop, count)
    logger = logging.getLogger("offgate.watch")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        watcher.run(0, stop)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.records


def test_a_store_failure_in_a_tick_is_logged_and_the_watch_goes_on(tmp_path):
    record_usage(tmp_path, spike=True)
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    settings = load_settings(tmp_path, notify={"desktop": False, "webhook": {"url": "http://127.0.0.1:9/hook"}})
    watcher = Watcher(url, settings)
    with Store.open(url) as store:
        store.database.execute_sql("DROP TABLE notification")
    records = run_for_ticks(watcher, 2)
    assert [record.getMessage() for record in records] == [
        f"tick failed, trying again on the next: cannot read notifications from SQLite database "
        f"{tmp_path / 'offgate.db'}: no such table: notification"] * 2


def test_a_bug_in_a_tick_is_logged_with_its_traceback_and_the_watch_goes_on(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("analytics.watch.raise_new_alerts", broken)
    watcher = Watcher(f"sqlite:///{tmp_path / 'offgate.db'}", load_settings(tmp_path, notify={"desktop": False}))
    records = run_for_ticks(watcher, 2)
    assert [record.getMessage() for record in records] == ["tick failed, trying again on the next"] * 2
    assert all(record.exc_info is not None and str(record.exc_info[1]) == "a bug" for record in records)
