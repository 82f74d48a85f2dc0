"""offgate's mitmproxy hands each event only to the addons that have its hook
(interceptor/hook_table.py). Addons that come later still get every hook: a mitmproxy
script loaded with `--set scripts=...` (whose addons come and go with the file), and an
addon added to a proxy that has already carried traffic."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.support.proxy_harness import RunningProxy, proxying_to
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

URL = "https://api.openai.com/v1/chat/completions"
FLOW_HOOKS = ["requestheaders", "request", "responseheaders", "response"]
COMPLETION = json.dumps({
    "id": "chatcmpl-hooks", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}).encode()
# A mitmproxy script noting, in a file beside it, each flow hook it gets.
SCRIPT = f"""
from pathlib import Path

NOTES = Path(__file__).with_suffix(".seen")

def _note(name, flow):
    with NOTES.open("a") as notes:
        notes.write(name + " " + flow.request.path + "\\n")

{"".join(f'''
def {hook}(flow):
    _note("{hook}", flow)
''' for hook in FLOW_HOOKS)}
"""


class HookNotes:
    """An addon noting each flow hook it gets."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __getattr__(self, name: str):  # only the flow hooks: mitmproxy asks for every event by name
        if name not in FLOW_HOOKS:
            raise AttributeError(name)
        return lambda flow: self.seen.append(name)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream):
    yield from proxying_to(tmp_path_factory.mktemp("home"), upstream.port)


def call(proxy: RunningProxy, upstream: FakeUpstream, path: str = "/v1/chat/completions") -> None:
    headers = upstream.add("hooks", Scenario(headers={"content-type": "application/json"}, chunks=[COMPLETION]))
    with httpx.Client(proxy=proxy.url, verify=proxy.ssl_context(), timeout=10) as client:
        response = client.post(f"https://api.openai.com{path}", headers=headers,
                               json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
    assert response.content == COMPLETION


def on_proxy_loop(proxy: RunningProxy, action) -> None:
    async def run() -> None:
        action()
    asyncio.run_coroutine_threadsafe(run(), proxy._loop).result(10)


def test_a_script_gets_every_flow_hook_and_the_call_is_recorded(tmp_path, upstream):
    script = tmp_path / "notes.py"
    script.write_text(SCRIPT)
    proxy = RunningProxy(tmp_path / "home", set_options=[
        f"map_remote=|^https://[^/]+/|http://127.0.0.1:{upstream.port}/", f"scripts={script}"])
    proxy.start()
    try:
        call(proxy, upstream)
        events = proxy.wait_for_events(lambda event: event.response_id == "chatcmpl-hooks")
    finally:
        proxy.stop()
    assert Path(script.with_suffix(".seen")).read_text().split("\n")[:-1] == [
        f"{hook} /v1/chat/completions" for hook in FLOW_HOOKS]
    assert [(event.prompt_tokens, event.completion_tokens) for event in events] == [(9, 2)]


def test_a_script_loaded_while_the_proxy_runs_gets_every_flow_hook(proxy, upstream, tmp_path):
    call(proxy, upstream, "/v1/chat/completions?before=script")
    script = tmp_path / "later.py"
    script.write_text(SCRIPT)
    on_proxy_loop(proxy, lambda: proxy.master.options.update(scripts=[str(script)]))
    try:
        call(proxy, upstream, "/v1/chat/completions?after=script")
    finally:
        on_proxy_loop(proxy, lambda: proxy.master.options.update(scripts=[]))
    assert script.with_suffix(".seen").read_text().split("\n")[:-1] == [
        f"{hook} /v1/chat/completions?after=script" for hook in FLOW_HOOKS]


def test_an_addon_added_after_traffic_gets_every_flow_hook(proxy, upstream):
    call(proxy, upstream)  # the table is made for the chain as it was
    notes = HookNotes()
    on_proxy_loop(proxy, lambda: proxy.master.addons.add(notes))
    try:
        call(proxy, upstream)
    finally:
        on_proxy_loop(proxy, lambda: proxy.master.addons.remove(notes))
    assert notes.seen == FLOW_HOOKS
    call(proxy, upstream)  # removed: it gets nothing more
    assert notes.seen == FLOW_HOOKS
