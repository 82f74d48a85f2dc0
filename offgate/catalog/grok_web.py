"""Grok's web app (grok.com).

POST /rest/app-chat/conversations/new (a new conversation) or
/rest/app-chat/conversations/{id}/responses (a follow-up), with `{message, modeId}`
("auto", "fast", "expert", "heavy"...; older builds sent `modelName`, e.g. "grok-3").
The answer is newline-delimited JSON: `{"result": {"response": {"token": "...",
"isThinking": bool}}}` line by line (a follow-up puts these fields on `result` itself),
and last a `modelResponse` with the whole message and its `responseId`. Thinking tokens
are written by the model too. No usage is reported.

Sources: xtekky/gpt4free needs_auth/Grok.py.
"""

from __future__ import annotations

from typing import Any

from offgate.catalog.base import CallParser, text_of
from offgate.catalog.registry import PathRule, Provider


class Responses(CallParser):
    endpoint = "responses"
    reads_lines = True

    def on_request(self, body: dict[str, Any]) -> None:
        self.set_model(body.get("modeId") or body.get("modelName"))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(body.get("message")))

    def on_json(self, body: Any) -> None:
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            return
        response = result["response"] if isinstance(result.get("response"), dict) else result
        self.add_completion_text(text_of(response.get("token")))
        final = response.get("modelResponse")
        if isinstance(final, dict):
            if isinstance(final.get("responseId"), str):
                self.reading.response_id = final["responseId"]
            self.finished_stream = True


PROVIDER = Provider(
    name="grok-web",
    hosts=("grok.com",),
    paths=(PathRule.of(r"/rest/app-chat/conversations/(?:new|[^/]+/responses)", Responses),),
    usage="estimated",
)
