"""The proxy runs on every workstation all day (issue 17): it imports what recording needs
and nothing more. A fresh process runs the real proxy, records a call through it into a
SQLite store, and says which heavy modules it loaded meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# What the proxy must not load to record a call that reports its usage into SQLite: the
# PostgreSQL drivers (peewee imports both unless offgate.store.driver hides them), the
# CLI's typer and rich, litellm, and tiktoken (needed only to estimate a call without usage).
NOT_FOR_RECORDING = ("psycopg", "psycopg2", "typer", "rich", "litellm", "tiktoken")

RECORD_ONE_CALL = """
import json, sys, urllib.request
from pathlib import Path

from tests.support.proxy_harness import proxying_to
from tests.support.upstream import FakeUpstream, Scenario

answer = {"id": "chatcmpl-lean", "object": "chat.completion", "model": "gpt-4o-mini",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}}
upstream = FakeUpstream().start()
headers = upstream.add("lean", Scenario(headers={"content-type": "application/json"},
                                        chunks=[json.dumps(answer).encode()]))
for proxy in proxying_to(Path(sys.argv[1]), upstream.port):
    # urllib, not httpx: httpx imports rich
    client = urllib.request.build_opener(urllib.request.ProxyHandler({"https": proxy.url}),
                                         urllib.request.HTTPSHandler(context=proxy.ssl_context()))
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}).encode()
    client.open(urllib.request.Request("https://api.openai.com/v1/chat/completions", body,
                                       {**headers, "content-type": "application/json"}), timeout=30).read()
    stored = proxy.wait_for_events(lambda event: True)
upstream.stop()
print(json.dumps({"stored": [(e.prompt_tokens, e.completion_tokens) for e in stored],
                  "loaded": sorted(name for name in sys.argv[2:] if name in sys.modules)}))
"""


def test_recording_a_call_loads_no_postgres_driver_cli_litellm_or_tokenizer(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", RECORD_ONE_CALL, str(tmp_path), *NOT_FOR_RECORDING],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["stored"] == [[9, 2]]
    assert report["loaded"] == []
