"""`offgate proxy` killed with SIGKILL in the middle of 200 concurrent calls, then started
again: every call the client saw complete is in the store, none of them twice.

The proxy journals each call before the end of its response reaches the client, and the
next start stores what the killed process left in the journal. The store is kept busy
(another writer holds its lock) while the 200 calls run, so that whatever the client saw
complete can only come back from the journal; a few calls stored before that are in the
journal too, and must not be stored twice. The calls are of the three kinds the writer
treats differently: a JSON answer (Content-Length), a stream with usage, and a stream
without usage (estimated from the texts the journal kept for it).
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from offgate import tokens
from offgate.events import UsageEvent
from offgate.store import Store
from tests.support.openai_responder import openai_responder
from tests.support.proxy_harness import ProxyProcess
from tests.support.sqlite_lock import sqlite_write_locked
from tests.support.upstream import FakeUpstream, Received, Scenario

pytestmark = pytest.mark.e2e

EARLY_CALLS = 12
CALLS = 200
KILL_AFTER = 80  # completed calls of the 200
KINDS = ("json", "stream-with-usage", "stream-estimated")


def slow_responder(received: Received) -> Scenario:
    """OpenAI's answers after 0 to 3 s (by the call's number), streams a piece every 20 ms:
    the calls end one after another, so the kill lands while the proxy is busy."""
    scenario = openai_responder(received)
    number = int(json.loads(received.body)["messages"][0]["content"].split(":")[0].removeprefix("call "))
    scenario.delay = (number * 7 % CALLS) * 3 / CALLS
    scenario.chunk_delay = 0.02
    return scenario


def request_of(n: int) -> dict:
    kind = KINDS[n % 3]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"call {n}: usage 7 3"}]}
    if kind != "json":
        body["stream"] = True
    if kind == "stream-with-usage":
        body["stream_options"] = {"include_usage": True}
    return body


def response_id_of(body: bytes, streamed: bool) -> str:
    """The id of a whole answer; raises if the answer is not whole."""
    if not streamed:
        return json.loads(body)["id"]
    assert body.endswith(b"data: [DONE]\n\n")
    return json.loads(body.split(b"\n\n")[0].removeprefix(b"data: "))["id"]


async def call_until_killed(proxy: ProxyProcess, first: int, calls: int) -> dict[str, int]:
    """Send calls `first`... all at once; kill the proxy once KILL_AFTER are complete.
    Returns the response id of each call the client saw complete, with the call's number."""
    verify = ssl.create_default_context(cafile=str(proxy.ca_file))
    completed: dict[str, int] = {}
    async with httpx.AsyncClient(proxy=proxy.url, verify=verify, timeout=60,
                                 limits=httpx.Limits(max_connections=calls)) as client:
        async def one(n: int) -> None:
            body = request_of(n)
            try:
                async with client.stream("POST", "https://api.openai.com/v1/chat/completions", json=body) as response:
                    content = b"".join([part async for part in response.aiter_raw()])
                response_id = response_id_of(content, "stream" in body)
            except (httpx.HTTPError, AssertionError, ValueError):
                return  # cut off by the kill: the client did not see it complete
            completed[response_id] = n
            if len(completed) == KILL_AFTER:
                proxy.process.send_signal(signal.SIGKILL)

        await asyncio.gather(*(one(n) for n in range(first, first + calls)))
    return completed


def stored(home: Path) -> list[UsageEvent]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return store.events()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_killed_proxy_loses_no_call_the_client_saw_complete(tmp_path: Path) -> None:
    upstream = FakeUpstream().start()
    upstream.responder = slow_responder
    home = tmp_path / "home"
    to_fake = f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"
    try:
        killed = ProxyProcess(home, [to_fake])
        # A few calls are stored first: their lines are still in the journal when it is replayed.
        completed = asyncio.run(call_until_killed(killed, 0, EARLY_CALLS))
        wait_until(lambda: {e.response_id for e in stored(home)} == set(completed), "the early calls")
        with sqlite_write_locked(home / "offgate.db"):  # from here on, only the journal has the calls
            completed |= asyncio.run(call_until_killed(killed, EARLY_CALLS, CALLS))
            assert killed.process.wait(30) == -signal.SIGKILL
        assert EARLY_CALLS + KILL_AFTER <= len(completed) < EARLY_CALLS + CALLS, "the kill missed the calls"
        assert len(stored(home)) == EARLY_CALLS

        restarted = ProxyProcess(home, [to_fake])  # its writer stores what the journal holds
        wait_until(lambda: set(completed) <= {e.response_id for e in stored(home)}, "the replay")
        restarted.process.send_signal(signal.SIGTERM)
        assert restarted.process.wait(60) == 0, restarted.output()
    finally:
        upstream.stop()
    events = stored(home)
    twice = [response_id for response_id, count in Counter(e.response_id for e in events).items() if count > 1]
    assert twice == []
    by_response = {event.response_id: event for event in events}
    for response_id, n in completed.items():
        event = by_response[response_id]
        if KINDS[n % 3] == "stream-estimated":  # the texts came back from the journal
            content = request_of(n)["messages"][0]["content"]
            assert (event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (
                tokens.estimate_prompt(event.model, [content], 1),
                tokens.estimate_completion(event.model, ["word " * 3]), True)
        else:
            assert (event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (7, 3, False)
        assert event.cost_usd is not None and event.cost_usd > 0
    assert list((home / "journal").glob("*.jsonl")) == []
