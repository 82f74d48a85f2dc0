"""Mistral's Le Chat (chat.mistral.ai).

POST /api/chat with `{chatId, mode: "start" | "append" | "retry", messageInput, model?}`;
`messageInput` is the new message (a string, or `[{type: "text", text}]` in newer
builds). A new chat's first message travels in the tRPC call that creates the chat,
POST /api/trpc/message.newChat?batch=1 with `{"0": {"json": {content, model?, ...}}}`
(`content` a string in 2024 builds, `[{type: "text", text}]` since), answered with the
new `chatId`; the reply to it then streams from /api/chat with mode "start", which
carries no prompt. So the first turn is two records: newChat's (its prompt) and the
"start" call's (the reply). They are not joined: the chat id links them, but they are two
calls the capture paths see apart, and the reply's record is complete without the prompt.

The answer is lines `<kind>:<JSON>`. Older builds sent the Vercel AI SDK's data stream:
`0:"a piece of text"` (`3:"message"` an error, `d:{finishReason}` the end). Builds that set
`shouldUseMessagePatch` send `15:{"json": {"type": "message", "patches": [{op, path, value}]}}`,
JSON Patch ops (with "append") on a message whose `contentChunks[].text` is the reply; the
message is read in its final state. Their other kinds: 16 metadata, 6 an error, 8 the end;
a `15:` status update `"done"` ends the answer too.

Sources: ai-shifu/ChatALL src/bots/MistralBot.js (older stream); for newChat, the patch
lines and their kinds, third-party Le Chat clients of 2025-2026, one built from the mobile
app's decompiled client (the newChat body, `mode: "start"` after it, kinds 15/16/6/8), one
from the web (patches "replace" /contentChunks then "append" /contentChunks/N/text). Both
op readings are applied here. Unverified against a capture.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog import patches
from offgate.catalog.base import CallParser, text_of
from offgate.catalog.registry import PathRule, Provider

# Line kinds that carry an error: Vercel's data stream's 3, Le Chat's own 6.
ERROR_KINDS = frozenset({b"3", b"6"})
# Line kinds that end the answer: Vercel's finish_message part d, Le Chat's own 8.
END_KINDS = frozenset({b"d", b"8"})


class Chat(CallParser):
    endpoint = "chat"
    reads_lines = True
    expects_stream_end = False  # no end line is documented: a clean end is whole without one

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
        kind = kind.strip()
        value = json.loads(payload)
        if kind == b"0":
            self.add_completion_text(text_of(value))
        elif kind in ERROR_KINDS:
            detail = value.get("message") if isinstance(value, dict) else value
            self._fail(f"Le Chat streamed an error: {detail if isinstance(detail, str) else json.dumps(detail)}"[:200])
        elif kind in END_KINDS:
            self.finished_stream = True
        elif isinstance(value, dict) and isinstance(value.get("json"), dict):
            self._patch_message(value["json"])

    def on_finish(self) -> None:
        for message in self._messages.values():
            if isinstance(message, dict):
                self.add_completion_text(text_of(message.get("contentChunks")))

    def _patch_message(self, update: dict[str, Any]) -> None:
        if update.get("type") == "status" and update.get("status") == "done":
            self.finished_stream = True
        if update.get("type") != "message":
            return
        key = str(update.get("messageId", ""))
        message = self._messages.get(key, {})
        for patch in update.get("patches") or ():
            message = patches.apply(message, patches.split_path(patch.get("path", "")),
                                    patch.get("op", "replace"), patch.get("value"))
        self._messages[key] = message


class NewChat(CallParser):
    """tRPC message.newChat: a new chat and its first message (the reply comes from /api/chat)."""

    endpoint = "message.newChat"
    reads_lines = True  # a tRPC batch answer (one JSON line), or its streamed form (JSON lines)
    expects_stream_end = False  # every answer line is whole: the first one ends the call

    def on_request(self, body: dict[str, Any]) -> None:
        call = body.get("0")  # a batch of one: its input under the position
        arguments = call.get("json") if isinstance(call, dict) else None
        if not isinstance(arguments, dict):
            return
        self.set_model(arguments.get("model"))
        prompt = list(text_of(arguments.get("content")))
        if prompt:
            self.reading.prompt_messages = 1
            self.add_prompt_text(prompt)

    def on_line(self, line: bytes) -> None:
        value = json.loads(line)
        for answer in value if isinstance(value, list) else [value]:
            if isinstance(answer, dict) and ("result" in answer or "error" in answer):
                self.finished_stream = True
            error = answer.get("error") if isinstance(answer, dict) else None
            if isinstance(error, dict):
                # No chat was made, so no message was sent to a model: nothing to estimate.
                described = error["json"] if isinstance(error.get("json"), dict) else error
                self._fail(f"Le Chat refused the new chat: {described.get('message') or 'no reason given'}"[:200])
                self.reading.prompt_texts.clear()


PROVIDER = Provider(
    name="le-chat",
    hosts=("chat.mistral.ai",),
    paths=(PathRule.of(r"/api/chat", Chat), PathRule.of(r"/api/trpc/message\.newChat", NewChat)),
    usage="estimated",
)
