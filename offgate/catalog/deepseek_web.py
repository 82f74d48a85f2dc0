"""DeepSeek's web app (chat.deepseek.com).

POST /api/v0/chat/completion with `{chat_session_id, parent_message_id, prompt,
thinking_enabled, search_enabled, ...}`. No model is named: "DeepThink"
(`thinking_enabled`) answers with the reasoning model, so that mode is the model slug.

The answer is server-sent events (`event: ready` first) patching one document:
`{"v": {"response": {message_id, fragments: [...], status, accumulated_token_usage}}}`,
then ops `{p, o, v}` on paths such as "response/fragments/-1/content": APPEND, SET, and
BATCH (a list of ops on paths under `p`); a left out `p` or `o` repeats the previous
one. Fragments of type RESPONSE are the answer, THINK the reasoning; the stream is done
when `response/status` (or `quasi_status`) is FINISHED.

`accumulated_token_usage` is the one count DeepSeek reports. It grows by a whole turn
each time the conversation goes on, so it counts the conversation's context (history,
prompt and reply), not the reply: it becomes `Reading.context_tokens`.

Sources: xtekky/gpt4free needs_auth/DeepSeekAuth.py (endpoint, request) and
needs_auth/deepseek/stream.py (ops, fragment types, statuses). The meaning of
accumulated_token_usage comes from third-party observations (34, 56, 78... over
turns of equal size), not from DeepSeek.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog import patches
from offgate.catalog.base import CallParser, array, as_int, as_obj, obj, objects, string, text_of
from offgate.catalog.registry import PathRule, Provider

# Fragments the model wrote: the answer and its reasoning (others echo the request, files, tips).
WRITTEN_FRAGMENTS = frozenset({"RESPONSE", "TEMPLATE_RESPONSE", "THINK", "THINKING", "REASONING"})


class Completion(CallParser):
    endpoint = "chat.completion"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._document: object = {}
        self._path: list[str] = []
        self._op: object = "SET"  # as sent: a bad op spoils every event that repeats it

    def on_request(self, body: dict[str, object]) -> None:
        if body.get("thinking_enabled") is True:
            self.set_model("deepthink")
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(body.get("prompt")))

    def on_event(self, event: str, data: str) -> None:
        payload = as_obj(json.loads(data))
        if payload is None or "v" not in payload:
            return  # ready, update_session, title and close events
        if "p" in payload:
            self._path = patches.split_path(string(payload["p"] or ""))
        if "o" in payload:
            self._op = payload["o"]
        self._apply(self._path, string(self._op), payload["v"])

    def on_finish(self) -> None:
        response = as_obj((as_obj(self._document) or {}).get("response"))
        if response is None:
            return
        for fragment in objects(response.get("fragments")):
            if fragment.get("type") in WRITTEN_FRAGMENTS:
                self.add_completion_text(text_of(fragment.get("content")))
        # 0 until the answer is done: a cut-off stream has not been counted yet.
        self.reading.context_tokens = as_int(response.get("accumulated_token_usage")) or None
        if response.get("message_id") is not None:
            self.reading.response_id = str(response["message_id"])
        if "FINISHED" in (response.get("status"), response.get("quasi_status")):
            self.finished_stream = True

    def _apply(self, path: list[str], op: str, value: object) -> None:
        if op.upper() == "BATCH":
            for item in map(obj, array(value)):
                self._apply(path + patches.split_path(string(item.get("p") or "")), string(item.get("o", "SET")),
                            item.get("v"))
        else:
            self._document = patches.apply(self._document, path, op, value)


PROVIDER = Provider(
    name="deepseek-web",
    hosts=("chat.deepseek.com",),
    paths=(PathRule.of(r"/api/v0/chat/completion", Completion),),
    usage="estimated",
)
