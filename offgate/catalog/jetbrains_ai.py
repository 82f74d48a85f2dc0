"""JetBrains AI Assistant and Junie (api.jetbrains.ai, the Grazie platform).

POST /user/v5/llm/chat/stream/v8 (the version suffix moves) with
`{prompt, profile, chat: {messages: [{type, content}]}, parameters}`: `prompt` names a
prompt template, not text; `profile` is the model ("openai-gpt-4o",
"anthropic-claude-4-sonnet", "google-chat-gemini-pro-2.5"); every message in `chat`
is sent to the model. The answer is server-sent events `data: {"type": "Content",
"content": "..."}` (also ToolCall / FunctionCall pieces, QuotaMetadata, and
FinishMetadata last), then `data: end`. No tokens are reported.

Sources: caidaoli/jetbrainsai2api internal/core (endpoint, payload, event types) and
internal/server/response_openai.go (stream reading).
"""

from __future__ import annotations

import json

from offgate.catalog.base import CallParser, as_obj, text_of
from offgate.catalog.registry import PathRule, Provider

# Events whose `content` the model wrote: answer text and tool-call arguments.
WRITTEN_EVENTS = frozenset({"Content", "ToolCall", "FunctionCall"})


class ChatStream(CallParser):
    endpoint = "chat.stream"

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("profile"))
        chat = as_obj(body.get("chat"))
        self.read_chat_messages(chat.get("messages") if chat is not None else None)

    def on_event(self, event: str, data: str) -> None:
        if data.strip() == "end":
            self.finished_stream = True
            return
        payload = as_obj(json.loads(data))
        if payload is None:
            return
        kind = payload.get("type")
        if kind in WRITTEN_EVENTS:
            self.add_completion_text(text_of(payload.get("content")))
        elif kind == "FinishMetadata":
            self.finished_stream = True


PROVIDER = Provider(
    name="jetbrains-ai",
    hosts=("api.jetbrains.ai",),
    paths=(PathRule.of(r"/user/v\d+/llm/chat/stream/v\d+", ChatStream),),
    app="jetbrains-ai",
    usage="estimated",
)
