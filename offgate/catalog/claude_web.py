"""Claude's web app (claude.ai).

POST /api/organizations/{org}/chat_conversations/{conversation}/completion (and
/retry_completion). The body holds the new message only: `prompt`, pasted files as
`attachments[].extracted_content`, an optional `model` ("claude-sonnet-4-6"); the
conversation so far stays on Anthropic's side. The answer is server-sent events named
as in the Messages API (message_start, content_block_delta with text_delta,
thinking_delta or input_json_delta, message_delta, message_stop) plus message_limit
(quota windows). No event carries usage, so tokens are estimated from the text.

Sources: st1vms/unofficial-claude-api claude_api/client.py (endpoint, request);
blaci29/claude-token-tracker snippets/Old/developer-doc.md (event and delta types).
"""

from __future__ import annotations

from offgate.catalog.anthropic import Messages
from offgate.catalog.base import as_obj, objects, text_of
from offgate.catalog.registry import PathRule, Provider


class Completion(Messages):
    endpoint = "completion"

    def on_request(self, body: dict[str, object]) -> None:
        self.set_model(body.get("model"))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(body.get("prompt")))
        for attachment in objects(body.get("attachments")):
            self.add_prompt_text(text_of(attachment.get("extracted_content")))

    def read_event(self, payload: dict[str, object], event: str = "") -> None:
        delta = as_obj(payload.get("delta"))
        if delta is not None and delta.get("type") == "input_json_delta":
            # Tool input (an artifact's file, a search query) is written by the model too.
            self.add_completion_text(text_of(delta.get("partial_json")))
        else:
            super().read_event(payload, event)


PROVIDER = Provider(
    name="claude-web",
    hosts=("claude.ai",),
    paths=(PathRule.of(r"/api/organizations/[^/]+/chat_conversations/[^/]+/(?:retry_)?completion", Completion),),
    usage="estimated",
)
