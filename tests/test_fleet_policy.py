"""The central policy reaches enrolled agents, every part real and in its own process: a
collector (`offgate serve`) on a real PostgreSQL, an enrolled workstation home whose `offgate
proxy` calls a fake OpenAI, and the admin's `offgate fleet policy set`. A policy set centrally
is applied after the agent's next push, by the running proxy (no restart), over the home's own
[policy]; a bad one is refused at `set` naming its line, and one that does not validate on the
agent (set by another offgate, say) is never applied. The collector's policy endpoint answers
only enrolled devices and says when nothing changed (304)."""

from __future__ import annotations

import json
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleet.enrolment import CREDENTIAL_FILE
from fleet.registry import Registry
from fleet.wire import INGEST_PATH, POLICY_PATH
from offgate.store import Store
from offgate.store.policies import CentralPolicies
from tests.support.fleet_world import Collector, central_environment, offgate, start_offgate, wait_for
from tests.support.ports import free_port
from tests.support.upstream import FakeUpstream, Scenario
from tests.test_fleet_e2e import proxy_options, wait_for_proxy

pytestmark = pytest.mark.e2e  # a collector and a proxy as their own processes

LOCAL_POLICY = """
[[policy.rules]]
name = "local: openai is fine"
action = "allow"
provider = "openai"
"""
BLOCK_OPENAI = """
[policy]
enforce_block = true

[[policy.rules]]
name = "company: no direct openai"
action = "block"
provider = "openai"
message = "Use the company's gateway."
"""
COACH_OPENAI = """
[policy]

[[policy.rules]]
name = "company: coach openai"
action = "coach"
provider = "openai"
message = "The gateway is cheaper."
"""
BAD_RULE = """
[policy]

[[policy.rules]]
name = "company: nudge openai"
provider = "openai"
action = "nudge"
message = "The gateway is cheaper."
"""
CHAT_URL = "https://api.openai.com/v1/chat/completions"


@pytest.fixture(scope="module")
def collector(central: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    running = Collector(central, tmp_path_factory.mktemp("collector") / "home").start()
    yield running
    running.stop()


def admin(tmp_path: Path, central: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    # A wide terminal: the error's lines are compared whole.
    return offgate(tmp_path, "fleet", "policy", *arguments,
                   environment={**central_environment(central), "COLUMNS": "400"})


def policy_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def enrolled_home(tmp_path: Path, collector: Collector, central: str, name: str) -> Path:
    home = tmp_path / name
    home.mkdir()
    (home / "config.toml").write_text(LOCAL_POLICY, encoding="utf-8")
    with Store.open(central) as store:
        token = Registry(store).create_token(None, 1, "tests").secret
    enrolled = offgate(home, "enroll", collector.url, "--token", token, "--name", name, "--no-push")
    assert enrolled.returncode == 0, enrolled.stderr
    return home


def chat(home: Path, port: int, upstream: FakeUpstream) -> httpx.Response:
    answer = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "model": "gpt-4o-mini",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
    headers = upstream.add(answer["id"], Scenario(headers={"content-type": "application/json"},
                                                  chunks=[json.dumps(answer).encode()]))
    trusting = ssl.create_default_context(cafile=home / "ca" / "mitmproxy-ca-cert.pem")
    with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=trusting, timeout=30) as client:
        return client.post(CHAT_URL, headers={**headers, "authorization": "Bearer sk-own-key"},
                           json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})


def outcomes(home: Path) -> list[tuple[int | None, str | None, str | None]]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return [(event.status_code, event.policy_outcome, event.policy_rule)
                for event in sorted(store.events(), key=lambda event: event.ts)]


def push(home: Path) -> str:
    pushed = offgate(home, "push", "--once")
    assert pushed.returncode == 0, pushed.stderr
    return pushed.stdout


def proxy_log_says(log: Path, text: str, times: int) -> bool:
    return log.exists() and log.read_text(errors="replace").count(text) >= times


