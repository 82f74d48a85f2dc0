"""Gemini's web app (gemini.google.com).

POST [/u/N]/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate, a form:
`f.req=[null, "<JSON text of the request array>"]` and `at` (a token). The request
array's first item starts with the prompt. The model is picked by a request header and
a numbered field whose index changes with each build, so it is not read.

The answer starts with `)]}'`, then frames of a length line and a JSON line. A frame
holds envelopes `["wrb.fr", null, "<JSON text>"]`; in that JSON, [1][1] is the response
id and [4] the candidates, whose [1][0] is the reply and [37][0][0] the thoughts, each
the whole text so far, so the last frame's are kept. Field indices drift with Google's
builds: when they move, the reply goes uncounted (and the call is still recorded).

Sources: xtekky/gpt4free needs_auth/Gemini.py and gemini_utils.py.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from offgate.catalog.base import CallParser, text_of
from offgate.catalog.registry import PathRule, Provider


class StreamGenerate(CallParser):
    endpoint = "StreamGenerate"
    reads_lines = True
    expects_stream_end = False  # frames just stop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reply: str | None = None
        self._thoughts: str | None = None

    def on_request_body(self, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8"))
        request = json.loads(json.loads(form["f.req"][0])[1])
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(_at(request, 0, 0)))

    def on_line(self, line: bytes) -> None:
        line = line.strip()
        if line == b")]}'" or line.isdigit():
            return  # the anti-JSON-hijacking prefix, a frame's length
        for envelope in json.loads(line):
            if isinstance(envelope, list) and envelope[:1] == ["wrb.fr"] and isinstance(_at(envelope, 2), str):
                self._read_payload(json.loads(envelope[2]))

    def on_finish(self) -> None:
        self.add_completion_text(text for text in (self._thoughts, self._reply) if text)

    def _read_payload(self, payload: Any) -> None:
        response_id = _at(payload, 1, 1)
        if isinstance(response_id, str):
            self.reading.response_id = response_id
        candidate = _at(payload, 4, 0)
        reply, thoughts = _at(candidate, 1, 0), _at(candidate, 37, 0, 0)
        if isinstance(reply, str):
            self._reply = reply
        if isinstance(thoughts, str):
            self._thoughts = thoughts


def _at(value: Any, *indices: int) -> Any:
    """value[i][j]... through nested lists, or None where the shape differs."""
    for index in indices:
        if not isinstance(value, list) or index >= len(value):
            return None
        value = value[index]
    return value


PROVIDER = Provider(
    name="gemini-web",
    hosts=("gemini.google.com",),
    paths=(PathRule.of(r"(?:/u/\d+)?/_/BardChatUi/data/assistant\.lamda\.BardFrontendService/StreamGenerate",
                       StreamGenerate),),
    usage="estimated",
)
