"""Gemini's web app (gemini.google.com).

POST [/u/N]/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate, a form:
`f.req=[null, "<JSON text of the request array>"]` and `at` (a token). The request
array's first item starts with the prompt.

The model is no name but a mode, chosen two ways, both read: the header
`x-goog-ext-525001261-jspb`, a JSON array whose [4] is a model id ("fbb127bbb056c959"
is Flash; ids are per tier and Google rotates them), and, in builds since 2025, the
request array's field 79 (1 Flash, 3 Pro, 6 Flash-Lite; Flash Thinking is 1 with its own
header id). A known header id wins (it tells Thinking from Flash), then a known field
79; an unknown id or mode is kept as the model ("mode-9") and priced as Flash
(app_models.py). The header reaches the parser through the proxy only: the browser
extension hands over no headers, so there field 79 alone names the mode.

The answer starts with `)]}'`, then frames of a length line and a JSON line. A frame
holds envelopes `["wrb.fr", null, "<JSON text>"]`; in that JSON, [1][1] is the response
id and [4] the candidates, whose [1][0] is the reply and [37][0][0] the thoughts, each
the whole text so far, so the last frame's are kept. The last frame is the envelope
`["e", count, null, null, bytes]` that Google's chunked RPC answers end with. Field indices
drift with Google's builds: when they move, the reply goes uncounted (and the call is
still recorded).

Sources: xtekky/gpt4free needs_auth/Gemini.py and gemini_utils.py (KNOWN_MODEL_IDS,
build_model_headers); HanaokaYuzu/Gemini-API src/gemini_webapi/constants.py (Model: the
header of each model and tier) and client.py (field 79 taken from the header's variant);
third-party clients of 2026 that map field 79 (THINKING_MODE_IDS: flash-lite 6, flash 1,
pro 3). All reverse-engineered: unverified against a capture.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from offgate.catalog.base import CallParser, array, as_list, string, text_of
from offgate.catalog.registry import PathRule, Provider

MODEL_HEADER = "x-goog-ext-525001261-jspb"
# Model ids of the header's [4], by mode (free tier, then paid tiers).
MODEL_IDS = {
    "fbb127bbb056c959": "flash", "56fdd199312815e2": "flash",
    "5bf011840784117a": "flash-thinking", "e051ce1aa80aa576": "flash-thinking",
    "9d8ca3786ebdfbea": "pro", "e6fa609c3fa255c0": "pro",
    "8c46e95b1a07cecc": "flash-lite",
}
# The request array's field 79.
MODES = {1: "flash", 3: "pro", 6: "flash-lite"}


class StreamGenerate(CallParser):
    endpoint = "StreamGenerate"
    reads_lines = True
    expects_stream_end = False  # the end envelope is not documented: a clean end is whole without it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reply: str | None = None
        self._thoughts: str | None = None

    def on_request_body(self, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8"))
        request: object = json.loads(string(array(json.loads(form["f.req"][0]))[1]))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(_at(request, 0, 0)))
        self.set_model(_mode(_header_model_id(self.headers.get(MODEL_HEADER)), _at(request, 79)))

    def on_line(self, line: bytes) -> None:
        line = line.strip()
        if line == b")]}'" or line.isdigit():
            return  # the anti-JSON-hijacking prefix, a frame's length
        for envelope in array(json.loads(line)):
            head = _at(envelope, 0)
            payload = _at(envelope, 2)
            if head == "wrb.fr" and isinstance(payload, str):
                self._read_payload(json.loads(payload))
            elif head == "e":
                self.finished_stream = True

    def on_finish(self) -> None:
        self.add_completion_text(text for text in (self._thoughts, self._reply) if text)

    def _read_payload(self, payload: object) -> None:
        response_id = _at(payload, 1, 1)
        if isinstance(response_id, str):
            self.reading.response_id = response_id
        candidate = _at(payload, 4, 0)
        reply, thoughts = _at(candidate, 1, 0), _at(candidate, 37, 0, 0)
        if isinstance(reply, str):
            self._reply = reply
        if isinstance(thoughts, str):
            self._thoughts = thoughts


def _header_model_id(header: str | None) -> str | None:
    """The model id in the model header, or None when there is none to read."""
    try:
        model_id = _at(json.loads(header), 4) if header else None
    except ValueError:
        return None
    return model_id if isinstance(model_id, str) and model_id else None


def _mode(model_id: str | None, field_79: object) -> str | None:
    number = field_79 if isinstance(field_79, int) and not isinstance(field_79, bool) else None
    known = MODEL_IDS.get(model_id or "") or (MODES.get(number) if number is not None else None)
    if known:
        return known
    return model_id or (f"mode-{number}" if number is not None else None)


def _at(value: object, *indices: int) -> object:
    """value[i][j]... through nested lists, or None where the shape differs."""
    for index in indices:
        items = as_list(value)
        if items is None or index >= len(items):
            return None
        value = items[index]
    return value


PROVIDER = Provider(
    name="gemini-web",
    hosts=("gemini.google.com",),
    paths=(PathRule.of(r"(?:/u/\d+)?/_/BardChatUi/data/assistant\.lamda\.BardFrontendService/StreamGenerate",
                       StreamGenerate),),
    usage="estimated",
)
