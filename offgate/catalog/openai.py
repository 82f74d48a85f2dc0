"""OpenAI API (api.openai.com/v1).

Chat Completions, Responses, legacy Completions, Embeddings and Assistants runs. The
request names the model (`model`) and asks for a stream with `"stream": true`; streams
are server-sent events. Usage already follows LiteLLM's convention: `prompt_tokens` / `input_tokens`
include cached tokens and `completion_tokens` / `output_tokens` include reasoning tokens.

The same parsers read every OpenAI-shaped API: Azure OpenAI, Gemini's OpenAI surface and
a LiteLLM gateway. The Responses API also runs over a WebSocket (`ResponsesSession`), as
does the Realtime API (openai_realtime.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

from offgate.catalog.base import (
    CallParser,
    Usage,
    array,
    as_int,
    as_list,
    as_obj,
    as_str,
    loads_openai_event,
    obj,
    text_of,
)
from offgate.catalog.openai_realtime import Realtime
from offgate.catalog.registry import PathRule, Provider
from offgate.catalog.sessions import SessionParser


def completion_usage(value: object) -> Usage | None:
    """`CompletionUsage` of Chat Completions and Completions (also on Embeddings); audio
    models (gpt-4o-audio-preview, gpt-audio) count audio in `*_tokens_details.audio_tokens`."""
    usage = as_obj(value)
    if usage is None:
        return None
    prompt_details = obj(usage.get("prompt_tokens_details") or {})
    completion_details = obj(usage.get("completion_tokens_details") or {})
    return Usage(
        prompt_tokens=as_int(usage.get("prompt_tokens")),
        completion_tokens=as_int(usage.get("completion_tokens")),
        cached_tokens=as_int(prompt_details.get("cached_tokens")),
        cache_write_tokens=as_int(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=as_int(completion_details.get("reasoning_tokens")),
        audio_prompt_tokens=as_int(prompt_details.get("audio_tokens")),
        audio_completion_tokens=as_int(completion_details.get("audio_tokens")),
    )


def response_usage(value: object) -> Usage | None:
    """`ResponseUsage` of the Responses API."""
    usage = as_obj(value)
    if usage is None:
        return None
    input_details = obj(usage.get("input_tokens_details") or {})
    output_details = obj(usage.get("output_tokens_details") or {})
    return Usage(
        prompt_tokens=as_int(usage.get("input_tokens")),
        completion_tokens=as_int(usage.get("output_tokens")),
        cached_tokens=as_int(input_details.get("cached_tokens")),
        cache_write_tokens=as_int(input_details.get("cache_write_tokens")),
        reasoning_tokens=as_int(output_details.get("reasoning_tokens")),
    )


def no_reported_cost(usage: dict[str, object]) -> float | None:
    """OpenAI reports no cost of its own; some OpenAI-compatible APIs do."""
    return None


def as_usd(value: object) -> float | None:
    """A cost from JSON: a finite number, never negative."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _message_texts(message: dict[str, object]) -> Iterator[str]:
    """What the model wrote in a chat `message` or a stream `delta`: the reasoning text
    OpenAI-compatible APIs add (DeepSeek and xAI `reasoning_content`, Groq and OpenRouter
    `reasoning`), content, refusal and tool-call arguments are all output tokens."""
    for name in ("reasoning_content", "reasoning"):
        text = message.get(name)
        if isinstance(text, str):
            yield text
    yield from text_of(message.get("content"))
    refusal = message.get("refusal")
    if isinstance(refusal, str):
        yield refusal
    for call in array(message.get("tool_calls") or []):
        arguments = obj(obj(call).get("function") or {}).get("arguments")
        if isinstance(arguments, str):
            yield arguments


class _OpenAIParser(CallParser):
    """What every OpenAI endpoint shares: `model` and `stream` in the request; `id`,
    `model` and `usage` on the response (or on each stream chunk)."""

    read_usage = staticmethod(completion_usage)
    # USD from the `usage` object, for APIs that report the cost (OpenRouter, xAI, Perplexity).
    read_reported_cost = staticmethod(no_reported_cost)

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream") is True

    def read_response_fields(self, body: dict[str, object]) -> None:
        response_id = as_str(body.get("id"))
        if response_id:
            self.reading.response_id = response_id
        self.set_model(body.get("model"))
        # Stream chunks carry `"usage": null` until the final one (include_usage).
        usage = self.read_usage(body.get("usage"))
        if usage is not None:
            self.reading.usage = usage
            cost = self.read_reported_cost(obj(body["usage"]))
            if cost is not None:
                self.reading.reported_cost_usd = cost

    def on_event(self, event: str, data: str) -> None:
        # A stream chunk has the shape of the whole response, with deltas.
        self.on_json(loads_openai_event(data))


class ChatCompletions(_OpenAIParser):
    """POST /v1/chat/completions. A stream reports usage only when the request sets
    `stream_options.include_usage`: one last chunk with `choices: []` before `[DONE]`."""

    endpoint = "chat.completions"

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)
        self.read_chat_messages(body.get("messages"))

    def on_json(self, body: object) -> None:
        response = as_obj(body)
        if response is None:
            return
        self.read_response_fields(response)
        for choice in array(response.get("choices") or []):
            fields = obj(choice)
            message = obj(fields.get("message") or fields.get("delta") or {})
            self.add_completion_text(_message_texts(message))


