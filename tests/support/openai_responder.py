"""A FakeUpstream responder that speaks OpenAI's chat completions, for traffic no test can
label with a scenario header (what a LiteLLM proxy sends upstream).

Each answer has a response id of its own, and the usage the request asks for: the last
message's text "usage <prompt> <completion>" sets the token counts. `GET .../models`
lists the models (LiteLLM asks at start). Streams follow OpenAI's wire format, with a
usage chunk only when `stream_options.include_usage` asks for it.
"""

from __future__ import annotations

import itertools
import json
import re

from tests.support.upstream import Received, Scenario

USAGE = re.compile(r"usage (\d+) (\d+)")
RESPONSE_MODEL_SUFFIX = "-2024-07-18"  # OpenAI answers with the dated model name
_ids = itertools.count(1)


def openai_responder(received: Received) -> Scenario:
    if received.method == "GET" and received.path.split("?")[0].endswith("/models"):
        return _json({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0,
                                                  "owned_by": "openai"}]})
    if not received.path.split("?")[0].endswith("/chat/completions"):
        return _json({"error": {"message": f"no such path {received.path}"}}, status=404)
    request = json.loads(received.body)
    found = USAGE.search(str(request["messages"][-1]["content"]))
    prompt, completion = (int(found.group(1)), int(found.group(2))) if found else (10, 5)
    response_id = f"chatcmpl-fake-{next(_ids):06d}"
    model = request["model"] + RESPONSE_MODEL_SUFFIX
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    text = "word " * completion
    if not request.get("stream"):
        return _json({"id": response_id, "object": "chat.completion", "created": 1795900000, "model": model,
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                   "finish_reason": "stop"}], "usage": usage})
    base = {"id": response_id, "object": "chat.completion.chunk", "created": 1795900000, "model": model}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
              {**base, "choices": [{"index": 0, "delta": {"content": text}}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    if (request.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": usage})
    events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [b"data: [DONE]\n\n"]
    return Scenario(headers={"content-type": "text/event-stream"}, chunks=events, streamed=True)


def _json(body: dict, status: int = 200) -> Scenario:
    return Scenario(status=status, headers={"content-type": "application/json"}, chunks=[json.dumps(body).encode()])
