"""The addon's WebSocket hooks on mitmproxy's own flows: what they keep of a session."""

from __future__ import annotations

from mitmproxy.test import tflow
from mitmproxy.websocket import WebSocketMessage

from interceptor.addon import OffgateAddon


def test_a_long_session_does_not_pile_up_in_the_flow():
    addon = OffgateAddon()
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
    assert call.meter.request_bytes == 1000 * len(audio) and addon.errors == 0
