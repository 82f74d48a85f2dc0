"""Poe (poe.com).

The page sends every GraphQL operation to POST /api/gql_POST as
`{queryName, variables, extensions}`; only a send-message mutation is a call (anything
else is marked as no call and dropped). Its variables name the `bot` (a handle such as
"GPT-4o" or "Claude-Sonnet-4.5") and the new message, `query`. The reply does not come
back on this request: Poe streams it over a WebSocket (tch*.tch.poe.com, messageAdded
updates), which is not read here, so the reading is the prompt side only and says so.

Sources: snowby666/poe-api-wrapper poe_api_wrapper/api.py (payload, mutation,
WebSocket updates).
"""

from __future__ import annotations

from typing import Any

from offgate.catalog.base import CallParser, text_of
from offgate.catalog.registry import PathRule, Provider


class SendMessage(CallParser):
    endpoint = "SendMessageMutation"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading.is_llm_call = False  # until the body names the send-message mutation

    def on_request(self, body: dict[str, Any]) -> None:
        if not str(body.get("queryName", "")).lower().endswith("sendmessagemutation"):
            return
        self.reading.is_llm_call = True
        variables = body.get("variables") or {}
        self.set_model(variables.get("bot"))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(variables.get("query")))

    def on_finish(self) -> None:
        if self.reading.is_llm_call:
            self.reading.status = "partial"
            self.reading.error = "the reply arrives over Poe's WebSocket, which is not read: prompt only"


PROVIDER = Provider(
    name="poe",
    hosts=("poe.com", "www.poe.com"),
    paths=(PathRule.of(r"/api/gql_POST", SendMessage),),
    usage="estimated",
)
