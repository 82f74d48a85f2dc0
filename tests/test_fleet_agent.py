"""A workstation's side of the fleet, as its user or an MDM script runs it: `offgate enroll`
over HTTPS with a throw-away CA (and refused without it, or over plain http to another
machine), the credential kept 0600, `offgate push`, a revoked device that stops pushing and
says so in `offgate status`, and the admin's token and serve commands refusing bad input."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.enrolment import CREDENTIAL_FILE
from fleet.pusher import backoff
from offgate.events import UsageEvent
from tests.support.fleet_world import Collector, central_environment, offgate
from tests.support.web_apps import ThrowawayCA

pytestmark = pytest.mark.e2e  # offgate commands and a collector as their own processes

T0 = datetime.now(UTC) - timedelta(hours=2)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    return ThrowawayCA.make(tmp_path_factory.mktemp("tls"), ["localhost"])


@pytest.fixture(scope="module")
def collector(central: str, tls: ThrowawayCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    running = Collector(central, tmp_path_factory.mktemp("collector") / "home", "--tls-cert", str(tls.cert_pem),
                        "--tls-key", str(tls.key_pem), ca_file=tls.ca_pem).start()
    yield running
    running.stop()


def token(central: str, *options: str) -> str:
    made = offgate(Path("/tmp"), "fleet", "token", "create", *options, environment=central_environment(central))
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def with_records(home: Path, count: int, device: str = "my-laptop") -> None:
    calls = home.parent / f"{home.name}-calls.jsonl"
    calls.write_text("".join(
        UsageEvent(ts=T0 + timedelta(seconds=number), host="api.openai.com", path="/v1/chat/completions",
                   provider="openai", model="gpt-4o-mini", prompt_tokens=100 + number, completion_tokens=10,
                   cost_usd=0.0001, device=device).model_dump_json() + "\n" for number in range(count)))
    imported = offgate(home, "events", "import", str(calls))
    assert imported.returncode == 0, imported.stderr


def central_devices(central: str) -> dict[str, dict[str, object]]:
    listed = offgate(Path("/tmp"), "fleet", "devices", "--json", environment=central_environment(central))
    assert listed.returncode == 0, listed.stderr
    return {device["name"]: device for device in json.loads(listed.stdout)}


def test_enrolment_over_https_with_the_companys_ca_keeps_a_private_credential_and_pushes(
        collector: Collector, central: str, tls: ThrowawayCA, tmp_path: Path) -> None:
    home = tmp_path / "alice"
    with_records(home, 1500)
    enrolled = offgate(home, "enroll", collector.url, "--token", token(central, "--uses", "1"), "--name",
                       "alice-laptop", "--owner", "alice", "--ca-file", str(tls.ca_pem))
    assert enrolled.returncode == 0, enrolled.stderr
    credential = home / CREDENTIAL_FILE
    assert f"enrolled as device alice-laptop at {collector.url}; credential in {credential}" in enrolled.stdout
    assert (f"pushed 1500 outbox entries in 2 batches to {collector.url}: 1500 records new there, 0 it had "
            "already, 0 deleted; 0 waiting") in enrolled.stdout
    assert stat.S_IMODE(credential.stat().st_mode) == 0o600
    assert json.loads(credential.read_text())["credential"].startswith("ogd_")
    assert [path.name for path in home.iterdir() if path.name.startswith(".fleet")] == []  # no temporary left
    device = central_devices(central)["alice-laptop"]
    assert (device["owner"], device["records_stored"], device["pending"]) == ("alice", 1500, 0)

    with_records(home, 3)
    pushed = offgate(home, "push", "--once")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 3 outbox entries in 1 batches" in pushed.stdout
    status = offgate(home, "status")
    assert f"fleet:     device alice-laptop at {collector.url}, enrolled " in status.stdout
    assert "0 outbox entries waiting" in status.stdout


def test_a_collector_the_system_does_not_trust_is_refused_and_nothing_is_kept(
        collector: Collector, central: str, tmp_path: Path) -> None:
    home = tmp_path / "bob"
    enrolled = offgate(home, "enroll", collector.url, "--token", token(central))
    assert enrolled.returncode == 1
    assert f"offgate: error: cannot reach the collector at {collector.url}: " in enrolled.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in enrolled.stderr
    assert not (home / CREDENTIAL_FILE).exists()


def test_plain_http_to_another_machine_is_refused_unless_allowed(tmp_path: Path) -> None:
    refused = offgate(tmp_path, "enroll", "http://offgate.example.com:8443", "--token", "ogt_x")
    assert refused.returncode == 2
    assert ("'http://offgate.example.com:8443' is plain http to another machine: use https, or --allow-plain-http "
            "if a TLS-terminating proxy or a trusted network protects it") in " ".join(refused.stderr.split())
    assert not (tmp_path / CREDENTIAL_FILE).exists()


def test_a_revoked_device_stops_pushing_says_so_and_resumes_once_enrolled_again(
        collector: Collector, central: str, tls: ThrowawayCA, tmp_path: Path) -> None:
    home = tmp_path / "carol"
    with_records(home, 2)
    assert offgate(home, "enroll", collector.url, "--token", token(central), "--name", "carol-laptop",
                   "--ca-file", str(tls.ca_pem)).returncode == 0
    revoked = offgate(tmp_path, "fleet", "revoke", "carol-laptop", environment=central_environment(central))
    assert revoked.returncode == 0, revoked.stderr
    with_records(home, 4)
    refused_lines = collector.log.read_text().count("refused (device_revoked)")
    pushed = offgate(home, "push", "--once")
    assert pushed.returncode == 1
    said = " ".join(pushed.stderr.split())
    assert "offgate: error: the collector refused this device's credential (device_revoked: device carol-laptop " \
           "was revoked at " in said
    assert ("pushing has stopped; records are still recorded here, and `offgate enroll` with a new token resumes "
            "the pushing") in said
    status = " ".join(offgate(home, "status").stdout.split())
    assert f"fleet: REVOKED: device carol-laptop at {collector.url} no longer takes this device's pushes" in status
    assert "4 outbox entries waiting" in status
    assert offgate(home, "push", "--once").returncode == 1
    assert collector.log.read_text().count("refused (device_revoked)") == refused_lines + 1  # asked no more
    assert central_devices(central)["carol-laptop"]["records_stored"] == 2

    again = offgate(home, "enroll", collector.url, "--token", token(central), "--name", "carol-laptop-2",
                    "--ca-file", str(tls.ca_pem))
    assert again.returncode == 0, again.stderr
    assert "pushed 6 outbox entries in 1 batches" in again.stdout  # everything, anew, to the new device
    assert "REVOKED" not in offgate(home, "status").stdout


def test_the_token_is_printed_once_alone_and_lists_never_show_it(central: str, tmp_path: Path) -> None:
    environment = central_environment(central)
    made = offgate(tmp_path, "fleet", "token", "create", "--expires", "2h", "--uses", "5", "--note", "laptops",
                   environment=environment)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("ogt_") and "\n" not in secret
    assert "enrols up to 5 devices" in made.stderr
    listed = offgate(tmp_path, "fleet", "token", "list", "--json", environment=environment)
    assert secret not in listed.stdout
    mine = [token for token in json.loads(listed.stdout) if token["note"] == "laptops"]
    assert [(token["max_uses"], token["uses"]) for token in mine] == [(5, 0)]
    bad = offgate(tmp_path, "fleet", "token", "create", "--expires", "soon", environment=environment)
    assert bad.returncode == 2
    assert "--expires: 'soon' is not a length of time" in bad.stderr


def test_the_admin_commands_and_the_collector_need_the_central_postgresql(tmp_path: Path, central: str) -> None:
    for command in (["serve"], ["fleet", "devices"], ["fleet", "token", "create"]):
        refused = offgate(tmp_path, *command)
        assert refused.returncode == 2, command
        assert "this works on the central PostgreSQL database: set OFFGATE_DATABASE_URL=postgresql://" in \
            " ".join(refused.stderr.split())
    beyond_loopback = offgate(tmp_path, "serve", "--listen-host", "0.0.0.0", environment=central_environment(central))
    assert beyond_loopback.returncode == 2
    assert ("0.0.0.0 is beyond loopback and no certificate is given: serve HTTPS with --tls-cert and --tls-key, or "
            "add --allow-plain-http behind a TLS-terminating proxy") in " ".join(beyond_loopback.stderr.split())
    half = offgate(tmp_path, "serve", "--tls-cert", str(tmp_path / "x.pem"), environment=central_environment(central))
    assert half.returncode == 2 and "--tls-cert and --tls-key go together" in half.stderr


def test_with_nothing_to_push_the_agent_still_says_it_is_alive(collector: Collector, central: str,
                                                               tls: ThrowawayCA, tmp_path: Path) -> None:
    home = tmp_path / "quiet"
    assert offgate(home, "enroll", collector.url, "--token", token(central), "--name", "quiet-laptop",
                   "--ca-file", str(tls.ca_pem), "--no-push").returncode == 0
    assert central_devices(central)["quiet-laptop"]["last_seen_at"] is None
    pushed = offgate(home, "push", "--once")
    assert pushed.returncode == 0, pushed.stderr
    assert "pushed 0 outbox entries in 1 batches" in pushed.stdout
    device = central_devices(central)["quiet-laptop"]
    assert device["last_seen_at"] is not None and device["running"]["proxy"] is False


def test_the_pause_between_failed_pushes_doubles_up_to_five_minutes_half_of_it_random() -> None:
    pauses = {failures: [backoff(failures) for _ in range(200)] for failures in (1, 2, 3, 9, 10, 40)}
    for failures, ceiling in ((1, 1), (2, 2), (3, 4), (9, 256), (10, 300), (40, 300)):
        assert all(ceiling / 2 <= pause <= ceiling for pause in pauses[failures]), failures
        assert len(set(pauses[failures])) > 150  # jittered, so a fleet coming back does not knock at once
