"""The proxy runs on every workstation all day (issue 17): it imports what recording needs
and nothing more. A fresh process runs the real proxy, records a call through it into a
SQLite store, and says which heavy modules it loaded meanwhile."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from offgate.store import Store
from tests.support.proxy_harness import ProxyProcess
from tests.support.upstream import FakeUpstream, Scenario

# What the proxy must not load to record a call that reports its usage into SQLite: the
# PostgreSQL drivers (peewee imports both unless offgate.store.driver hides them), the
# CLI's typer and rich, litellm, and tiktoken (needed only to estimate a call without usage).
NOT_FOR_RECORDING = ("psycopg", "psycopg2", "typer", "rich", "litellm", "tiktoken")

ANSWER = {"id": "chatcmpl-lean", "object": "chat.completion", "model": "gpt-4o-mini",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}
REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}

RECORD_ONE_CALL = """
import json, sys, urllib.request
from pathlib import Path

from tests.support.proxy_harness import proxying_to
from tests.support.upstream import FakeUpstream, Scenario

home, answer, request, *heavy = sys.argv[1:]
upstream = FakeUpstream().start()
headers = upstream.add("lean", Scenario(headers={"content-type": "application/json"}, chunks=[answer.encode()]))
for proxy in proxying_to(Path(home), upstream.port):
    # urllib, not httpx: httpx imports rich
    client = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy.url}),
                                         urllib.request.HTTPSHandler(context=proxy.ssl_context()))
    client.open(urllib.request.Request("https://api.openai.com/v1/chat/completions", request.encode(),
                                       {**headers, "content-type": "application/json"}), timeout=30).read()
    stored = proxy.wait_for_events(lambda event: True)
upstream.stop()
print(json.dumps({"stored": [(e.prompt_tokens, e.completion_tokens) for e in stored],
                  "loaded": sorted(name for name in heavy if name in sys.modules)}))
"""


def test_recording_a_call_loads_no_postgres_driver_cli_litellm_or_tokenizer(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", RECORD_ONE_CALL, str(tmp_path), json.dumps(ANSWER),
                           json.dumps(REQUEST), *NOT_FOR_RECORDING],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["stored"] == [[9, 2]]
    assert report["loaded"] == []


# What `offgate proxy` must not load, at idle or while recording into SQLite (issue 17: its
# idle memory): the above, offgate's command line, pydantic-settings, the rooms and the
# libraries the proxy never needs. (click is mitmproxy's own: its onboarding app's flask.)
NOT_IN_THE_PROXY = (*NOT_FOR_RECORDING, "pydantic_settings", "offgate.cli", "analytics", "fleet", "numpy", "scipy")

# Loaded into `offgate proxy` with --set scripts=...: answers a request for this path with
# the modules the process holds and whether the price map is loaded.
MODULES_PATH = "/offgate-test/modules"
MODULES_ADDON = f"""
import json, sys
from mitmproxy import http


class LoadedModules:
    def request(self, flow):
        if flow.request.path == {MODULES_PATH!r}:
            pricing = sys.modules.get("offgate.pricing")
            price_map = pricing is not None and pricing.price_map.cache_info().currsize > 0
            flow.response = http.Response.make(
                200, json.dumps({{"modules": sorted(sys.modules), "price_map": price_map}}))


