"""Microsoft Copilot, the consumer chat at copilot.microsoft.com.

The page talks over one WebSocket, wss://copilot.microsoft.com/c/api/chat?api-version=2
(signed in, with `&accessToken=...`). The client sends each prompt as
`{"event": "send", "conversationId", "content": [{"type": "text", "text"}], "mode": "chat" |
"reasoning" | "smart"}`; the server answers with events: received, startMessage,
appendText (the next piece of a part of the answer), replaceText (a part's new text),
chainOfThought (reasoning text), citation, partCompleted, done (the answer is complete),
then titleUpdate and suggestedFollowups; or error. Several events may share one frame.
Sources: gpt4free's g4f/Provider/Copilot.py and captured frames.

Nothing names the model or counts tokens, so what is honest is the count of answers and
an estimate of their tokens from the text; the prompt estimate covers only the new
message, since the conversation so far stays on Microsoft's side. The mode stands for the
model (app_models.py prices it as the API model it maps to).
"""

from __future__ import annotations

from typing import Any

from offgate.catalog.base import MAX_TEXT_CHARS, as_obj, as_str, text_of
from offgate.catalog.registry import PathRule, Provider
from offgate.catalog.sessions import SessionParser


class Chat(SessionParser):
    endpoint = "chat"
    TEXT_EVENTS = frozenset({"appendText", "replaceText", "chainOfThought"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: dict[tuple[str, str], str] = {}  # the answer so far, by (kind, partId)
        self._part_chars = 0

    def on_ws_message(self, from_client: bool, message: object) -> None:
        message = as_obj(message)
        if message is None:
            return
        event = as_str(message.get("event"))
        if from_client:
            if event == "send":
                self.set_model(message.get("mode"))
                self.reading.prompt_messages += 1
                self.add_prompt_text(text_of(message.get("content")))
                self.response_under_way = True
            return
        message_id = as_str(message.get("messageId"))
        if message_id and self.response_under_way:
            self.reading.response_id = message_id
        text = as_str(message.get("text"))
        if event in self.TEXT_EVENTS and text is not None:
            self._add_part(event, str(message.get("partId")), text)
        elif event == "done" and self.response_under_way:
            self.add_completion_text(self._parts.values())
            self.complete_response()
        elif event == "error" and self.response_under_way:
            self.reject_response(f"Copilot answered with an error: {message.get('message') or message.get('code')}")

    def complete_response(self) -> None:
        super().complete_response()
        self._parts.clear()
        self._part_chars = 0

    def _add_part(self, event: str, part_id: str, text: str) -> None:
        if self._part_chars + len(text) > MAX_TEXT_CHARS:
            return
        self._part_chars += len(text)
        # Reasoning is kept apart from the answer's parts, which replaceText rewrites.
        key = ("reasoning" if event == "chainOfThought" else "answer", part_id)
        earlier = "" if event == "replaceText" else self._parts.get(key, "")
        self._parts[key] = earlier + text


PROVIDER = Provider(
    name="microsoft-copilot",
    hosts=("copilot.microsoft.com",),
    paths=(PathRule.of(r"/c/api/chat", Chat),),
    usage="estimated",
)
