"""HuggingChat (huggingface.co/chat).

A conversation is created with its model (POST /chat/conversation `{model}`); each
message is then POST /chat/conversation/{id}, a multipart form whose `data` field is
JSON `{inputs, id, is_retry, is_continue, web_search, tools}`, `inputs` the new
message. A page load GETs the same URL with no body: that is no call and is dropped.
The answer is JSON lines: `{"type": "stream", "token": "..."}` (tokens padded with NUL
characters so proxies do not buffer them), `{"type": "reasoning", "token": ...}`,
status, title, web search and file updates, and `{"type": "finalAnswer", "text"}` last.
The stream does not name the model; no usage is reported.

Sources: xtekky/gpt4free needs_auth/hf/HuggingChat.py.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog.base import CallParser, as_obj, as_str, obj, text_of
from offgate.catalog.registry import PathRule, Provider


class ConversationMessage(CallParser):
    endpoint = "conversation"
    reads_lines = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading.is_llm_call = False  # until the request carries a message

    def on_request_body(self, body: bytes) -> None:
        data = multipart_field(body, "data")
        if data is None:
            return
        self.reading.is_llm_call = True
        message = json.loads(data)
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(obj(message).get("inputs")))

    def on_json(self, body: object) -> None:
        line = as_obj(body)
        if line is None:
            return
        kind, token = line.get("type"), as_str(line.get("token"))
        if kind in ("stream", "reasoning") and token is not None:
            self.add_completion_text([token.replace("\x00", "")])
        elif kind == "finalAnswer":
            self.finished_stream = True


def multipart_field(body: bytes, name: str) -> bytes | None:
    """The value of one field of a multipart/form-data body; the boundary is read from
    the body's first line, since the parser does not see the Content-Type header."""
    boundary = body.split(b"\r\n", 1)[0].removeprefix(b"--")
    if not boundary:
        return None
    # Here, not at the top: the native host would import the email package before its first
    # acknowledgement, for the one web app that posts a form.
    from email.parser import BytesParser
    from email.policy import HTTP

    header = b'Content-Type: multipart/form-data; boundary="' + boundary + b'"\r\n\r\n'
    form = BytesParser(policy=HTTP).parsebytes(header + body)
    for part in form.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)  # bytes for a part that is no multipart itself
            return payload if isinstance(payload, bytes) else None
    return None


PROVIDER = Provider(
    name="huggingchat",
    hosts=("huggingface.co",),
    paths=(PathRule.of(r"/chat/conversation/[0-9a-f]{24}", ConversationMessage),),
    usage="estimated",
)
