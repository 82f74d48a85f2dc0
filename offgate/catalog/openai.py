"""OpenAI API (api.openai.com/v1).

Chat Completions, Responses, legacy Completions and Embeddings. The request names the
model (`model`) and asks for a stream with `"stream": true`; streams are server-sent
events. Usage already follows LiteLLM's convention: `prompt_tokens` / `input_tokens`
include cached tokens and `completion_tokens` / `output_tokens` include reasoning tokens.

The same parsers read every OpenAI-shaped API: Azure OpenAI, Gemini's OpenAI surface and
a LiteLLM gateway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from offgate.catalog.base import CallParser, Usage, as_int, text_of
from offgate.catalog.registry import PathRule, Provider


def completion_usage(usage: Any) -> Usage | None:
    """`CompletionUsage` of Chat Completions and Completions (also on Embeddings)."""
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=as_int(usage.get("prompt_tokens")),
        completion_tokens=as_int(usage.get("completion_tokens")),
        cached_tokens=as_int(prompt_details.get("cached_tokens")),
        cache_write_tokens=as_int(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=as_int(completion_details.get("reasoning_tokens")),
    )


def response_usage(usage: Any) -> Usage | None:
    """`ResponseUsage` of the Responses API."""
    if not isinstance(usage, dict):
        return None
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return Usage(
        prompt_tokens=as_int(usage.get("input_tokens")),
        completion_tokens=as_int(usage.get("output_tokens")),
        cached_tokens=as_int(input_details.get("cached_tokens")),
        cache_write_tokens=as_int(input_details.get("cache_write_tokens")),
        reasoning_tokens=as_int(output_details.get("reasoning_tokens")),
    )


def _message_texts(message: dict[str, Any]) -> Iterator[str]:
    """What the model wrote in a chat `message` or a stream `delta`: content, refusal and
    tool-call arguments are all output tokens."""
    yield from text_of(message.get("content"))
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        yield refusal
    for call in message.get("tool_calls") or ():
        arguments = (call.get("function") or {}).get("arguments")
        if isinstance(arguments, str):
            yield arguments


class _OpenAIParser(CallParser):
    """What every OpenAI endpoint shares: `model` and `stream` in the request; `id`,
    `model` and `usage` on the response (or on each stream chunk)."""

    read_usage = staticmethod(completion_usage)

    def on_request(self, body: dict[str, Any]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream") is True

    def read_response_fields(self, body: dict[str, Any]) -> None:
        response_id = body.get("id")
        if isinstance(response_id, str) and response_id:
            self.reading.response_id = response_id
        self.set_model(body.get("model"))
        # Stream chunks carry `"usage": null` until the final one (include_usage).
        usage = self.read_usage(body.get("usage"))
        if usage is not None:
            self.reading.usage = usage

    def on_event(self, event: str, data: str) -> None:
        # A stream chunk has the shape of the whole response, with deltas.
        self.on_json(json.loads(data))


class ChatCompletions(_OpenAIParser):
    """POST /v1/chat/completions. A stream reports usage only when the request sets
    `stream_options.include_usage`: one last chunk with `choices: []` before `[DONE]`."""

    endpoint = "chat.completions"

    def on_request(self, body: dict[str, Any]) -> None:
        super().on_request(body)
        messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
        self.reading.prompt_messages = len(messages)
        for message in messages:
            self.add_prompt_text(text_of(message.get("content")))

    def on_json(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        self.read_response_fields(body)
        for choice in body.get("choices") or ():
            message = choice.get("message") or choice.get("delta") or {}
            self.add_completion_text(_message_texts(message))


class Completions(_OpenAIParser):
    """POST /v1/completions (legacy text completions): `prompt` in, `choices[].text` out."""

    endpoint = "completions"

    def on_request(self, body: dict[str, Any]) -> None:
        super().on_request(body)
        self.add_prompt_text(text_of(body.get("prompt")))

    def on_json(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        self.read_response_fields(body)
        self.add_completion_text(text_of(body.get("choices")))  # each choice has `text`


class Embeddings(_OpenAIParser):
    """POST /v1/embeddings: `input` in, vectors and `usage.prompt_tokens` out."""

    endpoint = "embeddings"

    def on_request(self, body: dict[str, Any]) -> None:
        super().on_request(body)
        self.add_prompt_text(text_of(body.get("input")))

    def on_json(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        self.read_response_fields(body)
        if self.reading.usage is not None:
            self.reading.usage.completion_tokens = 0  # embeddings produce no tokens


class Responses(_OpenAIParser):
    """POST /v1/responses. A stream is named events (`event: response.output_text.delta`)
    and ends with response.completed, response.incomplete or response.failed, whose
    `response` carries the usage; no `[DONE]` follows."""

    endpoint = "responses"
    read_usage = staticmethod(response_usage)
    TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
    # Events whose `delta` is text the model wrote.
    TEXT_DELTA_EVENTS = frozenset({
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
    })

    def on_request(self, body: dict[str, Any]) -> None:
        super().on_request(body)
        instructions = body.get("instructions")
        if isinstance(instructions, str):
            self.reading.prompt_messages += 1
            self.add_prompt_text([instructions])
        items = body.get("input")
        if isinstance(items, str):
            self.reading.prompt_messages += 1
            self.add_prompt_text([items])
        elif isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    self.reading.prompt_messages += 1
                    self.add_prompt_text(text_of(item.get("content")))
                    self.add_prompt_text(text_of(item.get("output")))  # tool results

    def on_json(self, body: Any) -> None:
        if not isinstance(body, dict):
            return
        self.read_response_fields(body)
        for item in body.get("output") or ():
            self.add_completion_text(text_of(item.get("content")))  # messages
            self.add_completion_text(text_of(item.get("summary")))  # reasoning summaries
            self.add_completion_text(text_of(item.get("arguments")))  # function calls

    def on_event(self, event: str, data: str) -> None:
        payload = json.loads(data)
        kind = payload.get("type") or event
        if kind in self.TEXT_DELTA_EVENTS:
            self.add_completion_text(text_of(payload.get("delta")))
        elif isinstance(payload.get("response"), dict):
            # response.created / in_progress name id and model; the terminal ones add usage.
            self.read_response_fields(payload["response"])
        if kind in self.TERMINAL_EVENTS:
            self.finished_stream = True


PROVIDER = Provider(
    name="openai",
    hosts=("api.openai.com",),
    paths=(
        PathRule.of(r"/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/v1/responses", Responses),
        PathRule.of(r"/v1/completions", Completions),
        PathRule.of(r"/v1/embeddings", Embeddings),
    ),
)
