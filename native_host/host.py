"""The host's conversation with the extension: one reply for every message, whatever it is.

Replies are JSON objects: `{"type": "ack", "id", "event_ids"}` for a recorded call or
WebSocket batch, sent only once every event of it is durable (the writer's put() returned),
`{"type": "hello", ...}`, `{"type": "today", ...}` and `{"type": "coaching", "id", "rules"}` for
those questions, `{"type": "ack", "id", "event_ids": []}` for a `coached` notice once it is kept, and
`{"type": "error", "id", "error", "retryable", "message"}` for anything refused, where
`error` is a fixed code (listed in ERRORS), `message` says what was wrong, and `retryable`
says whether the same message may succeed later (send it again) or never will.

Starting fast matters (the browser waits for the first reply, then for the first call's
acknowledgement), so the recorder (catalog, settings) is loaded on a thread started right after
the first reply, and what no reply waits for (the writer's thread, the store, the tokenizer, the
browser's lookup) starts after the first reply sent once the recorder is loaded.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import ValidationError

from native_host.framing import FrameWriter, MessageTooLarge, StreamBroken, read_frame
from native_host.messages import (
    MAX_ID_CHARS,
    MAX_MESSAGE_BYTES,
    MODELS,
    CallMessage,
    Coached,
    Coaching,
    Hello,
    NotInCatalog,
    Today,
    Unavailable,
    WebSocketBatch,
    describe_errors,
)

if TYPE_CHECKING:
    from native_host.recorder import Recorder

log = logging.getLogger("offgate.native_host")

PROTOCOL_VERSION = 1
ERRORS = {
    "too_large": "the message is over the size limit; it was skipped",
    "bad_json": "the message is not UTF-8 JSON",
    "not_an_object": "the message is not a JSON object",
    "invalid_message": "a field is missing, unknown or out of range",
    "not_in_catalog": "the URL is not one offgate's catalog reads",
    "origin_not_allowed": "the calling extension is not one this host was installed for",
    "broken_stream": "the input is no longer native-messaging frames; the host stops",
    "unavailable": "the host cannot record right now (settings or disk); send it again later",
    "failed": "the host could not record this message (a fault in offgate); see native-host.log",
}
# Only these can succeed if the same message comes again; the others would fail the same way.
RETRYABLE = frozenset({"unavailable"})


# An error's message can quote what it refuses (a field's name, a URL): kept short, the reply
# always fits the 1 MB the browser accepts.
MAX_ERROR_CHARS = 300


def error_reply(code: str, message: str, message_id: str | None = None) -> dict[str, Any]:
    assert code in ERRORS
    return {"type": "error", "id": message_id, "error": code, "retryable": code in RETRYABLE,
            "message": message[:MAX_ERROR_CHARS]}


def encode(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, separators=(",", ":")).encode("utf-8")


class Host:
    def __init__(self, home: Path) -> None:
        self._home = home
        self._recorder: Recorder | None = None
        self._warm_up: threading.Thread | None = None
        self._waiting = False  # for the next message: the one moment a stop may cut in
        self._stopping = False

    def stop(self) -> None:
        """Stop (SIGTERM): at once while waiting for a message, else after the reply in hand. Never
        in the middle of one: a thread's start cut short would leave the writer not started."""
        self._stopping = True
        if self._waiting:
            raise SystemExit(0)

    def serve(self, stdin: BinaryIO, stdout: BinaryIO) -> int:
        """Answer messages until the input ends; returns the exit status."""
        out = FrameWriter(stdout)
        try:
            while True:
                try:
                    frame = self._next_frame(stdin)
                except MessageTooLarge as exc:
                    log.warning("refused: %s", exc)
                    out.write(encode(error_reply("too_large", str(exc))))
                    continue
                except StreamBroken as exc:
                    log.error("stopping: %s", exc)
                    out.write(encode(error_reply("broken_stream", str(exc))))
                    return 1
                if frame is None:  # the input ended, or the host was stopped
                    return 0
                out.write(encode(self.handle(frame)))
                self._after_reply()
        except BrokenPipeError:
            log.info("the browser closed the connection")
            return 0
        finally:
            self.close()

    def _next_frame(self, stdin: BinaryIO) -> bytes | None:
        self._waiting = True
        try:
            if self._stopping:  # stopped before it waited: no stop would cut the wait short
                return None
            return read_frame(stdin, MAX_MESSAGE_BYTES)
        finally:
            self._waiting = False

    def handle(self, frame: bytes) -> dict[str, Any]:
        try:
            raw = json.loads(frame)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            return error_reply("bad_json", f"not UTF-8 JSON: {exc}")
        except RecursionError:
            return error_reply("bad_json", "not UTF-8 JSON: nested too deeply")
        if not isinstance(raw, dict):
            return error_reply("not_an_object", f"expected a JSON object, got {type(raw).__name__}")
        # The reply repeats a message's id only if it is one (never a megabyte of "id").
        message_id = raw.get("id") if isinstance(raw.get("id"), str) and len(raw["id"]) <= MAX_ID_CHARS else None
        kind = raw.get("type")
        model = MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            return error_reply("invalid_message", f"type: expected one of {', '.join(MODELS)}, got {kind!r}",
                               message_id)
        try:
            message = model.model_validate(raw)
        except ValidationError as exc:
            return error_reply("invalid_message", describe_errors(exc.errors()), message_id)
        try:
            return self._answer(message)
        except NotInCatalog as exc:
            return error_reply("not_in_catalog", str(exc), message.id)
        except Unavailable as exc:
            log.warning("not recorded, to be sent again: %s message %s: %s", message.type, message.id, exc)
            return error_reply("unavailable", str(exc), message.id)
        except Exception as exc:  # the host never dies on one message
            log.exception("could not handle %s message %s", message.type, message.id)
            return error_reply("failed", f"{type(exc).__name__}: {exc}", message.id)

    def close(self) -> None:
        if self._warm_up is not None:
            self._warm_up.join()
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def _answer(self, message: Hello | CallMessage | WebSocketBatch | Today | Coaching | Coached) -> dict[str, Any]:
        if isinstance(message, Hello):
            log.info("extension %s connected", message.extension_version)
            return {"type": "hello", "id": message.id, "protocol": PROTOCOL_VERSION,
                    "max_message_bytes": MAX_MESSAGE_BYTES}
        recorder = self._ready_recorder()
        if isinstance(message, CallMessage):
            return {"type": "ack", "id": message.id, "event_ids": recorder.record_call(message)}
        if isinstance(message, WebSocketBatch):
            return {"type": "ack", "id": message.id, "event_ids": recorder.record_websocket(message)}
        if isinstance(message, Coaching):
            return {"type": "coaching", "id": message.id, "rules": recorder.coaching_rules()}
        if isinstance(message, Coached):
            recorder.record_coached(message)
            return {"type": "ack", "id": message.id, "event_ids": []}
        return {"type": "today", "id": message.id, **recorder.today(message.since)}

    def _after_reply(self) -> None:
        if self._recorder is not None:
            self._recorder.start()
        elif self._warm_up is None:
            self._warm_up = threading.Thread(target=self._warm, name="offgate-warm-up", daemon=True)
            self._warm_up.start()

    def _warm(self) -> None:
        try:
            self._recorder = _load_recorder(self._home)
        except Exception:  # the next message tries again and reports it
            log.exception("could not start recording")

    def _ready_recorder(self) -> Recorder:
        if self._warm_up is not None:
            self._warm_up.join()
        if self._recorder is None:
            try:
                self._recorder = _load_recorder(self._home)
            except Exception as exc:  # e.g. broken settings: a later message tries again
                raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
        return self._recorder


def _load_recorder(home: Path) -> Recorder:
    from native_host.recorder import Recorder  # heavy: catalog, tokenizer, store

    return Recorder(home)
