"""`offgate proxy` as users run it: 100 concurrent streaming calls, then SIGTERM.
Every completed call must be in the store when the process has exited."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from offgate.store import Store
from tests.support.ports import free_port
from tests.support.proxy_harness import wait_listening
from tests.support.upstream import FakeUpstream, Scenario

pytestmark = pytest.mark.e2e

CALLS = 100


def stream_chunks(n: int) -> list[bytes]:
    chunks = []
    for i in range(5):
        chunk = {"id": f"chatcmpl-sig{n}", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
                 "choices": [{"index": 0, "delta": {"content": f" w{i}"}}]}
        chunks.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    usage = {"id": f"chatcmpl-sig{n}", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
             "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}}
    chunks += [b"data: " + json.dumps(usage).encode() + b"\n\n", b"data: [DONE]\n\n"]
    return chunks


async def call_all(proxy_url: str, ca: Path, upstream: FakeUpstream) -> int:
    verify = ssl.create_default_context(cafile=str(ca))
    async with httpx.AsyncClient(proxy=proxy_url, verify=verify, timeout=60,
                                 limits=httpx.Limits(max_connections=CALLS)) as client:
        async def one(n: int) -> bytes:
            headers = upstream.add(f"sig{n}", Scenario(headers={"content-type": "text/event-stream"},
                                                        chunks=stream_chunks(n), streamed=True, chunk_delay=0.01))
            body = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
                    "messages": [{"role": "user", "content": "hi"}]}
            async with client.stream("POST", "https://api.openai.com/v1/chat/completions",
                                     json=body, headers=headers) as response:
                return b"".join([part async for part in response.aiter_raw()])

        bodies = await asyncio.gather(*(one(n) for n in range(CALLS)))
    return sum(body.endswith(b"data: [DONE]\n\n") for body in bodies)


def test_sigterm_after_concurrent_streams_loses_nothing(tmp_path):
    upstream = FakeUpstream().start()
    port = free_port()
    env = {**os.environ, "OFFGATE_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "offgate", "proxy", "--listen-port", str(port),
         "--set", "connection_strategy=lazy",
         "--set", f"map_remote=|^https://api\\.openai\\.com/|http://127.0.0.1:{upstream.port}/"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_listening(port, proc)
        ca = tmp_path / "ca" / "mitmproxy-ca-cert.pem"
        completed = asyncio.run(call_all(f"http://127.0.0.1:{port}", ca, upstream))
        assert completed == CALLS
        proc.send_signal(signal.SIGTERM)  # at once: the writer may still hold the last batch
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
        # mitmproxy's terminal log shows offgate's INFO lines: what it recorded, and where.
        said = proc.stdout.read().decode()
        assert f"offgate: recording to SQLite database {tmp_path / 'offgate.db'}" in said, said
        assert f"offgate: {CALLS} events written, 0 spooled, 0 addon errors" in said, said
    finally:
        if proc.poll() is None:
            proc.kill()
        upstream.stop()
    store = Store.open(f"sqlite:///{tmp_path / 'offgate.db'}")
    try:
        events = store.events()
    finally:
        store.close()
    assert len(events) == CALLS
    assert {e.response_id for e in events} == {f"chatcmpl-sig{n}" for n in range(CALLS)}
    assert all((e.prompt_tokens, e.completion_tokens, e.parse_status) == (11, 5, "ok") for e in events)
