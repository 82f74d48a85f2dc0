"""The demo's stand-ins for what lives outside, on loopback: an LLM provider, a LiteLLM gateway and
a webhook receiver.

Both speak the documented wire formats (OpenAI Chat Completions, JSON and SSE with the
`stream_options.include_usage` chunk; Anthropic Messages, JSON and SSE). Token counts are
made from the request so a demo can ask for a costly call: the prompt costs one token per
four characters plus eight, the reply `max_tokens`. The gateway answers like a LiteLLM
proxy (an `x-litellm-call-id` header) and keeps the LiteLLM_SpendLogs row LiteLLM would
write for each call, priced from the same price map LiteLLM uses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from offgate.pricing import cost_for_key, find_price_key

REPLY_WORD = "ok "
# How an app answers: the headers its replies carry beyond the body's own.
EXTRA_HEADERS = web.AppKey[Callable[[web.Request], dict[str, str]]]("extra_headers")
# What a handler answered (response id, model, prompt and completion tokens), for the gateway's spend log.
USAGE = web.RequestKey("usage", tuple)
CALL_ID = web.RequestKey("call_id", str)


def usage_for(body: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) tokens the fake reports for a request body."""
    text = json.dumps(body.get("messages", []))
    return len(text) // 4 + 8, int(body.get("max_tokens") or 16)


async def openai_chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    prompt, completion = usage_for(body)
    response_id = f"chatcmpl-demo{uuid.uuid4().hex[:20]}"
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    request[USAGE] = (response_id, body.get("model", ""), prompt, completion)
    headers = request.app[EXTRA_HEADERS](request)
    if not body.get("stream"):
        return web.json_response({
            "id": response_id, "object": "chat.completion", "created": int(datetime.now(UTC).timestamp()),
            "model": body.get("model"), "usage": usage,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": REPLY_WORD * completion}}],
        }, headers=headers)
    base = {"id": response_id, "object": "chat.completion.chunk", "model": body.get("model")}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"content": REPLY_WORD * completion}}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": usage})
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return await _stream(request, events, headers)


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    prompt, completion = usage_for(body)
    message_id = f"msg_demo{uuid.uuid4().hex[:20]}"
    request[USAGE] = (message_id, body.get("model", ""), prompt, completion)
    text = REPLY_WORD * completion
    if not body.get("stream"):
        return web.json_response({
            "id": message_id, "type": "message", "role": "assistant", "model": body.get("model"),
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": prompt, "output_tokens": completion},
        })
    message = {"id": message_id, "type": "message", "role": "assistant", "model": body.get("model"),
               "content": [], "usage": {"input_tokens": prompt, "output_tokens": 1}}
    events = [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": completion}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return await _stream(request, [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events], {})


async def _stream(request: web.Request, events: list[str], headers: dict[str, str]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream", **headers})
    await response.prepare(request)
    for event in events:
        await response.write(event.encode())
    await response.write_eof()
    return response


def provider_app() -> web.Application:
    """OpenAI's and Anthropic's APIs, as the interceptor reaches them (map_remote)."""
    app = web.Application()
    app[EXTRA_HEADERS] = lambda request: {}
    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/messages", anthropic_messages)
    return app


class DemoGateway:
    """A LiteLLM proxy's OpenAI-compatible endpoint, and the spend rows it logs."""

    def __init__(self) -> None:
        self.spend_rows: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._log_spend])
        app[EXTRA_HEADERS] = lambda request: {"x-litellm-call-id": request[CALL_ID]}
        app.router.add_post("/v1/chat/completions", openai_chat)
        return app

    @web.middleware
    async def _log_spend(self, request: web.Request, handler: Any) -> web.StreamResponse:
        request[CALL_ID] = str(uuid.uuid4())
        started = datetime.now(UTC)
        response = await handler(request)
        response_id, model, prompt, completion = request[USAGE]
        price_key = find_price_key(model, "openai")
        self.spend_rows.append({
            "request_id": response_id, "litellm_call_id": request[CALL_ID], "call_type": "acompletion",
            "startTime": started.isoformat(), "endTime": datetime.now(UTC).isoformat(),
            "model": model, "model_group": model, "custom_llm_provider": "openai",
            "api_base": "https://api.openai.com/v1", "status": "success",
            "spend": cost_for_key(price_key, prompt, completion) if price_key else 0.0,
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        })
        return response


def webhook_app(received: list[dict[str, Any]]) -> web.Application:
    """A chat tool's incoming webhook: keeps every JSON body posted to it."""

    async def take(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", take)
    return app
