"""Poe (poe.com).

A turn takes two connections. The page sends every GraphQL operation to POST
/api/gql_POST as `{queryName, variables, extensions}`; only a send-message mutation is a
call (anything else is marked as no call and dropped). Its variables name the `bot` (a
handle such as "GPT-4o", or the codename the bot goes by, such as "gpt4_o") and the new
message, `query`. The reply comes over the user's update channel, a WebSocket at
wss://tch{n}.tch.poe.com/up/{boxName}/updates?min_seq=...&channel=...&hash=...: each frame
is `{"messages": [<JSON text>, ...], "min_seq": n}`, and each message is
`{"message_type": "subscriptionUpdate", "payload": {"subscription_name": "messageAdded",
"unique_id", "data": {"messageAdded": {id, messageId, author, text, state, ...}}}}`. The
bot's message comes again and again with its whole `text` so far and `state` "incomplete",
until "complete" (or an "error_..." state); `author` is the bot's codename, "human" for
the person's own message, "chat_break" for a context reset.

So a turn is two records: the mutation's (the bot and the prompt's tokens) and the reply's
(the bot, the reply's tokens and the bot message's id). They are not joined into one: the
channel names neither the chat nor the message it answers, only the bot message's own id,
and the clients that pair them do so by timing (the first incomplete bot message after
sending), which is a guess. The person's message, if the channel echoes it, is not counted
again. Poe bills compute points, not tokens: both records are API-equivalent estimates.

Sources: snowby666/poe-api-wrapper poe_api_wrapper/api.py (payload, SendMessageMutation,
the channel URL and `on_message`: the `messages` list, message_type, subscription_name,
data.messageAdded, state) and utils.py (bot codenames); chathub-dev/chathub's Poe bot
(the WebsocketMessage type: messageAdded {id, author, text, state, messageId}); the
messageAdded subscription's fields as clients of 2023 sent it (id, messageId, text,
author, linkifiedText, state, suggestedReplies).
"""

from __future__ import annotations

import json
from typing import Any

from offgate.catalog.base import MAX_TEXT_CHARS, CallParser, Reading, as_list, as_obj, obj, text_of
from offgate.catalog.registry import PathRule, Provider
from offgate.catalog.sessions import SessionParser

# Authors of messages that are not a bot's reply.
NOT_REPLIES = frozenset({"human", "chat_break"})
# Bot messages recorded in this session, kept to ignore their later updates (Poe sends
# suggested replies after "complete"); the newest this many are enough.
REMEMBERED_REPLIES = 256


class SendMessage(CallParser):
    endpoint = "SendMessageMutation"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading.is_llm_call = False  # until the body names the send-message mutation

    def on_request(self, body: dict[str, object]) -> None:
        if not str(body.get("queryName", "")).lower().endswith("sendmessagemutation"):
            return
        self.reading.is_llm_call = True
        variables = obj(body.get("variables") or {})
        self.set_model(variables.get("bot"))
        self.reading.prompt_messages = 1
        self.add_prompt_text(text_of(variables.get("query")))


class Updates(SessionParser):
    """The update channel: one reading per bot message that completes (see the module)."""

    endpoint = "messageAdded"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._under_way: dict[str, tuple[str, str]] = {}  # messageId -> (author, text so far)
        self._recorded: dict[str, None] = {}  # messageIds recorded, oldest first

    def on_ws_message(self, from_client: bool, message: object) -> None:
        frame = as_obj(message)
        if from_client or frame is None:
            return
        for update in as_list(frame.get("messages")) or ():
            self._read_update(json.loads(update) if isinstance(update, str) else update)

    def finish_session(self, complete: bool = True) -> list[Reading]:
        # Replies still under way were cut off: each is recorded with the text it had.
        for message_id in list(self._under_way):
            self._fail("session ended before the reply completed")
            self._record(message_id)
        return super().finish_session(complete)

    def _read_update(self, value: object) -> None:
        update = as_obj(value)
        if update is None or update.get("message_type") != "subscriptionUpdate":
            return
        payload = obj(update.get("payload") or {})
        added = as_obj(obj(payload.get("data") or {}).get("messageAdded"))
        if payload.get("subscription_name") != "messageAdded" or added is None:
            return
        author, text, state = added.get("author"), added.get("text"), added.get("state")
        message_id = str(added.get("messageId") or added.get("id") or "")
        if not isinstance(author, str) or author in NOT_REPLIES or not message_id or message_id in self._recorded:
            return
        self._under_way[message_id] = (author, text[:MAX_TEXT_CHARS] if isinstance(text, str) else "")
        self.response_under_way = True
        if state == "complete":
            self._record(message_id)
        elif isinstance(state, str) and state.startswith("error"):
            self._record(message_id, refused=f"Poe answered with {state}")

    def _record(self, message_id: str, refused: str | None = None) -> None:
        author, text = self._under_way.pop(message_id)
        self.set_model(author)
        self.reading.response_id = message_id
        if refused:
            self.reject_response(refused)
        else:
            self.add_completion_text([text])
            self.complete_response()
        self.response_under_way = bool(self._under_way)
        self._recorded[message_id] = None
        if len(self._recorded) > REMEMBERED_REPLIES:
            del self._recorded[next(iter(self._recorded))]


PROVIDER = Provider(
    name="poe",
    hosts=("poe.com", "www.poe.com", "*.tch.poe.com"),
    paths=(
        PathRule.of(r"/api/gql_POST", SendMessage),
        PathRule.of(r"/up/[^/]+/updates", Updates),
    ),
    usage="estimated",
)
