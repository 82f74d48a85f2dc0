"""Ollama, the local model server (http://127.0.0.1:11434; OLLAMA_HOST moves it).

Clients do not send loopback traffic through a proxy, so offgate sees it in mitmproxy's
reverse mode (docs/local-models.md); the catalog knows the server by host and port.

Native API: POST /api/chat `{model, messages, stream}` and /api/generate
`{model, prompt, system, stream}` stream by default, as newline-delimited JSON
(application/x-ndjson); each line has `message.content` (chat) or `response`
(generate), plus `thinking` for reasoning models, and the last line has `done: true`
with `prompt_eval_count` (input tokens) and `eval_count` (output tokens). With
`"stream": false` that last object is the whole answer. /api/embed returns
`prompt_eval_count`. Ollama leaves `prompt_eval_count` out when the whole prompt came
from its cache; the prompt is then estimated.
OpenAI-compatible /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses
and Anthropic-compatible /v1/messages are read by those APIs' parsers.

Sources: ollama/ollama docs/api/usage.mdx, streaming.mdx, openai-compatibility.mdx,
anthropic-compatibility.mdx.
"""

from __future__ import annotations

from offgate.catalog.anthropic import Messages
from offgate.catalog.base import CallParser, Usage, as_int, as_obj, obj, text_of
from offgate.catalog.openai import ChatCompletions, Completions, Embeddings, Responses
from offgate.catalog.registry import PathRule, Provider


class _NativeParser(CallParser):
    """What /api/chat, /api/generate and /api/embed share: `model` and `stream` (on by
    default) in the request, the counts on the final object."""

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.streamed = body.get("stream", True) is not False

    def on_json(self, body: object) -> None:
        answer = as_obj(body)
        if answer is None:
            return
        self.set_model(answer.get("model"))
        self.add_completion_text(self.written(answer))
        if answer.get("done") is True or "embeddings" in answer:
            self.finished_stream = True
            self.reading.usage = Usage(prompt_tokens=as_int(answer.get("prompt_eval_count")),
                                       completion_tokens=as_int(answer.get("eval_count")) or 0)

    def written(self, body: dict[str, object]) -> list[str]:
        return []


class Chat(_NativeParser):
    endpoint = "chat"

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)
        self.read_chat_messages(body.get("messages"))

    def written(self, body: dict[str, object]) -> list[str]:
        message = obj(body.get("message") or {})
        return [*text_of(message.get("thinking")), *text_of(message.get("content"))]


class Generate(_NativeParser):
    endpoint = "generate"

    def on_request(self, body: dict[str, object]) -> None:
        super().on_request(body)
        self.add_prompt_text(text_of(body.get("system")))
        self.add_prompt_text(text_of(body.get("prompt")))

    def written(self, body: dict[str, object]) -> list[str]:
        return [*text_of(body.get("thinking")), *text_of(body.get("response"))]


class Embed(_NativeParser):
    endpoint = "embed"

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.add_prompt_text(text_of(body.get("input")))


OPENAI_COMPATIBLE_PATHS = (
    PathRule.of(r"/v1/chat/completions", ChatCompletions),
    PathRule.of(r"/v1/completions", Completions),
    PathRule.of(r"/v1/embeddings", Embeddings),
    PathRule.of(r"/v1/responses", Responses),
    PathRule.of(r"/v1/messages", Messages),
)

PROVIDER = Provider(
    name="ollama",
    hosts=("localhost:11434", "127.0.0.1:11434"),
    paths=(
        PathRule.of(r"/api/chat", Chat),
        PathRule.of(r"/api/generate", Generate),
        PathRule.of(r"/api/embed", Embed),
        *OPENAI_COMPATIBLE_PATHS,
    ),
    app="ollama",
)
