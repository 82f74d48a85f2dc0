"""Perplexity's web app (www.perplexity.ai).

POST /rest/sse/perplexity_ask (some clients write /rest/sse/perplexity.ask: both are read)
with `{query_str, params: {model_preference, mode, ...}}`.
The answer is server-sent events, each a JSON object whose `blocks[]` change the page;
the answer text lives in blocks whose `diff_block.field` is "markdown_block", changed by
JSON Patch ops (`patches[]` of `{op, path, value}`) on a document holding `chunks[]`
and `answer`. The documents are kept and read at the end: `answer` when it is set,
else the chunks. `backend_uuid` identifies the answer. The last event says
`"final_sse_message": true` (and `"status": "COMPLETED"`). No tokens are reported.

Sources: xtekky/gpt4free g4f/Provider/Perplexity.py; the block shapes are from its
parser, not from a captured stream. A 2025 third-party clone of the web app's stream
agrees: blocks with `intended_usage: "ask_text"` and `diff_block: {field:
"markdown_block", patches: [{op: "replace", path: "/answer", value}]}`. Third-party SDKs
of 2026 (pplx-sdk) name the endpoint perplexity.ask.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog import patches
from offgate.catalog.base import CallParser, array, as_obj, as_str, obj, string, text_of
from offgate.catalog.registry import PathRule, Provider


class Ask(CallParser):
    endpoint = "perplexity_ask"
    expects_stream_end = False  # the final event is not documented: a clean end is whole without it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers: dict[object, object] = {}  # block name -> markdown document

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(obj(body.get("params") or {}).get("model_preference"))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(body.get("query_str")))

    def on_event(self, event: str, data: str) -> None:
        payload = as_obj(json.loads(data))
        if payload is None:
            return
        backend_uuid = as_str(payload.get("backend_uuid"))
        if backend_uuid is not None:
            self.reading.response_id = backend_uuid
        if payload.get("final_sse_message") is True or payload.get("status") == "COMPLETED":
            self.finished_stream = True
        for value in array(payload.get("blocks") or []):
            block = obj(value)
            diff = obj(block.get("diff_block") or {})
            if diff.get("field") != "markdown_block":
                continue
            name = block.get("intended_usage") or "markdown"
            document = self._answers.get(name, {})
            for patch in map(obj, array(diff.get("patches") or [])):
                document = patches.apply(document, patches.split_path(string(patch.get("path") or "")),
                                         string(patch.get("op", "replace")), patch.get("value"))
            self._answers[name] = document

    def on_finish(self) -> None:
        for value in self._answers.values():
            document = as_obj(value)
            if document is None:
                continue
            answer = document.get("answer")
            self.add_completion_text([answer] if isinstance(answer, str) and answer
                                     else text_of(document.get("chunks")))


PROVIDER = Provider(
    name="perplexity-web",
    hosts=("www.perplexity.ai", "perplexity.ai"),
    paths=(PathRule.of(r"/rest/sse/perplexity[._]ask", Ask),),
    usage="estimated",
)
