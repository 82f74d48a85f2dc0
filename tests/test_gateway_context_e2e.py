"""Richer gateway logs in a real LiteLLM proxy: a call through the real offgate proxy to the
gateway carries offgate's context (device, calling app, its user) as x-offgate-* headers; the
pre-call hook loaded from config.yaml turns them into LiteLLM tags and spend-log metadata, and
the spend callback offgate receives from LiteLLM has them. A context header the client forged
is replaced by the proxy's; the provider behind the gateway never sees any of it."""

from __future__ import annotations

import getpass
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from offgate.store import Store
from offgate.store.schema import SpendLogRow
from tests.support.litellm_gateway import gateway_environment, running_litellm, write_gateway_config
from tests.support.openai_responder import openai_responder
from tests.support.proxy_harness import RunningProxy
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-offgate-context-" + secrets.token_hex(8)
DEVICE = "laptop-7"


@dataclass
class World:
    gateway: str
    proxy: RunningProxy
    home: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream) -> Iterator[World]:
    upstream.responder = openai_responder
    home = tmp_path_factory.mktemp("home")
    (home / "config.toml").write_text(f'[device]\nname = "{DEVICE}"\n')
    config_dir = tmp_path_factory.mktemp("litellm")
    callbacks = "[analytics.litellm_callback.offgate_spend_logger, governance.litellm_hook.offgate_governance]"
    write_gateway_config(config_dir, f"http://127.0.0.1:{upstream.port}/v1", "sk-fake-provider-key", MASTER_KEY,
                         callbacks)
    environment = gateway_environment(home)
    with running_litellm(config_dir, environment) as gateway:
        proxy = RunningProxy(home, gateways=[gateway])
        proxy.start()
        try:
            yield World(gateway, proxy, home)
        finally:
            proxy.stop()


def spend_rows(home: Path) -> list[dict[str, Any]]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return [json.loads(raw) for (raw,) in SpendLogRow.select(SpendLogRow.raw_json).tuples().execute(
            store.database)]


def test_the_spend_callback_gets_offgates_context_as_tags_and_metadata(world: World, upstream: FakeUpstream) -> None:
    with httpx.Client(proxy=world.proxy.url, timeout=60) as client:
        answer = client.post(f"{world.gateway}/v1/chat/completions",
                             headers={"Authorization": f"Bearer {MASTER_KEY}", "x-offgate-user": "ceo"},
                             json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "usage 21 7"}]})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 30
    while not (rows := spend_rows(world.home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    [row] = rows
    app = psutil.Process().name()  # the client is this process
    me = getpass.getuser()
    assert [tag for tag in row["request_tags"] if tag.startswith("offgate-")] == [
        f"offgate-device:{DEVICE}", f"offgate-app:{app}", f"offgate-user:{me}"]  # not the forged "ceo"
    assert row["metadata"]["spend_logs_metadata"] == {
        "offgate_device": DEVICE, "offgate_app": app, "offgate_user": me}
    [completion] = [received for received in upstream.received if received.path.endswith("/chat/completions")]
    assert not [name for name in completion.headers if name.lower().startswith("x-offgate-")]
