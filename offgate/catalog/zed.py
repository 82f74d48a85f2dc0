"""Zed's hosted models (llm.zed.dev).

POST /completion with `{provider, model, provider_request}`: `provider` is "anthropic",
"open_ai", "google", "x_ai" or "zed", and `provider_request` is that API's own request
body. Zed's server answers with the provider's stream events, one JSON per line; newer
clients ask for status messages too, and then each line is `{"event": ...}` or Zed's own
`{"status": ...}`. So the provider's parser reads the request and the events, and the
usage it reports is the provider's.

Sources: zed-industries/zed crates/cloud_llm_client (PerformCompletionParams) and
crates/language_models/src/provider/cloud.rs (response_lines, CompletionEvent).
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog.anthropic import Messages
from offgate.catalog.base import CallParser, as_obj, as_str
from offgate.catalog.gemini import StreamGenerateContent
from offgate.catalog.openai import ChatCompletions
from offgate.catalog.registry import PathRule, Provider

PROVIDER_PARSERS: dict[str, type[CallParser]] = {
    "anthropic": Messages,
    "open_ai": ChatCompletions,
    "x_ai": ChatCompletions,
    "zed": ChatCompletions,
    "google": StreamGenerateContent,
}


class Completion(CallParser):
    endpoint = "completion"
    reads_lines = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._upstream: CallParser | None = None

    def on_request(self, body: dict[str, object]) -> None:
        provider = as_str(body.get("provider"))
        parser = PROVIDER_PARSERS.get(provider) if provider is not None else None
        if parser is None:
            raise ValueError(f"unknown provider {body.get('provider')!r}")
        self._upstream = parser(query=self.query)
        self._upstream.reading = self.reading  # the provider's parser writes this call's reading
        # Anthropic's stream ends with an event; OpenAI's with SSE's [DONE], which lines lack.
        self.expects_stream_end = parser is Messages
        provider_request = as_obj(body.get("provider_request"))
        if provider_request is not None:
            self._upstream.on_request(provider_request)
        self.set_model(body.get("model"))

    def on_json(self, body: object) -> None:
        line = as_obj(body)
        if self._upstream is None or line is None:
            return
        if "status" in line and "event" not in line:
            return  # Zed's own status message (queue position, usage limits)
        event = line.get("event", line)
        kind = as_str((as_obj(event) or {}).get("type"))
        self._upstream.on_event(kind or "message", json.dumps(event))
        self.finished_stream = self._upstream.finished_stream


PROVIDER = Provider(
    name="zed",
    hosts=("llm.zed.dev", "cloud.zed.dev"),
    paths=(PathRule.of(r"/completions?", Completion),),
    app="zed",
)
