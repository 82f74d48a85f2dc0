"""Google Cloud Vertex AI ({location}-aiplatform.googleapis.com).

Models are published under `/v1[beta1]/projects/{project}/locations/{location}/publishers/
{publisher}/models/{model}` (API-key "express mode" leaves out the project and location),
and the path names the model. Each publisher speaks its own API there, so the parsers of
that API read it:

- Google's Gemini: `:generateContent` and `:streamGenerateContent` (`?alt=sse` or a JSON
  array), exactly the Gemini API's bodies;
- Anthropic's Claude: `:rawPredict` and `:streamRawPredict` take a Messages body without
  `model` (`"anthropic_version": "vertex-2023-10-16"`) and answer as the Messages API;
  `count-tokens:rawPredict` counts tokens and is no call;
- Mistral's models: `:rawPredict` / `:streamRawPredict` with Chat Completions bodies.

Vertex also serves the OpenAI Chat Completions API at
`.../locations/{location}/endpoints/openapi/chat/completions` (model `google/gemini-...`
or a partner model such as `meta/llama-...-maas`), a tuned model answers at
`.../endpoints/{endpoint}:generateContent`, and the Live API is a WebSocket at
`/ws/google.cloud.aiplatform.v1[beta1].LlmBidiService/BidiGenerateContent`.
"""

from __future__ import annotations

from offgate.catalog.anthropic import Messages
from offgate.catalog.gemini import BidiGenerateContent, GenerateContent, StreamGenerateContent
from offgate.catalog.openai import ChatCompletions
from offgate.catalog.registry import PathRule, Provider

# The regions of Generative AI on Vertex AI (cloud.google.com/vertex-ai/generative-ai/docs/learn/locations)
# and of Vertex AI itself; each has its own host.
LOCATIONS = (
    "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
    "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "australia-southeast1",
    "australia-southeast2", "europe-central2", "europe-north1", "europe-north2", "europe-southwest1",
    "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
    "europe-west9", "europe-west10", "europe-west12", "me-central1", "me-central2", "me-west1",
    "northamerica-northeast1", "northamerica-northeast2", "northamerica-south1", "southamerica-east1",
    "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
    "us-west2", "us-west3", "us-west4", "us-west5",
)

_BASE = r"/v1(?:beta1)?(?:/projects/[^/]+/locations/[^/]+)?"
_GOOGLE = _BASE + r"/(?:publishers/google/models|endpoints)/(?P<model>[^/:]+)"
_ANTHROPIC = _BASE + r"/publishers/anthropic/models/(?P<model>(?!count-tokens:)[^/:]+)"
_MISTRAL = _BASE + r"/publishers/mistralai/models/(?P<model>[^/:]+)"

PROVIDER = Provider(
    name="vertex",
    hosts=(
        "aiplatform.googleapis.com",  # the global location, and express mode
        "aiplatform.us.rep.googleapis.com",  # multi-region endpoints
        "aiplatform.eu.rep.googleapis.com",
        *(f"{location}-aiplatform.googleapis.com" for location in LOCATIONS),
    ),
    paths=(
        PathRule.of(_GOOGLE + r":generateContent", GenerateContent),
        PathRule.of(_GOOGLE + r":streamGenerateContent", StreamGenerateContent),
        PathRule.of(_ANTHROPIC + r":(?:rawPredict|streamRawPredict)", Messages),
        PathRule.of(_MISTRAL + r":(?:rawPredict|streamRawPredict)", ChatCompletions),
        PathRule.of(_BASE + r"/endpoints/openapi/chat/completions", ChatCompletions),
        # The Live API's WebSocket; the setup message names the model's full resource name.
        PathRule.of(r"/ws/google\.cloud\.aiplatform\.v1(?:beta1)?\.LlmBidiService/BidiGenerateContent",
                    BidiGenerateContent),
    ),
)
