"""OpenAI Realtime API: wss://api.openai.com/v1/realtime?model=gpt-realtime.

One WebSocket session of JSON events. The client configures it (`session.update`), adds
conversation items (`conversation.item.create`, or audio through `input_audio_buffer.*`)
and asks for answers (`response.create`; with voice activity detection the server starts
them itself). The server announces `session.created` (naming the model), then for each
answer `response.created`, text, transcript and tool-call deltas, and `response.done`,
whose `response` carries the id, the final status and the usage:
`usage.{input_tokens, output_tokens, input_token_details.{cached_tokens, audio_tokens},
output_token_details.audio_tokens}`. As in the rest of OpenAI's API, cached and audio
tokens are part of the input (or output) count; audio is priced at its own rate.

Azure OpenAI serves the same API at /openai/realtime?deployment={name} (the deployment
is the model, as in its deployment URLs) and /openai/v1/realtime?model={deployment}.
"""

from __future__ import annotations

from typing import Any

from offgate.catalog.base import Usage, as_int, as_obj, as_str, obj, text_of
from offgate.catalog.sessions import SessionParser


def realtime_usage(value: object) -> Usage | None:
    """The `usage` of a Realtime `response.done`."""
    usage = as_obj(value)
    if usage is None:
        return None
    input_details = obj(usage.get("input_token_details") or {})
    output_details = obj(usage.get("output_token_details") or {})
    return Usage(
        prompt_tokens=as_int(usage.get("input_tokens")),
        completion_tokens=as_int(usage.get("output_tokens")),
        cached_tokens=as_int(input_details.get("cached_tokens")),
        audio_prompt_tokens=as_int(input_details.get("audio_tokens")),
        audio_completion_tokens=as_int(output_details.get("audio_tokens")),
    )


class Realtime(SessionParser):
    endpoint = "realtime"
    # Server events whose `delta` the model wrote; the beta API's names, then GA's.
    TEXT_DELTA_EVENTS = frozenset({
        "response.text.delta",
        "response.audio_transcript.delta",
        "response.output_text.delta",
        "response.output_audio_transcript.delta",
        "response.function_call_arguments.delta",
    })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        deployment = self.query.get("deployment")
        if deployment and not self.path_model:
            self.path_model = self.reading.model = deployment
        else:
            self.reading.model = self.path_model or self.query.get("model") or None

    def on_ws_message(self, from_client: bool, message: object) -> None:
        message = as_obj(message)
        if message is None:
            return
        kind = message.get("type")
        if from_client:
            if kind == "conversation.item.create":
                item: object = message.get("item") or {}
                self.reading.prompt_messages += 1
                self.add_prompt_text(text_of(obj(item).get("content")))
            elif kind == "response.create":
                self.response_under_way = True
        elif kind in ("session.created", "session.updated"):
            self.set_model(obj(message.get("session") or {}).get("model"))
        elif kind == "response.created":
            self.response_under_way = True
            self._read_response(message.get("response"))
        elif kind in self.TEXT_DELTA_EVENTS:
            self.response_under_way = True
            self.add_completion_text(text_of(message.get("delta")))
        elif kind == "response.done":
            self._read_response(message.get("response"))
            self.complete_response()

    def _read_response(self, value: object) -> None:
        response = as_obj(value)
        if response is None:
            return
        response_id = as_str(response.get("id"))
        if response_id:
            self.reading.response_id = response_id
        usage = realtime_usage(response.get("usage"))
        if usage is not None:
            self.reading.usage = usage
        if response.get("status") == "failed":
            error = obj(obj(response.get("status_details") or {}).get("error") or {})
            self._fail(f"response failed: {error.get('message') or error.get('code') or 'no reason given'}")
