"""Amazon Bedrock Runtime (bedrock-runtime.{region}.amazonaws.com).

The model is the path segment after /model/: a model id (`anthropic.claude-...-v1:0`),
a cross-region inference profile (`us.anthropic.claude-...`) or an ARN, URL-encoded by
the SDKs. Four operations:

- InvokeModel (`/invoke`) and InvokeModelWithResponseStream (`/invoke-with-response-stream`)
  carry the model's own JSON. Anthropic's Messages body is read in full (Bedrock drops
  `model` and `stream`); for every model Bedrock also reports the counts itself, in the
  x-amzn-bedrock-*-token-count response headers of InvokeModel and in
  `amazon-bedrock-invocationMetrics` on the last chunk of a stream. The model's own counts
  win where both are given (as LiteLLM does); Bedrock's fill in the rest.
- Converse (`/converse`) and ConverseStream (`/converse-stream`) are Bedrock's own shape
  for every model: `messages[].content[].text` in, `output.message` and `usage` out.

Streams are AWS's binary event stream. An InvokeModelWithResponseStream event is a
`chunk` whose payload is `{"bytes": base64 of one native event}`; a ConverseStream event
is named by its type (contentBlockDelta, ..., metadata, which carries the usage).

Bedrock counts input tokens apart from cache reads and writes, as Anthropic does; LiteLLM's
prompt count is the sum of the three. Bedrock also serves the OpenAI API (Chat Completions
and Responses) under /openai/v1, and `bedrock-mantle.{region}.api.aws` serves the OpenAI
API under /v1 and /openai/v1 and Anthropic's under /anthropic/v1.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from offgate.catalog.anthropic import Messages, messages_usage
from offgate.catalog.base import CallParser, Usage, as_list, as_obj, obj, objects, text_of
from offgate.catalog.openai import ChatCompletions, Responses
from offgate.catalog.registry import PathRule, Provider

# Bedrock's names for the counts Anthropic calls input, output, cache read and cache write.
_METRICS_COUNTS = {
    "input_tokens": "inputTokenCount",
    "output_tokens": "outputTokenCount",
    "cache_read_input_tokens": "cacheReadInputTokenCount",
    "cache_creation_input_tokens": "cacheWriteInputTokenCount",
}
_HEADER_COUNTS = {
    "input_tokens": "x-amzn-bedrock-input-token-count",
    "output_tokens": "x-amzn-bedrock-output-token-count",
    "cache_read_input_tokens": "x-amzn-bedrock-cache-read-input-token-count",
    "cache_creation_input_tokens": "x-amzn-bedrock-cache-write-input-token-count",
}


def converse_usage(value: object) -> Usage | None:
    """LiteLLM's view of Converse's `TokenUsage`."""
    usage = as_obj(value)
    if usage is None:
        return None
    return messages_usage({
        "input_tokens": usage.get("inputTokens"),
        "output_tokens": usage.get("outputTokens"),
        "cache_read_input_tokens": usage.get("cacheReadInputTokens"),
        "cache_creation_input_tokens": usage.get("cacheWriteInputTokens"),
    })


def _header_count(headers: Mapping[str, str], name: str) -> int | None:
    value = (headers.get(name) or "").strip()
    # int() refuses more than 4,300 digits; a count never has more than a dozen.
    return int(value) if value.isdecimal() and len(value) <= 20 else None


class InvokeModel(Messages):
    endpoint = "invoke"

    def start_response(self, status_code: int, headers: Mapping[str, str]) -> None:
        super().start_response(status_code, headers)
        self.reading.response_id = headers.get("x-amzn-requestid") or None
        self._fill_usage({name: _header_count(headers, header) for name, header in _HEADER_COUNTS.items()})

    def on_event(self, event: str, data: str) -> None:
        if event != "chunk":
            return
        encoded = obj(json.loads(data))["bytes"]
        if not isinstance(encoded, str):
            raise TypeError("a chunk's bytes are not base64 text")
        native = as_obj(json.loads(base64.b64decode(encoded)))
        if native is None:
            return
        self.read_event(native)  # Anthropic's events; other models' carry no `type`
        metrics = as_obj(native.get("amazon-bedrock-invocationMetrics"))
        if metrics is not None:
            self._fill_usage({name: metrics.get(key) for name, key in _METRICS_COUNTS.items()})
            self.finished_stream = True  # the metrics ride on the last chunk, whatever the model

    def _fill_usage(self, counts: Mapping[str, object]) -> None:
        """Bedrock's counts, for whatever the model's own usage did not report."""
        for name, value in counts.items():
            if value is not None:
                self._usage_counts.setdefault(name, value)
        if self._usage_counts:
            self.reading.usage = messages_usage(self._usage_counts)


class InvokeModelWithResponseStream(InvokeModel):
    endpoint = "invoke-with-response-stream"


class Converse(CallParser):
    endpoint = "converse"

    def on_request(self, body: dict[str, object]) -> None:
        system = body.get("system")
        if system:
            self.reading.prompt_messages += 1
            self.add_prompt_text(text_of(system))
        messages = objects(body.get("messages"))
        self.reading.prompt_messages += len(messages)
        for message in messages:
            self.add_prompt_text(text_of(message.get("content")))

    def start_response(self, status_code: int, headers: Mapping[str, str]) -> None:
        super().start_response(status_code, headers)
        self.reading.response_id = headers.get("x-amzn-requestid") or None

    def on_json(self, body: object) -> None:
        response = as_obj(body)
        if response is None:
            return
        message = obj(obj(response.get("output") or {}).get("message") or {})
        for block in as_list(message.get("content")) or ():
            self.add_completion_text(_block_texts(block))
        self._read_usage(response.get("usage"))

    def on_event(self, event: str, data: str) -> None:
        payload = json.loads(data)
        if event == "contentBlockDelta":
            self.add_completion_text(_block_texts(obj(payload).get("delta")))
        elif event == "metadata":  # the last event: usage and latency
            self._read_usage(obj(payload).get("usage"))
            self.finished_stream = True

    def _read_usage(self, usage: object) -> None:
        read = converse_usage(usage)
        if read is not None:
            self.reading.usage = read


class ConverseStream(Converse):
    endpoint = "converse-stream"


def _block_texts(value: object) -> list[str]:
    """What the model wrote in a content block or a stream delta: text, reasoning text and
    tool-call input (a JSON string in a delta) are all output tokens."""
    block = as_obj(value)
    if block is None:
        return []
    reasoning = obj(block.get("reasoningContent") or {})
    texts = [block.get("text"), obj(reasoning.get("reasoningText") or {}).get("text"), reasoning.get("text"),
             obj(block.get("toolUse") or {}).get("input")]
    return [text for text in texts if isinstance(text, str)]


# Every commercial and GovCloud region (botocore's partitions.json, "aws" and
# "aws-us-gov"); hosts are listed, not matched by pattern, so nothing else is decrypted.
AWS_REGIONS = (
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1",
    "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "il-central-1", "me-central-1", "me-south-1", "me-west-1", "mx-central-1", "sa-east-1", "sa-west-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1",
)
# FIPS endpoints exist in the US, GovCloud and Canada regions.
_FIPS_REGIONS = tuple(region for region in AWS_REGIONS if region.startswith(("us-", "ca-")))

_MODEL = r"/model/(?P<model>[^/]+)"

PROVIDER = Provider(
    name="bedrock",
    hosts=(
        *(f"bedrock-runtime.{region}.amazonaws.com" for region in AWS_REGIONS),
        *(f"bedrock-runtime-fips.{region}.amazonaws.com" for region in _FIPS_REGIONS),
        *(f"bedrock-mantle.{region}.api.aws" for region in AWS_REGIONS),
    ),
    paths=(
        PathRule.of(_MODEL + r"/invoke", InvokeModel),
        PathRule.of(_MODEL + r"/invoke-with-response-stream", InvokeModelWithResponseStream),
        PathRule.of(_MODEL + r"/converse", Converse),
        PathRule.of(_MODEL + r"/converse-stream", ConverseStream),
        PathRule.of(r"(?:/openai)?/v1/chat/completions", ChatCompletions),
        PathRule.of(r"(?:/openai)?/v1/responses", Responses),
        PathRule.of(r"/anthropic/v1/messages", Messages),
    ),
)
