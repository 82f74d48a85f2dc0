"""WebSocket sessions as they really go: cut off, refused, failing, malformed, or empty.
Each still gives honest readings, one per response, and never raises."""

from __future__ import annotations

import json

from offgate.catalog import DEFAULT_CATALOG
from tests.support.fixture_files import load_fixture, read_session, reading_view
from tests.support.upstream import WebSocketMessage


def client(message: object) -> WebSocketMessage:
    return WebSocketMessage(True, False, json.dumps(message).encode())


def server(message: object, binary: bool = False) -> WebSocketMessage:
    return WebSocketMessage(False, binary, json.dumps(message).encode())


def up_to(name: str, marker: bytes, occurrence: int = 1) -> list[WebSocketMessage]:
    """A fixture's messages before the given occurrence of the first holding `marker`."""
    messages = list(load_fixture(name).messages)
    hits = [i for i, m in enumerate(messages) if marker in m.content]
    return messages[:hits[occurrence - 1]]


def test_realtime_session_cut_off_mid_answer_keeps_the_answers_before():
    fixture = load_fixture("openai/realtime")
    first, second = read_session(fixture, up_to("openai/realtime", b'"response.output_text.done"', 2),
                                 complete=False)
    assert reading_view(first) == fixture.expected["readings"][0]
    assert (second.status, second.error) == ("partial", "session ended before the response completed")
    assert second.response_id == "resp_C9kTs4Vx8Hb2Nc7QeRt1Y" and second.usage is None
    assert "".join(second.completion_texts) == fixture.expected["readings"][1]["completion_text"]
    assert second.prompt_texts == ["And who approves it?"]  # what an estimate can go on


def test_session_closed_between_answers_owes_nothing_more():
    fixture = load_fixture("openai/realtime")
    readings = read_session(fixture, [*fixture.messages, client({"type": "session.update", "session": {}})],
                            complete=False)
    assert [r.status for r in readings] == ["ok", "ok"]


def test_session_without_any_answer_is_still_recorded():
    fixture = load_fixture("openai/realtime")
    (reading,) = read_session(fixture, fixture.messages[:3])
    assert (reading.status, reading.model, reading.usage) == ("ok", "gpt-realtime-2025-08-28", None)
    (dropped,) = read_session(fixture, fixture.messages[:3], complete=False)
    assert (dropped.status, dropped.error) == ("partial", "response was cut off")


def test_realtime_usage_counts_cached_tokens_and_a_failed_answer_says_why():
    fixture = load_fixture("openai/realtime")
    usage = {"total_tokens": 1300, "input_tokens": 1200, "output_tokens": 100,
             "input_token_details": {"text_tokens": 200, "audio_tokens": 1000, "cached_tokens": 1024},
             "output_token_details": {"text_tokens": 20, "audio_tokens": 80}}
    failed = {"id": "resp_F", "status": "failed", "usage": usage,
              "status_details": {"type": "failed", "error": {"type": "server_error", "code": "server_error",
                                                              "message": "The server had an error"}}}
    (reading,) = read_session(fixture, [client({"type": "response.create"}),
                                        server({"type": "response.done", "response": failed})])
    assert (reading.usage.prompt_tokens, reading.usage.completion_tokens, reading.usage.cached_tokens) == (
        1200, 100, 1024)
    assert (reading.status, reading.error) == ("partial", "response failed")  # the provider's text is not kept


def test_azure_realtime_deployment_names_the_model():
    match = DEFAULT_CATALOG.lookup("contoso.openai.azure.com", 443, "/openai/realtime", websocket=True)
    parser = match.new_parser({"api-version": "2025-04-01-preview", "deployment": "voice-prod"})
    parser.feed_message(False, json.dumps({"type": "session.created", "session": {"model": "gpt-realtime"}}))
    (reading,) = parser.finish_session()
    assert (reading.model, reading.response_model) == ("voice-prod", "gpt-realtime")


