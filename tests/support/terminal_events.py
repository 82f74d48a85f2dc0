"""Each recorded stream's terminal event, from its API's documentation (not from the parser),
and where it begins in the fixture: tests cut a stream just before it to see a call cut off."""

from __future__ import annotations

import base64
import json
import struct

from tests.support.fixture_files import Fixture, fixture_names, load_fixture

# Where each streamed fixture's terminal event begins: the last line (or binary frame)
# holding these bytes. A new streamed fixture must name its terminal event here.
TERMINAL_EVENTS = {
    "anthropic/messages_stream": b"event: message_stop",
    "azure/deployment_chat_stream": b"data: [DONE]",
    "bedrock/converse_stream": b"metadata",  # ConverseStream's last event: usage and metrics
    "bedrock/invoke_stream": b"amazon-bedrock-invocationMetrics",  # on the model's last chunk
    "chatgpt/codex_responses": b"event: response.completed",
    "chatgpt/conversation_delta": b"data: [DONE]",
    "chatgpt/conversation_snapshots": b"data: [DONE]",
    "claude-web/completion": b"event: message_stop",
    "cohere/chat_v1_stream": b'"stream-end"',
    "cohere/chat_v2_stream": b"event: message-end",
    "cursor/stream_unified_chat": b"\x02",  # Connect's end-of-stream envelope flag
    "deepseek-web/completion": b'"quasi_status", "v": "FINISHED"',  # or response/status, the first to come
    "deepseek/chat_stream_reasoner": b"data: [DONE]",
    "fireworks/chat_stream": b"data: [DONE]",
    "gemini-web/stream_generate": b'[["e",',  # Google's end-of-response envelope
    "gemini-web/stream_generate_lite": b'[["e",',
    "gemini-web/stream_generate_pro": b'[["e",',
    "gemini-web/stream_generate_thinking": b'[["e",',
    "gemini/stream_array": b'"finishReason"',
    "gemini/stream_sse": b'"finishReason"',
    "github-copilot/chat_stream": b"data: [DONE]",
    "grok-web/new_conversation": b'"modelResponse"',
    "groq/chat_stream": b"data: [DONE]",
    "huggingchat/conversation": b'"finalAnswer"',
    "huggingface/legacy_text_generation_stream": b'"generated_text":"',
    "huggingface/router_provider_chat_stream": b"data: [DONE]",
    "jetbrains-ai/chat_stream": b'"FinishMetadata"',
    "le-chat/chat_data_stream": b"\nd:",  # the AI SDK data stream's finish_message part
    "le-chat/chat_patches": b'"status": "done"',
    "le-chat/chat_start": b"\n8:",  # Le Chat's end line
    "le-chat/new_chat": b'{"result"',  # a tRPC answer is one whole line
    "lmstudio/openai_chat_stream": b"data: [DONE]",
    "meta-ai/send_message": b'"OVERALL_DONE"',
    "mistral/chat_stream": b"data: [DONE]",
    "ollama/chat_stream": b'"done": true',
    "openai/assistants_run_stream": b"data: [DONE]",
    "openai/chat_stream_no_usage": b"data: [DONE]",
    "openai/chat_stream_usage": b"data: [DONE]",
    "openai/completions_stream": b"data: [DONE]",
    "openai/responses_stream": b"event: response.completed",
    "openrouter/chat_stream": b"data: [DONE]",
    "perplexity-web/ask": b'"final_sse_message": true',
    "perplexity/chat_stream": b'"finish_reason":"stop"',
    "together/chat_stream": b"data: [DONE]",
    "vertex/claude_stream_raw_predict": b"event: message_stop",
    "vertex/gemini_stream_sse": b'"finishReason"',
    "xai/responses_stream": b"event: response.completed",
    "zed/completion_anthropic": b'"message_stop"',
}


def streamed_fixtures() -> list[str]:
    """Every recorded stream the server answered (an error answer has no terminal event)."""
    names = []
    for name in fixture_names():
        fixture = load_fixture(name)
        if fixture.expected["streamed"] and fixture.status < 400:
            names.append(name)
    return names


STREAMS = streamed_fixtures()


def terminal_event_start(fixture: Fixture) -> int:
    """Where the fixture's terminal event begins: its line, or its binary frame."""
    body, marker = fixture.response_body, TERMINAL_EVENTS[fixture.name]
    content_type = fixture.response_headers["content-type"]
    if "amazon.eventstream" in content_type:
        return _last_frame_with(_aws_frames(body), marker)
    if "connect+" in content_type:
        return _last_frame_with(_connect_envelopes(body), marker, at_flags=True)
    found = body.rindex(marker)
    return body.rindex(b"\n", 0, found + 1) + 1 if b"\n" in body[:found + 1] else 0


def _last_frame_with(frames: list[tuple[int, bytes]], marker: bytes, at_flags: bool = False) -> int:
    for start, frame in reversed(frames):
        if (frame[:1] == marker) if at_flags else marker in frame:
            return start
    raise AssertionError(f"no frame holds {marker!r}")


def _aws_frames(body: bytes) -> list[tuple[int, bytes]]:
    """(start, frame with its base64 payload decoded) of each AWS event-stream message."""
    frames, at = [], 0
    while at < len(body):
        total, headers = struct.unpack(">II", body[at:at + 8])
        frame = body[at:at + total]
        payload = json.loads(frame[12 + headers:-4])
        if "bytes" in payload:  # InvokeModelWithResponseStream wraps the model's own JSON
            frame += base64.b64decode(payload["bytes"])
        frames.append((at, frame))
        at += total
    return frames


def _connect_envelopes(body: bytes) -> list[tuple[int, bytes]]:
    """(start, envelope) of each Connect envelope: a flags byte, a 4-byte length, the message."""
    envelopes, at = [], 0
    while at < len(body):
        length = struct.unpack(">I", body[at + 1:at + 5])[0]
        envelopes.append((at, body[at:at + 5 + length]))
        at += 5 + length
    return envelopes
