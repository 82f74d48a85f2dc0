"""Anthropic Messages API (api.anthropic.com).

POST /v1/messages (the SDK's beta client adds `?beta=true`). The body names `model`,
the prompt is `system` plus `messages[]`, and `"stream": true` asks for server-sent
events: message_start, content_block_start / _delta / _stop, ping, message_delta and
finally message_stop.

`usage.input_tokens` leaves out the prompt-cache tokens, which Anthropic reports beside
it (`cache_creation_input_tokens`, `cache_read_input_tokens`); LiteLLM's prompt count is
the sum of the three. In a stream, message_start.message.usage gives the input counts and
each message_delta.usage repeats the cumulative counts; the last value of each wins.
When the server compacts the context, `usage.iterations` lists each sampling step.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog.base import CallParser, Usage, as_int, as_list, as_obj, as_str, obj, objects, text_of
from offgate.catalog.registry import PathRule, Provider


def messages_usage(counts: dict[str, object]) -> Usage:
    """LiteLLM's view of Anthropic's `usage` counts."""
    # With server-side compaction the top-level counts leave the compaction step out;
    # `iterations` lists every sampling step, and billing (and LiteLLM) adds them up.
    steps = objects(counts.get("iterations")) or [counts]

    def total(name: str) -> int | None:
        values = [as_int(step.get(name)) for step in steps]
        return None if all(v is None for v in values) else sum(v or 0 for v in values)

    uncached = total("input_tokens")
    cache_write = total("cache_creation_input_tokens")
    cache_read = total("cache_read_input_tokens")
    thinking = as_int(obj(counts.get("output_tokens_details") or {}).get("thinking_tokens"))
    prompt = None if uncached is None else uncached + (cache_write or 0) + (cache_read or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=total("output_tokens"),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking,
    )


def _block_text(value: object) -> str | None:
    """Text of a content block or a stream delta: `text`, or `thinking` (both are output)."""
    block = as_obj(value)
    if block is None:
        return None
    return as_str(block.get("text", block.get("thinking")))


class Messages(CallParser):
    endpoint = "messages"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._usage_counts: dict[str, object] = {}  # merged message_start + message_delta usage

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream") is True
        if body.get("system"):
            self.reading.prompt_messages += 1
            self.add_prompt_text(text_of(body["system"]))
        messages = objects(body.get("messages"))
        self.reading.prompt_messages += len(messages)
        for message in messages:
            self.add_prompt_text(text_of(message.get("content")))

    def on_json(self, body: object) -> None:
        message = as_obj(body)
        if message is None:
            return
        self._read_message(message)
        texts = (_block_text(block) for block in as_list(message.get("content")) or ())
        self.add_completion_text(text for text in texts if text is not None)

    def on_event(self, event: str, data: str) -> None:
        self.read_event(obj(json.loads(data)), event)

    def read_event(self, payload: dict[str, object], event: str = "") -> None:
        """One stream event, already decoded (Bedrock wraps each in its own framing)."""
        kind = payload.get("type") or event
        if kind == "message_start":
            self._read_message(obj(payload.get("message") or {}))
        elif kind == "content_block_delta":
            text = _block_text(payload.get("delta"))
            if text is not None:
                self.add_completion_text([text])
        elif kind == "message_delta":
            self._merge_usage(payload.get("usage"))
        elif kind == "message_stop":
            self.finished_stream = True

    def _read_message(self, message: dict[str, object]) -> None:
        message_id = as_str(message.get("id"))
        if message_id:
            self.reading.response_id = message_id
        self.set_model(message.get("model"))
        self._merge_usage(message.get("usage"))

    def _merge_usage(self, value: object) -> None:
        usage = as_obj(value)
        if usage is None:
            return
        # message_delta may send null for counts it does not repeat: keep the earlier ones.
        self._usage_counts.update((name, value) for name, value in usage.items() if value is not None)
        self.reading.usage = messages_usage(self._usage_counts)


PROVIDER = Provider(
    name="anthropic",
    hosts=("api.anthropic.com",),
    paths=(PathRule.of(r"/v1/messages", Messages),),
)
