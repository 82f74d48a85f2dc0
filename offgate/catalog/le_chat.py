"""Mistral's Le Chat (chat.mistral.ai).

POST /api/chat with `{chatId, mode: "start" | "append" | "retry", messageInput, model?}`;
`messageInput` is the new message (a string, or `[{type: "text", text}]` in newer
builds). A chat's first message travels in the tRPC call that creates the chat
(message.newChat), so a "start" carries no prompt and its prompt is not counted.

The answer is lines `<kind>:<JSON>`. Older builds sent the Vercel AI SDK's data stream:
`0:"a piece of text"`. Builds that set `shouldUseMessagePatch` send
`15:{"json": {"type": "message", "patches": [{op, path, value}]}}`, JSON Patch ops
(with "append") on a message whose `contentChunks[].text` is the reply; the message
is read in its final state.

Sources: ai-shifu/ChatALL src/bots/MistralBot.js (older stream); for the patch lines,
third-party Le Chat clients of 2025-2026 that send shouldUseMessagePatch (they disagree on
whether text arrives by "append" or "replace" ops; both are applied here). Unverified
against a capture.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog import patches
from offgate.catalog.base import CallParser, text_of
from offgate.catalog.registry import PathRule, Provider


class Chat(CallParser):
    endpoint = "chat"
    reads_lines = True
    expects_stream_end = False  # no final line is documented

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._messages: dict[str, Any] = {}  # message id -> patched message

    def on_request(self, body: dict[str, Any]) -> None:
        self.set_model(body.get("model"))
        prompt = list(text_of(body.get("messageInput")))
        if prompt:
            self.reading.prompt_messages = 1
            self.add_prompt_text(prompt)

    def on_line(self, line: bytes) -> None:
        kind, _, payload = line.partition(b":")
        value = json.loads(payload)
        if kind.strip() == b"0":
            self.add_completion_text(text_of(value))
        elif isinstance(value, dict) and isinstance(value.get("json"), dict):
            self._patch_message(value["json"])

    def on_finish(self) -> None:
        for message in self._messages.values():
            if isinstance(message, dict):
                self.add_completion_text(text_of(message.get("contentChunks")))

    def _patch_message(self, update: dict[str, Any]) -> None:
        if update.get("type") != "message":
            return
        key = str(update.get("messageId", ""))
        message = self._messages.get(key, {})
        for patch in update.get("patches") or ():
            message = patches.apply(message, patches.split_path(patch.get("path", "")),
                                    patch.get("op", "replace"), patch.get("value"))
        self._messages[key] = message


PROVIDER = Provider(
    name="le-chat",
    hosts=("chat.mistral.ai",),
    paths=(PathRule.of(r"/api/chat", Chat),),
    usage="estimated",
)