def test_a_policy_set_centrally_is_applied_by_the_running_proxy_after_the_next_push(
        collector: Collector, central: str, upstream: FakeUpstream, tmp_path: Path) -> None:
    home = enrolled_home(tmp_path, collector, central, "laptop-1")
    port = free_port()
    log = tmp_path / "laptop-1-proxy.log"
    proxy = start_offgate(home, "proxy", "--listen-port", str(port), *proxy_options(upstream), log=log)
    try:
        wait_for_proxy(home, port, proxy)
        assert chat(home, port, upstream).status_code == 200  # the local policy allows it

        refused = admin(tmp_path, central, "set", str(policy_file(tmp_path, BAD_RULE)))
        assert refused.returncode != 0
        assert ", line 7: policy.rules.0.action: Input should be 'allow', 'coach', 'block' or 'require_approval'" in \
            refused.stderr
        assert "no central policy" in admin(tmp_path, central, "show").stdout  # nothing was set

        made = admin(tmp_path, central, "set", str(policy_file(tmp_path, BLOCK_OPENAI)))
        assert made.returncode == 0, made.stderr
        assert "1 rules (sets enforce_block, rules); agents apply it after their next push" in made.stdout
        assert "the central policy version" in push(home)
        wait_for(lambda: proxy_log_says(log, "the central policy is in force", 1), "the proxy to apply it",
                 logs=(log,))
        blocked = chat(home, port, upstream)
        assert blocked.status_code == 403
        assert blocked.json()["error"]["message"].startswith(
            "offgate: direct calls to openai are blocked by the company's AI policy (rule 'company: no direct "
            "openai'). Use the company's gateway.")

        assert admin(tmp_path, central, "set", str(policy_file(tmp_path, COACH_OPENAI))).returncode == 0
        push(home)
        wait_for(lambda: proxy_log_says(log, "the central policy is in force", 2), "the proxy to apply the next one",
                 logs=(log,))
        assert chat(home, port, upstream).status_code == 200
        wait_for(lambda: len(outcomes(home)) == 3, "the three calls recorded", logs=(log,))
        assert outcomes(home) == [(200, None, None), (403, "blocked", "company: no direct openai"),
                                  (200, "coached", "company: coach openai")]

        # A policy this agent cannot validate (another offgate wrote it) is never applied.
        with Store.open(central) as store:
            CentralPolicies(store).set('{"rules": [{"name": "no message", "action": "coach"}]}', "someone")
        said = push(home)
        assert "is not valid on this agent (rules.0: Value error, a coach rule needs a message" in said
        assert "not applied, the policy in force stays" in said
        status = offgate(home, "status").stdout
        assert "policy error: the central policy version" in status and "policy:    the central policy" in status
    finally:
        proxy.terminate()
        proxy.wait(60)

    # Kept in the store: a proxy started again (the collector out of the picture) coaches at once.
    collector_free = tmp_path / "laptop-1-proxy-again.log"
    again = start_offgate(home, "proxy", "--listen-port", str(port), *proxy_options(upstream), log=collector_free)
    try:
        wait_for_proxy(home, port, again)
        wait_for(lambda: proxy_log_says(collector_free, "the central policy is in force", 1),
                 "the restarted proxy to read the kept policy", logs=(collector_free,))
        assert chat(home, port, upstream).status_code == 200
        wait_for(lambda: len(outcomes(home)) == 4, "the fourth call recorded", logs=(collector_free,))
        assert outcomes(home)[-1] == (200, "coached", "company: coach openai")
    finally:
        again.terminate()
        again.wait(60)


def test_the_policy_endpoint_answers_enrolled_devices_and_says_when_nothing_changed(
        collector: Collector, central: str, tmp_path: Path) -> None:
    home = enrolled_home(tmp_path, collector, central, "laptop-2")
    credential = json.loads((home / CREDENTIAL_FILE).read_text())["credential"]
    assert httpx.get(collector.url + POLICY_PATH).status_code == 401
    assert httpx.get(collector.url + POLICY_PATH, headers={"Authorization": "Bearer ogd_unknown"}).status_code == 401

    assert admin(tmp_path, central, "set", str(policy_file(tmp_path, COACH_OPENAI))).returncode == 0
    authorised = {"Authorization": f"Bearer {credential}"}
    answer = httpx.get(collector.url + POLICY_PATH, headers=authorised)
    assert answer.status_code == 200
    version = answer.json()["version"]
    assert answer.headers["ETag"] == f'"{version}"'
    assert answer.json()["policy"] == {"rules": [{"name": "company: coach openai", "action": "coach",
                                                  "provider": ["openai"], "message": "The gateway is cheaper."}]}
    unchanged = httpx.get(collector.url + POLICY_PATH, headers={**authorised, "If-None-Match": f'"{version}"'})
    assert (unchanged.status_code, unchanged.content) == (304, b"")

    heartbeat = {"outbox": "o-1", "records": [], "record_seqs": [], "deletions": [], "agent": {
        "version": "0.1.0", "running": {"proxy": False, "native_host": False},
        "last_records": {"proxy": None, "extension": None}, "pending": 0}}
    acknowledged = httpx.post(collector.url + INGEST_PATH, json=heartbeat, headers=authorised)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["policy_version"] == version

    assert admin(tmp_path, central, "clear").returncode == 0
    cleared = httpx.get(collector.url + POLICY_PATH, headers={**authorised, "If-None-Match": f'"{version}"'})
    assert cleared.status_code == 200 and cleared.json()["policy"] is None
    assert "no central policy" in admin(tmp_path, central, "show").stdout
