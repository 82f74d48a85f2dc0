"""The recorder's WebSocket hooks on mitmproxy's own flows: what they keep of a session."""

from __future__ import annotations

from mitmproxy.test import tflow
from mitmproxy.websocket import WebSocketMessage

from interceptor.attribution import ProcessCache
from interceptor.decrypt_policy import DecryptPolicy
from interceptor.fail_open import FailOpen
from interceptor.recorder import Recorder


def test_a_long_session_does_not_pile_up_in_the_flow():
    fail_open = FailOpen()
    addon = Recorder(DecryptPolicy(), ProcessCache(), fail_open)
    flow = tflow.twebsocketflow(messages=[])
    flow.request.host, flow.request.path = "api.openai.com", "/v1/realtime?model=gpt-realtime"
    flow.request.headers["upgrade"] = "websocket"
    addon.requestheaders(flow)
    assert flow.metadata["offgate"].match.endpoint == "realtime"

    audio = b'{"type":"input_audio_buffer.append","audio":"' + b"A" * 6400 + b'"}'
    for _ in range(1000):
        flow.websocket.messages.append(WebSocketMessage(1, True, audio))
        addon.websocket_message(flow)
    assert [m.content for m in flow.websocket.messages] == [audio]  # only the newest, as it passed
    call = flow.metadata["offgate"]
    assert call.meter.request_bytes == 1000 * len(audio) and fail_open.errors == 0
