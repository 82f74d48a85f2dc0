"""ChatGPT (chatgpt.com; chat.openai.com redirects there).

POST /backend-api/conversation when signed in, /backend-anon/conversation when not
(newer clients put /f/ before "conversation"). The request carries only the new
message: `messages[].content.parts` and `model`, the picker's slug ("auto", "gpt-5",
"gpt-4o"...); the conversation so far stays on OpenAI's side. The answer is server-sent
events in one of two shapes:

- delta encoding (`event: delta_encoding` / `data: "v1"` first): an "add" at path ""
  installs `{message, conversation_id}` on a channel `c`; later events patch it with
  `{p, o, v}`: append, replace, add, remove, or `patch` with a list of such ops. A left
  out `p` or `o` repeats the previous one, so `{"v": " more"}` appends to the last path.
- older full snapshots: each event holds the whole message so far.

Either way each message is read in its final state: the assistant's text parts, code
and thoughts are what the model wrote, and `metadata.resolved_model_slug` (else
`model_slug`) names the model that answered. Typed events (title_generation,
message_stream_complete, conversation_detail_metadata...) carry no text, and
`data: [DONE]` ends the stream. Nothing reports tokens.

The Codex CLI signed in with ChatGPT calls /backend-api/codex/responses: the Responses
API, read by OpenAI's parser, usage included.

Sources: xtekky/gpt4free needs_auth/OpenaiChat.py (request, snapshots);
lanqian528/chat2api chatgpt/stream_v1.py (delta ops, channels); a captured stream in
stevenandersonz/askintab testchatgpt.js.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from offgate.catalog import patches
from offgate.catalog.base import CallParser, array, as_obj, as_str, obj, objects, string, text_of
from offgate.catalog.openai import Responses
from offgate.catalog.registry import PathRule, Provider


class Conversation(CallParser):
    endpoint = "conversation"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._documents: dict[object, object] = {}  # channel -> {message, conversation_id}
        self._messages: dict[str, dict[str, object]] = {}  # message id -> its latest state
        self._channel: object = None
        self._path: list[str] = []
        self._op: object = "add"  # as sent: a bad op spoils every event that repeats it

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.read_chat_messages(body.get("messages"), lambda message: obj(message.get("content") or {}).get("parts"))

    def on_event(self, event: str, data: str) -> None:
        payload = as_obj(json.loads(data))
        if payload is None:
            return  # "v1", the name of the delta encoding
        if "v" in payload:
            self._read_delta(payload)
        elif as_obj(payload.get("message")) is not None:
            self._install(None, payload)  # an older full snapshot

    def on_finish(self) -> None:
        for document in self._documents.values():
            self._remember(document)
        for message_id, message in self._messages.items():
            if obj(message.get("author") or {}).get("role") != "assistant":
                continue  # the user's own message echoed, tool output, system notes
            metadata = obj(message.get("metadata") or {})
            self.set_model(metadata.get("resolved_model_slug") or metadata.get("model_slug"))
            self.reading.response_id = message_id
            self.add_completion_text(_written_text(obj(message.get("content") or {})))

    def _read_delta(self, delta: dict[str, object]) -> None:
        if "c" in delta:
            self._channel = delta["c"]
            if "p" not in delta and as_obj(delta["v"]) is not None:
                self._install(self._channel, delta["v"])  # a new channel may open without p/o
                return
        if "p" in delta:
            self._path = patches.split_path(string(delta["p"] or ""))
        if "o" in delta:
            self._op = delta["o"]
        if self._op == "patch":
            for op in map(obj, array(delta["v"])):
                path = patches.split_path(string(op.get("p") or ""))
                self._apply(path, string(op.get("o", "replace")), op.get("v"))
        else:
            self._apply(self._path, string(self._op), delta["v"])

    def _apply(self, path: list[str], op: str, value: object) -> None:
        if not path and op == "add":
            self._install(self._channel, value)
        else:
            self._documents[self._channel] = patches.apply(self._documents[self._channel], path, op, value)

    def _install(self, channel: object, document: object) -> None:
        # A new document on a channel ends the message that was there: keep its final state.
        self._remember(self._documents.get(channel))
        self._documents[channel] = document

    def _remember(self, document: object) -> None:
        message = as_obj((as_obj(document) or {}).get("message"))
        message_id = as_str(message.get("id")) if message is not None else None
        if message is not None and message_id is not None:
            self._messages[message_id] = message


def _written_text(content: dict[str, object]) -> Iterator[str]:
    """What the model wrote in a message: text parts, code (tool calls), thoughts."""
    yield from text_of(content.get("parts"))
    if content.get("content_type") == "code":
        yield from text_of(content.get("text"))
    for thought in objects(content.get("thoughts")):
        yield from text_of(thought.get("content"))


PROVIDER = Provider(
    name="chatgpt",
    hosts=("chatgpt.com", "chat.openai.com"),
    paths=(
        PathRule.of(r"/backend-(?:api|anon)(?:/f)?/conversation", Conversation),
        PathRule.of(r"/backend-api/codex/responses", Responses),
    ),
    usage="estimated",
)
