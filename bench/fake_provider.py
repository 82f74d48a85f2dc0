"""A fake OpenAI Chat Completions endpoint on loopback, run as its own process by the benchmark.

    python bench/fake_provider.py          # prints "port N" on stdout, serves until SIGTERM

POST /v1/chat/completions answers:
- a small JSON chat completion with usage, for a request without `"stream": true`;
- an SSE stream of `max_tokens` chunk events, a usage chunk and `data: [DONE]`, with the
  pause between chunks given in the `x-bench-chunk-delay-ms` header;
- with the `x-bench-stream-bytes: N` header, an SSE stream of about N bytes in ~64 KB events
  (same path, so offgate recognises the call and parses every event of it).

Every response has its own id, as real providers' do (offgate's store matches calls by
it). aiohttp sets TCP_NODELAY on its sockets, so small writes go out at once instead of
waiting ~40 ms for a delayed ACK. The server exits by itself after `--lifetime` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

from aiohttp import web

MODEL = "gpt-4o-mini"
BIG_EVENT_CONTENT = 64 * 1024
USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}


def _completion(response_id: str) -> bytes:
    return json.dumps({
        "id": response_id, "object": "chat.completion", "created": 1700000000, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "Hello! How can I help you today?"}}],
        "usage": USAGE,
    }).encode()


def _event(response_id: str, delta: dict | None, usage: dict | None = None) -> bytes:
    chunk = {"id": response_id, "object": "chat.completion.chunk", "created": 1700000000,
             "model": MODEL, "choices": [] if delta is None else [{"index": 0, "delta": delta}],
             "usage": usage}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    response_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    big = int(request.headers.get("x-bench-stream-bytes", "0"))
    if big:
        event, delay = _event(response_id, {"content": "x" * BIG_EVENT_CONTENT}), 0.0
        events = max(1, big // len(event))
    elif body.get("stream"):
        events, event = int(body.get("max_tokens", 20)), _event(response_id, {"content": "tok "})
        delay = float(request.headers.get("x-bench-chunk-delay-ms", "0")) / 1000
    else:
        return web.Response(body=_completion(response_id), content_type="application/json")
    usage = {"prompt_tokens": 9, "completion_tokens": events, "total_tokens": 9 + events}
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for index in range(events):
        if delay and index:
            await asyncio.sleep(delay)
        await response.write(event)
    await response.write(_event(response_id, None, usage) + DONE)
    await response.write_eof()
    return response


async def serve(lifetime: float) -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat_completions)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    try:
        await asyncio.sleep(lifetime)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=float, default=3600, help="exit after this many seconds")
    asyncio.run(serve(parser.parse_args().lifetime))


if __name__ == "__main__":
    main()
