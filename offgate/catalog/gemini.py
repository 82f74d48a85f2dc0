"""Google Gemini API (generativelanguage.googleapis.com).

POST /v1beta/models/{model}:generateContent, or :streamGenerateContent for a stream (also
under /v1, and for tuned models /tunedModels/{id}). The model is the path segment, the
prompt is `systemInstruction` plus `contents[].parts[].text`. A stream is server-sent
events with `?alt=sse`, else one JSON array sent element by element; each element is a
whole GenerateContentResponse. No event of its own marks the end: the last element is the
one whose candidate has a `finishReason` (or whose `promptFeedback` has a `blockReason`,
when the prompt was refused).

`usageMetadata.promptTokenCount` already includes `cachedContentTokenCount`, but
`thoughtsTokenCount` is not part of `candidatesTokenCount`: LiteLLM's completion count is
their sum. `promptTokensDetails` and `candidatesTokensDetails` split the counts by modality;
their AUDIO entries are the audio tokens. In a stream every chunk repeats the counts so
far; the last chunk's are final.

Google also serves the OpenAI API at /v1beta/openai/, read by OpenAI's parsers, and the
Live API over a WebSocket (`BidiGenerateContent` below).
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog.base import CallParser, Usage, array, as_int, as_list, as_obj, as_str, obj, objects, text_of
from offgate.catalog.openai import ChatCompletions, Embeddings
from offgate.catalog.registry import PathRule, Provider
from offgate.catalog.sessions import SessionParser


def metadata_usage(metadata: dict[str, object]) -> Usage:
    """LiteLLM's view of `usageMetadata`."""
    prompt = as_int(metadata.get("promptTokenCount"))
    tool_prompt = as_int(metadata.get("toolUsePromptTokenCount")) or 0
    candidates = as_int(metadata.get("candidatesTokenCount"))
    thoughts = as_int(metadata.get("thoughtsTokenCount"))
    total = as_int(metadata.get("totalTokenCount"))
    completion = candidates
    # Some responses count thoughts inside candidates already; LiteLLM tells them apart
    # by the total (prompt + candidates + tool-use prompt == total).
    inclusive = total is not None and (prompt or 0) + (candidates or 0) + tool_prompt == total
    if thoughts and not inclusive:
        completion = (candidates or 0) + thoughts
    return Usage(
        # Tool-use prompt tokens (e.g. code execution results) are input too.
        prompt_tokens=None if prompt is None else prompt + tool_prompt,
        completion_tokens=completion,
        cached_tokens=as_int(metadata.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        audio_prompt_tokens=audio_count(metadata.get("promptTokensDetails")),
        audio_completion_tokens=audio_count(metadata.get("candidatesTokensDetails")),
    )


def audio_count(value: object) -> int | None:
    """The audio in a per-modality breakdown (`[{modality, tokenCount}]`): 0 when it names
    no AUDIO, None when there is no breakdown."""
    details = as_list(value)
    if details is None:
        return None
    return sum(as_int(entry.get("tokenCount")) or 0 for entry in objects(details) if entry.get("modality") == "AUDIO")


class GenerateContent(CallParser):
    endpoint = "generateContent"
    # A stream that ends cleanly is whole even without a finishReason: not every element is
    # documented to carry one, so only a connection that drops early needs it.
    expects_stream_end = False

    def on_request(self, body: dict[str, object]) -> None:
        instruction = as_obj(body.get("systemInstruction"))
        if instruction is not None:
            self.reading.prompt_messages += 1
            self.add_prompt_text(text_of(instruction.get("parts")))
        contents = objects(body.get("contents"))
        self.reading.prompt_messages += len(contents)
        for content in contents:
            self.add_prompt_text(text_of(content.get("parts")))

    def on_json(self, body: object) -> None:
        response = as_obj(body)
        if response is None:
            return
        response_id = as_str(response.get("responseId"))
        if response_id:
            self.reading.response_id = response_id
        self.set_model(response.get("modelVersion"))
        metadata = as_obj(response.get("usageMetadata"))
        if metadata is not None:
            self.reading.usage = metadata_usage(metadata)
        for value in array(response.get("candidates") or []):
            candidate = obj(value)
            self.add_completion_text(text_of(obj(candidate.get("content") or {}).get("parts")))
            if candidate.get("finishReason"):
                self.finished_stream = True
        if obj(response.get("promptFeedback") or {}).get("blockReason"):
            self.finished_stream = True

    def on_event(self, event: str, data: str) -> None:
        self.on_json(json.loads(data))  # with alt=sse each event is one whole response


class StreamGenerateContent(GenerateContent):
    endpoint = "streamGenerateContent"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set before the response starts, so a JSON body is read as a streamed array.
        self.reading.streamed = True


class BidiGenerateContent(SessionParser):
    """The Live API: a WebSocket at /ws/google.ai.generativelanguage.{v1beta|v1alpha}.
    GenerativeService.BidiGenerateContent (`...Constrained` with an ephemeral token).

    The client's first message is `setup`, naming the model ("models/gemini-..."); then
    come `clientContent` turns, `realtimeInput` (audio, video or text as it is captured)
    and `toolResponse`s. The server answers with `serverContent` (the model's parts, a
    transcription of its speech, `turnComplete`) and `toolCall`s, and sends `usageMetadata`
    for each turn, usually on its turnComplete message: generateContent's counts, except
    that the output count is `responseTokenCount` (by modality: `responseTokensDetails`).
    Each message carrying usage closes a reading. Messages arrive as binary frames holding
    JSON; the API gives turns no id."""

    endpoint = "BidiGenerateContent"

    def on_ws_message(self, from_client: bool, message: object) -> None:
        message = as_obj(message)
        if message is None:
            return
        if from_client:
            self._read_client_message(message)
            return
        content = obj(message.get("serverContent") or {})
        turn: object = content.get("modelTurn") or {}
        spoken = obj(content.get("outputTranscription") or {}).get("text")
        if turn or spoken or message.get("toolCall"):
            self.response_under_way = True
        self.add_completion_text(text_of(obj(turn).get("parts")))
        self.add_completion_text(text_of(spoken))
        metadata = as_obj(message.get("usageMetadata"))
        if metadata is not None:
            output = {"candidatesTokenCount": metadata.get("responseTokenCount"),
                      "candidatesTokensDetails": metadata.get("responseTokensDetails")}
            self.reading.usage = metadata_usage({**metadata, **output})
            self.complete_response()

    def _read_client_message(self, message: dict[str, object]) -> None:
        setup = as_obj(message.get("setup"))
        model = as_str(setup.get("model")) if setup is not None else None
        if model is not None:
            # "models/gemini-..." here; Vertex names "projects/.../publishers/google/models/gemini-...".
            self.set_model(model.rsplit("/", 1)[-1])
        turns = objects(obj(message.get("clientContent") or {}).get("turns"))
        self.reading.prompt_messages += len(turns)
        for turn in turns:
            self.add_prompt_text(text_of(turn.get("parts")))
        self.add_prompt_text(text_of(obj(message.get("realtimeInput") or {}).get("text")))


_MODEL = r"/(?:v1beta|v1)/(?:models|tunedModels)/(?P<model>[^/:]+)"

PROVIDER = Provider(
    name="gemini",
    hosts=("generativelanguage.googleapis.com",),
    paths=(
        PathRule.of(_MODEL + r":generateContent", GenerateContent),
        PathRule.of(_MODEL + r":streamGenerateContent", StreamGenerateContent),
        PathRule.of(r"/v1beta/openai/chat/completions", ChatCompletions),
        PathRule.of(r"/v1beta/openai/embeddings", Embeddings),
        PathRule.of(r"/ws/google\.ai\.generativelanguage\.v1(?:beta|alpha)\.GenerativeService\."
                    r"BidiGenerateContent(?:Constrained)?", BidiGenerateContent),
    ),
)