def test_refused_responses_request_is_recorded_without_an_estimate():
    fixture = load_fixture("openai/responses_websocket")
    refused = [client({"type": "response.create", "model": "gpt-9", "input": "Hello there"}),
               server({"type": "error", "status": 400, "error": {
                   "type": "invalid_request_error", "code": "model_not_found",
                   "message": "The requested model 'gpt-9' does not exist."}})]
    first, second, third = read_session(fixture, [*refused, *fixture.messages])
    assert (first.status, first.error) == ("partial", "request refused")
    assert first.model == "gpt-9" and first.prompt_texts == [] and first.usage is None
    assert [reading_view(r) for r in (second, third)] == fixture.expected["readings"]


def test_a_bad_message_spoils_only_its_answer():
    fixture = load_fixture("gemini/live")
    messages = list(fixture.messages)
    at = next(i for i, m in enumerate(messages) if b"Give one example" in m.content) + 1
    messages.insert(at, WebSocketMessage(False, True, b'{"serverContent": {"modelTurn": '))
    first, second = read_session(fixture, messages)
    assert reading_view(first) == fixture.expected["readings"][0]
    assert second.status == "partial" and second.error.startswith("message: invalid JSON")
    assert second.usage == read_session(fixture)[1].usage


def test_gemini_live_on_vertex_names_the_model_by_its_last_segment():
    fixture = load_fixture("gemini/live")
    setup = client({"setup": {"model": "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5"}})
    (reading,) = read_session(fixture, [setup])
    assert reading.model == "gemini-live-2.5"


def test_copilot_replace_text_rewrites_its_part_and_an_error_ends_the_answer():
    fixture = load_fixture("microsoft-copilot/chat")
    send = client({"event": "send", "content": [{"type": "text", "text": "Hi"}], "mode": "smart"})
    answer = [server({"event": "startMessage", "messageId": "m1"}),
              server({"event": "appendText", "messageId": "m1", "partId": "0", "text": "Draft"}),
              server({"event": "replaceText", "messageId": "m1", "partId": "0", "text": "Final answer."}),
              server({"event": "done", "messageId": "m1"})]
    refused = [server({"event": "error", "message": "Sorry, try again later", "code": "throttled"})]
    done, failed = read_session(fixture, [send, *answer, send, *refused])
    assert (done.model, done.response_id, done.completion_texts) == ("smart", "m1", ["Final answer."])
    assert (failed.status, failed.prompt_texts) == ("partial", [])
    assert failed.error == "Copilot answered with an error"


def test_json_values_back_to_back_or_separated_are_all_read():
    fixture = load_fixture("microsoft-copilot/chat")
    events = [{"event": "startMessage", "messageId": "m2"}, {"event": "appendText", "partId": "0", "text": "A"},
              {"event": "appendText", "partId": "0", "text": "B"}, {"event": "done", "messageId": "m2"}]
    frame = "\x1e".join(json.dumps(e) for e in events[:2]) + "\n" + "".join(json.dumps(e) for e in events[2:])
    send = client({"event": "send", "content": [{"type": "text", "text": "Hi"}], "mode": "chat"})
    (reading,) = read_session(fixture, [send, WebSocketMessage(False, False, frame.encode())])
    assert (reading.status, reading.completion_texts) == ("ok", ["AB"])


def test_the_upgrade_picks_the_parser_on_a_shared_path():
    http = DEFAULT_CATALOG.lookup("api.openai.com", 443, "/v1/responses")
    session = DEFAULT_CATALOG.lookup("api.openai.com", 443, "/v1/responses", websocket=True)
    assert (http.endpoint, http.parser.websocket) == ("responses", False)
    assert (session.endpoint, session.parser.websocket) == ("responses", True)
    assert DEFAULT_CATALOG.lookup("api.openai.com", 443, "/v1/realtime") is None
    assert DEFAULT_CATALOG.lookup("api.openai.com", 443, "/v1/chat/completions", websocket=True) is None
