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
from offgate.catalog.base import CallParser, text_of
from offgate.catalog.openai import Responses
from offgate.catalog.registry import PathRule, Provider


class Conversation(CallParser):
    endpoint = "conversation"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._documents: dict[Any, Any] = {}  # channel -> {message, conversation_id}
        self._messages: dict[str, dict[str, Any]] = {}  # message id -> its latest state
        self._channel: Any = None
        self._path: list[str] = []
        self._op = "add"

    def on_request(self, body: dict[str, Any]) -> None:
        self.set_model(body.get("model"))
        self.read_chat_messages(body.get("messages"), lambda message: (message.get("content") or {}).get("parts"))

    def on_event(self, event: str, data: str) -> None:
        payload = json.loads(data)
        if not isinstance(payload, dict):
            return  # "v1", the name of the delta encoding
        if "v" in payload:
            self._read_delta(payload)
        elif isinstance(payload.get("message"), dict):
            self._install(None, payload)  # an older full snapshot

    def on_finish(self) -> None:
        for document in self._documents.values():
            self._remember(document)
        for message_id, message in self._messages.items():
            if (message.get("author") or {}).get("role") != "assistant":
                continue  # the user's own message echoed, tool output, system notes
            metadata = message.get("metadata") or {}
            self.set_model(metadata.get("resolved_model_slug") or metadata.get("model_slug"))
            self.reading.response_id = message_id
            self.add_completion_text(_written_text(message.get("content") or {}))

    def _read_delta(self, delta: dict[str, Any]) -> None:
        if "c" in delta:
            self._channel = delta["c"]
            if "p" not in delta and isinstance(delta["v"], dict):
                self._install(self._channel, delta["v"])  # a new channel may open without p/o
                return
        if "p" in delta:
            self._path = patches.split_path(delta["p"])
        if "o" in delta:
            self._op = delta["o"]
        if self._op == "patch":
            for op in delta["v"]:
                self._apply(patches.split_path(op.get("p", "")), op.get("o", "replace"), op.get("v"))
        else:
            self._apply(self._path, self._op, delta["v"])

    def _apply(self, path: list[str], op: str, value: Any) -> None:
        if not path and op == "add":
            self._install(self._channel, value)
        else:
            self._documents[self._channel] = patches.apply(self._documents[self._channel], path, op, value)

    def _install(self, channel: Any, document: Any) -> None:
        # A new document on a channel ends the message that was there: keep its final state.
        self._remember(self._documents.get(channel))
        self._documents[channel] = document

    def _remember(self, document: Any) -> None:
        message = document.get("message") if isinstance(document, dict) else None
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            self._messages[message["id"]] = message


def _written_text(content: dict[str, Any]) -> Iterator[str]:
    """What the model wrote in a message: text parts, code (tool calls), thoughts."""
    yield from text_of(content.get("parts"))
    if content.get("content_type") == "code":
        yield from text_of(content.get("text"))
    for thought in content.get("thoughts") or ():
        if isinstance(thought, dict):
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