class Completions(_OpenAIParser):
    """POST /v1/completions (legacy text completions): `prompt` in, `choices[].text` out."""

    endpoint = "completions"

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)
        self.add_prompt_text(text_of(body.get("prompt")))

    def on_json(self, body: object) -> None:
        response = as_obj(body)
        if response is None:
            return
        self.read_response_fields(response)
        self.add_completion_text(text_of(response.get("choices")))  # each choice has `text`


class Embeddings(_OpenAIParser):
    """POST /v1/embeddings: `input` in, vectors and `usage.prompt_tokens` out."""

    endpoint = "embeddings"

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)
        self.add_prompt_text(text_of(body.get("input")))

    def on_json(self, body: object) -> None:
        response = as_obj(body)
        if response is None:
            return
        self.read_response_fields(response)
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

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)
        instructions = body.get("instructions")
        if isinstance(instructions, str):
            self.reading.prompt_messages += 1
            self.add_prompt_text([instructions])
        items = body.get("input")
        if isinstance(items, str):
            self.reading.prompt_messages += 1
            self.add_prompt_text([items])
        else:
            for item in as_list(items) or ():
                fields = as_obj(item)
                if fields is not None:
                    self.reading.prompt_messages += 1
                    self.add_prompt_text(text_of(fields.get("content")))
                    self.add_prompt_text(text_of(fields.get("output")))  # tool results

    def on_json(self, body: object) -> None:
        response = as_obj(body)
        if response is None:
            return
        self.read_response_fields(response)
        for output in array(response.get("output") or []):
            item = obj(output)
            self.add_completion_text(text_of(item.get("content")))  # messages
            self.add_completion_text(text_of(item.get("summary")))  # reasoning summaries
            self.add_completion_text(text_of(item.get("arguments")))  # function calls

    def on_event(self, event: str, data: str) -> None:
        self.read_event(obj(loads_openai_event(data)), event)

    def read_event(self, payload: dict[str, object], event: str = "") -> None:
        """One stream event, already decoded (over a WebSocket each message is one)."""
        kind = payload.get("type") or event
        if kind in self.TEXT_DELTA_EVENTS:
            self.add_completion_text(text_of(payload.get("delta")))
        elif (response := as_obj(payload.get("response"))) is not None:
            # response.created / in_progress name id and model; the terminal ones add usage.
            self.read_response_fields(response)
        if kind in self.TERMINAL_EVENTS:
            self.finished_stream = True


class ResponsesSession(SessionParser, Responses):
    """The Responses API over a WebSocket (wss://api.openai.com/v1/responses, the SDK's
    `responses.connect()`). The client sends each request as a `response.create` message,
    the HTTP body plus its `type`; the server answers with the events of a stream, each
    response ending with response.completed, .incomplete or .failed, or with an `error`
    event when the request is refused."""

    def on_ws_message(self, from_client: bool, message: object) -> None:
        message = as_obj(message)
        if message is None:
            return
        if from_client:
            if message.get("type") == "response.create":
                self.on_request(message)
                self.reading.streamed = True  # on_request reads `stream`, which is implied here
                self.response_under_way = True
        elif message.get("type") == "error" and self.response_under_way:
            self.reject_response(f"request refused: {obj(message.get('error') or {}).get('message')}")
        else:
            self.read_event(message)
            if self.finished_stream:
                self.finished_stream = False
                self.complete_response()


class AssistantsRun(_OpenAIParser):
    """POST /v1/threads/runs (a new thread and its run), /v1/threads/{thread_id}/runs and
    .../runs/{run_id}/submit_tool_outputs, sent with `OpenAI-Beta: assistants=v2`.

    The answer is a Run object (`model`, `usage`). A stream is `event: thread.*` events
    ending with `data: [DONE]`: text in thread.message.delta, and the run's usage (for the
    whole run) on its terminal thread.run.* event. Without a stream the run is only queued
    and its `usage` is null; the usage shows when the client polls GET .../runs/{run_id},
    which is not matched since every poll would count the run again. The request holds only
    the new messages, not the thread, so its prompt is not read for estimates."""

    endpoint = "assistants.runs"

    def on_json(self, body: object) -> None:
        run = as_obj(body)
        if run is not None and run.get("object") == "thread.run":
            self.read_response_fields(run)

    def on_event(self, event: str, data: str) -> None:
        payload = json.loads(data)
        if event == "thread.message.delta":
            for part in array(obj(obj(payload).get("delta") or {}).get("content") or []):
                text = obj(obj(part).get("text") or {}).get("value")
                if isinstance(text, str):
                    self.add_completion_text([text])
        elif event == "error":
            raise ValueError(f"the run reports an error: {data}")
        else:
            self.on_json(payload)  # thread.run.* events carry the Run object


PROVIDER = Provider(
    name="openai",
    hosts=("api.openai.com",),
    paths=(
        PathRule.of(r"/v1/chat/completions", ChatCompletions),
        PathRule.of(r"/v1/responses", Responses),
        PathRule.of(r"/v1/responses", ResponsesSession),
        PathRule.of(r"/v1/realtime", Realtime),
        PathRule.of(r"/v1/completions", Completions),
        PathRule.of(r"/v1/embeddings", Embeddings),
        PathRule.of(r"/v1/threads/runs", AssistantsRun),
        PathRule.of(r"/v1/threads/[^/]+/runs", AssistantsRun),
        PathRule.of(r"/v1/threads/[^/]+/runs/[^/]+/submit_tool_outputs", AssistantsRun),
    ),
)
