"""Cohere (api.cohere.com; the older name api.cohere.ai serves the same API).

v2, POST /v2/chat: `model` and OpenAI-like `messages[]` in; `message.content[].text` and
`usage` out. A stream (`"stream": true`) is server-sent events whose JSON `type` names
them: message-start (the id), content-delta (`delta.message.content.text`), tool-plan-
and tool-call-delta, ..., and message-end, whose `delta.usage` closes the stream.

v1 (legacy), POST /v1/chat: `message` plus `chat_history[]` and `preamble` in; `text`
and `meta` out. A stream is newline-delimited JSON, not SSE: `event_type` stream-start,
text-generation (`text`), ..., then stream-end, whose `response` is the whole answer.

Both report `billed_units` (what Cohere bills) and `tokens` (which also counts the prompt
template Cohere wraps around the request); billed units are read, tokens only where no
billed unit is given. LiteLLM reads billed units for v1 and tokens for v2.
"""

from __future__ import annotations

import json

from offgate.catalog.base import CallParser, Usage, as_int, as_list, as_obj, as_str, obj, objects, text_of
from offgate.catalog.registry import PathRule, Provider


def cohere_usage(value: object) -> Usage | None:
    """LiteLLM's view of v2 `usage` or v1 `meta`."""
    usage = as_obj(value)
    if usage is None:
        return None
    billed = obj(usage.get("billed_units") or {})

    def count(name: str) -> int | None:
        billed_count = as_int(billed.get(name))
        return billed_count if billed_count is not None else as_int(obj(usage.get("tokens") or {}).get(name))

    return Usage(prompt_tokens=count("input_tokens"), completion_tokens=count("output_tokens"))


class _CohereChat(CallParser):
    """What both versions share: an id and billed units on the answer."""

    def read_usage(self, usage: object) -> None:
        read = cohere_usage(usage)
        if read is not None:
            self.reading.usage = read

    def read_id(self, value: object) -> None:
        response_id = as_str(value)
        if response_id:
            self.reading.response_id = response_id


class ChatV2(_CohereChat):
    endpoint = "chat"

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream") is True
        self.read_chat_messages(body.get("messages"))

    def on_event(self, event: str, data: str) -> None:
        self.on_json(json.loads(data))

    def on_json(self, body: object) -> None:
        """The whole answer, or one stream event (SSE data, or a JSON line)."""
        answer = as_obj(body)
        if answer is None:
            return
        kind = answer.get("type")
        if kind is None:  # the whole answer
            self.read_id(answer.get("id"))
            self.add_completion_text(_message_texts(answer.get("message")))
            self.read_usage(answer.get("usage"))
            return
        if kind == "message-start":
            self.read_id(answer.get("id"))
            return
        delta = obj(answer.get("delta") or {})
        if kind == "message-end":
            self.read_usage(delta.get("usage"))
            self.finished_stream = True
            if delta.get("error"):
                raise ValueError(f"the stream ends with an error: {delta['error']}")
        else:  # content-, tool-plan- and tool-call- events
            self.add_completion_text(_message_texts(delta.get("message")))


class ChatV1(_CohereChat):
    endpoint = "chat.v1"

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream") is True
        history = objects(body.get("chat_history"))
        preamble = body.get("preamble")
        self.reading.prompt_messages = len(history) + 1 + (1 if preamble else 0)
        self.add_prompt_text(text_of([preamble]))
        for message in history:
            self.add_prompt_text(text_of([message.get("message")]))
        self.add_prompt_text(text_of([body.get("message")]))

    def on_json(self, body: object) -> None:
        """The whole answer, or one line of a stream."""
        line = as_obj(body)
        if line is None:
            return
        kind = line.get("event_type")
        if kind is None:
            self.read_id(line.get("response_id"))
            self.add_completion_text(text_of([line.get("text")]))
            self.read_usage(line.get("meta"))
        elif kind == "text-generation":
            self.add_completion_text(text_of([line.get("text")]))
        elif kind == "stream-end":
            response = obj(line.get("response") or {})
            self.read_id(response.get("response_id"))
            self.read_usage(response.get("meta"))
            self.finished_stream = True


def _message_texts(value: object) -> list[str]:
    """What the model wrote in a v2 message or a stream delta of one: content text and
    thinking (a list of parts in the answer, one part in a delta), the tool plan, and
    tool-call arguments (a list in the answer, one call in a delta)."""
    message = as_obj(value)
    if message is None:
        return []
    texts = [message.get("tool_plan")]
    for part in _one_or_many(message.get("content")):
        texts += [part.get("text"), part.get("thinking")]
    for call in _one_or_many(message.get("tool_calls")):
        texts.append(obj(call.get("function") or {}).get("arguments"))
    return [text for text in texts if isinstance(text, str) and text]


def _one_or_many(value: object) -> list[dict[str, object]]:
    """The objects of a list, or the one object a stream delta carries instead."""
    return objects(as_list(value) or [value])


PROVIDER = Provider(
    name="cohere",
    hosts=("api.cohere.com", "api.cohere.ai"),
    paths=(
        PathRule.of(r"/v2/chat", ChatV2),
        PathRule.of(r"/v1/chat", ChatV1),
    ),
)
