"""Meta AI (www.meta.ai; signed in through graph.meta.ai).

Every request of the page goes to one GraphQL URL (/api/graphql/, or /graphql on
graph.meta.ai), so only a form whose `fb_api_req_friendly_name` is a send-message
mutation (useAbraSendMessageMutation) is a call; anything else is marked as no call
and dropped. Its `variables` JSON holds the prompt as
`message.sensitive_string_value`. The answer is JSON lines, each
`data.node.bot_response_message` with the whole reply so far in `snippet` and
`streaming_state` going from STREAMING to OVERALL_DONE; the last snippet is the reply.
No model is named (Meta's Llama) and no usage is reported.

Sources: xtekky/gpt4free needs_auth/MetaAI.py.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from offgate.catalog.base import CallParser, as_obj, as_str, obj, text_of
from offgate.catalog.registry import PathRule, Provider


class SendMessage(CallParser):
    endpoint = "send_message"
    reads_lines = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading.is_llm_call = False  # until the form names the send-message mutation
        self._snippet: str | None = None

    def on_request_body(self, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8"))
        operation = form.get("fb_api_req_friendly_name", [""])[0]
        if not operation.endswith("SendMessageMutation"):
            return
        self.reading.is_llm_call = True
        variables = json.loads(form["variables"][0])
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(obj(obj(variables).get("message") or {}).get("sensitive_string_value")))

    def on_line(self, line: bytes) -> None:
        if self.reading.is_llm_call:
            super().on_line(line)

    def on_json(self, body: object) -> None:
        line = as_obj(body)
        node = obj(obj(line.get("data") or {}).get("node") or {}) if line is not None else {}
        message = as_obj(node.get("bot_response_message"))
        if message is None:
            return
        snippet, message_id = as_str(message.get("snippet")), as_str(message.get("id"))
        if snippet is not None:
            self._snippet = snippet
        if message_id is not None:
            self.reading.response_id = message_id
        if message.get("streaming_state") == "OVERALL_DONE":
            self.finished_stream = True

    def on_finish(self) -> None:
        if self._snippet:
            self.add_completion_text([self._snippet])


PROVIDER = Provider(
    name="meta-ai",
    hosts=("www.meta.ai", "meta.ai", "graph.meta.ai"),
    paths=(PathRule.of(r"(?:/api)?/graphql/?", SendMessage),),
    usage="estimated",
)