addons = [LoadedModules()]
"""


@pytest.mark.e2e
def test_offgate_proxy_loads_no_cli_settings_library_or_price_map_at_idle_nor_the_cli_while_recording(
        tmp_path: Path) -> None:
    upstream = FakeUpstream().start()
    headers = upstream.add("lean", Scenario(headers={"content-type": "application/json"},
                                            chunks=[json.dumps(ANSWER).encode()]))
    addon = tmp_path / "loaded_modules.py"
    addon.write_text(MODULES_ADDON)
    home = tmp_path / "home"
    proxy = ProxyProcess(home, [f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/",
                                f"scripts={addon}"])
    client = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": proxy.url}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(proxy.ca_file))))

    def loaded() -> dict[str, Any]:
        with client.open(f"https://api.openai.com{MODULES_PATH}", timeout=30) as answer:
            return json.loads(answer.read())

    try:
        idle = loaded()
        client.open(urllib.request.Request("https://api.openai.com/v1/chat/completions", json.dumps(REQUEST).encode(),
                                           {**headers, "content-type": "application/json"}), timeout=30).read()
        with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
            for _ in range(300):
                if store.count():
                    break
                time.sleep(0.1)
            recorded = [(e.prompt_tokens, e.completion_tokens, e.cost_usd is not None) for e in store.events()]
        recording = loaded()
    finally:
        proxy.process.send_signal(signal.SIGTERM)
        proxy.process.wait(60)
        upstream.stop()
    assert recorded == [(9, 2, True)]
    assert unwanted(idle["modules"]) == []
    assert idle["price_map"] is False
    assert unwanted(recording["modules"]) == []
    assert recording["price_map"] is True  # the call was priced: the check above can see the map


def unwanted(modules: list[str]) -> list[str]:
    """Which of NOT_IN_THE_PROXY `modules` holds, itself or a module inside it."""
    return [name for name in NOT_IN_THE_PROXY if any(m == name or m.startswith(name + ".") for m in modules)]


# What the native host never loads: platformdirs (the launcher names its home), zstd and brotli
# (the page hands over bodies already decoded). Nor, before the first call's acknowledgement, the
# store (peewee, the schema: most of the recorder's loading, left to the writer's thread) or psutil
# (the browser's lookup, made after it).
NOT_IN_THE_NATIVE_HOST = ("platformdirs", "backports.zstd", "compression.zstd", "brotli")
NOT_BEFORE_THE_FIRST_ACK = ("peewee", "offgate.store", "psutil", *NOT_IN_THE_NATIVE_HOST)
# What pydantic's plugin loader imports to look for plugins: the host's main() gives pydantic one
# that finds none (the host uses none), so it loads only where the recorder is used without main().
FOR_PLUGINS = ("importlib.metadata",)


def test_the_native_host_loads_its_recorder_without_the_store() -> None:
    """The first call's acknowledgement waits for the recorder to load (the browser waits for
    it, issue 17) and then for the journal only."""
    check = (f"import sys, native_host.recorder; "
             f"print(sorted(m for m in {NOT_BEFORE_THE_FIRST_ACK!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# Runs the host's main() on a hello and a ChatGPT call (frames in hex), and says at each reply
# which of the named modules were loaded.
HOST_ON_TWO_MESSAGES = """
import io, json, sys
from native_host.main import main

home, origin, frames, *heavy = sys.argv[1:]
at_reply = []


class Replies(io.BytesIO):
    def write(self, data):
        at_reply.append(sorted(name for name in heavy if name in sys.modules))
        return super().write(data)


sys.stdin = io.TextIOWrapper(io.BytesIO(bytes.fromhex(frames)))
sys.stdout = replies = io.TextIOWrapper(Replies())  # kept: main() swaps sys.stdout for stderr
status = main(["--home", home, origin])
print(json.dumps({"status": status, "at_reply": at_reply}), file=sys.__stdout__)
"""


def test_the_native_host_answers_its_first_messages_without_scanning_plugins_or_loading_extras(
        tmp_path: Path) -> None:
    """Before the hello's reply and the first call's acknowledgement the host skips pydantic's
    plugin scan (every installed distribution's entry points, read with importlib.metadata) and
    the modules they do not need: the store and psutil load after the acknowledgement, and the
    call is still stored with the browser that started the host."""
    from tests.support.fixture_files import load_fixture
    from tests.support.native_host_process import OUR_ORIGIN, call_message, frame, hello

    call = call_message(load_fixture("chatgpt/conversation_delta"))
    frames = (frame(hello()) + frame(call)).hex()
    done = subprocess.run([sys.executable, "-I", "-c", HOST_ON_TWO_MESSAGES, str(tmp_path / "home"), OUR_ORIGIN,
                           frames, *NOT_BEFORE_THE_FIRST_ACK, *FOR_PLUGINS],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"status": 0, "at_reply": [[], []]}
    with Store.open(f"sqlite:///{tmp_path / 'home' / 'offgate.db'}") as store:
        assert [(event.id, event.pid) for event in store.events()] == [(call["id"], os.getpid())]
