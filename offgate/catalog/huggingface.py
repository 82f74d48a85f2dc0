"""Hugging Face Inference Providers (router.huggingface.co) and the legacy serverless
Inference API (api-inference.huggingface.co).

The router serves OpenAI's Chat Completions API at /v1/chat/completions (model
`org/model`, or `org/model:provider` to pick the provider) and proxies each provider's
own OpenAI-compatible path under /{provider}/... (`/together/v1/chat/completions`,
`/fireworks-ai/inference/v1/chat/completions`, ...). Hugging Face's own inference runs
under /hf-inference/models/{org}/{model}, as the legacy API did under /models/{org}/{model}:
OpenAI's chat at .../v1/chat/completions, or the text-generation task at the model path.
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog.base import CallParser, Usage, as_int, as_list, as_obj, obj, text_of
from offgate.catalog.openai import ChatCompletions
from offgate.catalog.registry import PathRule, Provider


class TextGeneration(CallParser):
    """The text-generation task (text-generation-inference's /generate): `inputs` and
    `parameters` in; `[{"generated_text": ...}]` out, which starts with the prompt unless
    `parameters.return_full_text` is false. With `"stream": true` each server-sent event
    carries one `token`; the last adds `generated_text` and `details.generated_tokens`.
    Only the generated count is reported (with `details`), so the prompt is estimated."""

    endpoint = "text-generation"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._echoed_prompt = ""  # what a full-text answer repeats before the new text

    def on_request(self, body: dict[str, object]) -> None:
        self.reading.streamed = body.get("stream") is True
        inputs = body.get("inputs")
        self.add_prompt_text(text_of(inputs))
        parameters = as_obj(body.get("parameters"))
        full_text = not (parameters is not None and parameters.get("return_full_text") is False)
        if full_text and isinstance(inputs, str):
            self._echoed_prompt = inputs

    def on_json(self, body: object) -> None:
        generations = as_list(body)
        for generation in map(as_obj, generations if generations is not None else [body]):
            if generation is None:
                continue
            text = generation.get("generated_text")
            if isinstance(text, str):
                self.add_completion_text([text.removeprefix(self._echoed_prompt)])
            self._read_details(generation.get("details"))

    def on_event(self, event: str, data: str) -> None:
        payload = obj(json.loads(data))
        token = obj(payload.get("token") or {})
        text = token.get("text")
        if isinstance(text, str) and not token.get("special"):
            self.add_completion_text([text])
        if payload.get("generated_text") is not None:  # the last event
            self._read_details(payload.get("details"))
            self.finished_stream = True

    def _read_details(self, value: object) -> None:
        details = as_obj(value)
        if details is not None and as_int(details.get("generated_tokens")) is not None:
            # Newer servers also give the prompt's length.
            self.reading.usage = Usage(prompt_tokens=as_int(details.get("input_length")),
                                       completion_tokens=as_int(details["generated_tokens"]))


_MODEL = r"/(?P<model>[^/]+(?:/[^/]+)?)"  # `org/model`, or an unscoped `model`

PROVIDER = Provider(
    name="huggingface",
    hosts=("router.huggingface.co", "api-inference.huggingface.co"),
    paths=(
        PathRule.of(r"(?:/hf-inference)?/models" + _MODEL + r"/v1/chat/completions", ChatCompletions),
        PathRule.of(r"(?:/hf-inference)?/models" + _MODEL, TextGeneration),
        PathRule.of(r"(?:/[^/]+)*/chat/completions", ChatCompletions),
    ),
)
