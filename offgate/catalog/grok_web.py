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

from offgate.catalog.base import CallParser, as_obj, as_str, text_of
from offgate.catalog.registry import PathRule, Provider


class Responses(CallParser):
    endpoint = "responses"
    reads_lines = True

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("modeId") or body.get("modelName"))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(body.get("message")))

    def on_json(self, body: object) -> None:
        result = as_obj((as_obj(body) or {}).get("result"))
        if result is None:
            return
        response = as_obj(result.get("response"))
        response = result if response is None else response
        self.add_completion_text(text_of(response.get("token")))
        final = as_obj(response.get("modelResponse"))
        if final is not None:
            response_id = as_str(final.get("responseId"))
            if response_id is not None:
                self.reading.response_id = response_id
            self.finished_stream = True


PROVIDER = Provider(
    name="grok-web",
    hosts=("grok.com",),
    paths=(PathRule.of(r"/rest/app-chat/conversations/(?:new|[^/]+/responses)", Responses),),
    usage="estimated",
)
