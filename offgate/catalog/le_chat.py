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
from offgate.catalog.base import CallParser, array, as_list, as_obj, obj, string, text_of
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
        self._messages: dict[str, object] = {}  # message id -> patched message

    def on_request(self, body: dict[str, object]) -> None:
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
            error = as_obj(value)
            detail = error.get("message") if error is not None else value
            self._fail(f"Le Chat streamed an error: {detail if isinstance(detail, str) else json.dumps(detail)}"[:200])
        elif kind in END_KINDS:
            self.finished_stream = True
        else:
            update = as_obj((as_obj(value) or {}).get("json"))
            if update is not None:
                self._patch_message(update)

    def on_finish(self) -> None:
        for value in self._messages.values():
            message = as_obj(value)
            if message is not None:
                self.add_completion_text(text_of(message.get("contentChunks")))

    def _patch_message(self, update: dict[str, object]) -> None:
        if update.get("type") == "status" and update.get("status") == "done":
            self.finished_stream = True
        if update.get("type") != "message":
            return
        key = str(update.get("messageId", ""))
        message = self._messages.get(key, {})
        for patch in map(obj, array(update.get("patches") or [])):
            message = patches.apply(message, patches.split_path(string(patch.get("path") or "")),
                                    string(patch.get("op", "replace")), patch.get("value"))
        self._messages[key] = message


class NewChat(CallParser):
    """tRPC message.newChat: a new chat and its first message (the reply comes from /api/chat)."""

    endpoint = "message.newChat"
    reads_lines = True  # a tRPC batch answer (one JSON line), or its streamed form (JSON lines)
    expects_stream_end = False  # every answer line is whole: the first one ends the call

    def on_request(self, body: dict[str, object]) -> None:
        call = as_obj(body.get("0"))  # a batch of one: its input under the position
        arguments = as_obj(call.get("json")) if call is not None else None
        if arguments is None:
            return
        self.set_model(arguments.get("model"))
        prompt = list(text_of(arguments.get("content")))
        if prompt:
            self.reading.prompt_messages = 1
            self.add_prompt_text(prompt)

    def on_line(self, line: bytes) -> None:
        value: object = json.loads(line)
        answers = as_list(value)
        for answer in map(as_obj, answers if answers is not None else [value]):
            if answer is not None and ("result" in answer or "error" in answer):
                self.finished_stream = True
            error = as_obj(answer.get("error")) if answer is not None else None
            if error is not None:
                # No chat was made, so no message was sent to a model: nothing to estimate.
                inner = as_obj(error.get("json"))
                described = error if inner is None else inner
                self._fail(f"Le Chat refused the new chat: {described.get('message') or 'no reason given'}"[:200])
                self.reading.prompt_texts.clear()


PROVIDER = Provider(
    name="le-chat",
    hosts=("chat.mistral.ai",),
    paths=(PathRule.of(r"/api/chat", Chat), PathRule.of(r"/api/trpc/message\.newChat", NewChat)),
    usage="estimated",
)
