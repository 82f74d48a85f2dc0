"""The native host driven directly, as a subprocess in native-messaging frames: every message
gets a reply, bad input gets a clear error (or, when the input can no longer be read as
frames, one error and a clean exit), and what is valid lands in the real store."""

from __future__ import annotations

import io
import json
import signal
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from native_host.extension import gecko_id
from native_host.framing import BROWSER_MAX_TO_HOST
from native_host.host import Host
from native_host.main import LOG_FILE
from native_host.messages import MAX_MESSAGE_BYTES
from offgate import tokens
from offgate.events import UsageEvent
from offgate.journal import JOURNAL_DIR
from offgate.store import Store
from offgate.writer import EventWriter, Item, NotDurable
from tests.support.fixture_files import load_fixture
from tests.support.native_host_process import OUR_ORIGIN, HostProcess, call_message, frame, hello

pytestmark = pytest.mark.e2e

CHATGPT = load_fixture("chatgpt/conversation_delta")
COPILOT = load_fixture("microsoft-copilot/chat")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def stored(home: Path) -> list[UsageEvent]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return store.events()


def test_a_call_is_acknowledged_and_stored(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    assert host.ask(hello()) == {"type": "hello", "id": "hello-1", "protocol": 1,
                                 "max_message_bytes": MAX_MESSAGE_BYTES}
    message = call_message(CHATGPT)
    assert host.ask(message) == {"type": "ack", "id": message["id"], "event_ids": [message["id"]]}
    assert host.close() == 0
    assert host.output_left() == b""  # nothing but frames on stdout
    (event,) = stored(home)
    assert (event.id, event.source, event.provider, event.model) == (message["id"], "extension", "chatgpt",
                                                                     "gpt-5-instant")
    assert (event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (17, 26, True)
    assert (event.host, event.path, event.status_code, event.duration_ms, event.ttft_ms) == (
        "chatgpt.com", "/backend-api/f/conversation", 200, 230.0, 12.5)
    assert event.ts.isoformat() == "2026-11-29T10:00:00+00:00"
    assert "started for chrome-extension://" in (home / LOG_FILE).read_text()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x05\x00", "input ended inside a length prefix (2 of 4 bytes)"),
        (struct.pack("=I", 100) + b"{}", "input ended inside a message (2 of 100 bytes)"),
        (struct.pack("=I", BROWSER_MAX_TO_HOST + 1), "more than any browser sends: not native messaging"),
    ],
    ids=["short-length-prefix", "truncated-message", "impossible-length"],
)
def test_input_that_is_no_longer_frames_gets_one_error_and_a_clean_exit(home: Path, data: bytes,
                                                                         reason: str) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    message = call_message(CHATGPT)
    host.send(frame(message) + data)
    assert host.reply()["type"] == "ack"  # what came before the damage is kept
    assert host.process.stdin is not None
    host.process.stdin.close()  # nothing more comes
    reply = host.reply()
    assert (reply["type"], reply["error"]) == ("error", "broken_stream")
    assert reason in reply["message"]
    assert host.process.wait(30) == 1
    assert "Traceback" not in host.stderr()
    assert [event.id for event in stored(home)] == [message["id"]]


@pytest.mark.parametrize(
    ("body", "error", "reason"),
    [
        (b"", "bad_json", "not UTF-8 JSON"),
        (b"{not json", "bad_json", "not UTF-8 JSON"),
        (b'{"type": "hello", "id": "\xff"}', "bad_json", "not UTF-8 JSON"),
        (b"[1, 2]", "not_an_object", "expected a JSON object, got list"),
        (b'"hello"', "not_an_object", "expected a JSON object, got str"),
        (b'{"id": "x1"}', "invalid_message",
         "type: expected one of hello, call, websocket, today, coaching, coached, got None"),
        (b'{"type": "exec", "id": "x1"}', "invalid_message", "got 'exec'"),
        (b'{"type": ["call"], "id": "x1"}', "invalid_message", "got ['call']"),
        (b'{"type": "call", "id": "x1"}', "invalid_message", "transport: Field required; url: Field required"),
        (b'{"type": "hello", "id": "x1", "extension_version": "1", "cookies": "a=b"}', "invalid_message",
         "cookies: Extra inputs are not permitted"),
        (b'{"type": "hello", "id": "../../etc", "extension_version": "1"}', "invalid_message",
         "id: String should match pattern"),
        (b'{"type": "hello", "id": "' + b"x" * 2_000_000 + b'", "extension_version": "1"}', "invalid_message",
         "id: String should match pattern"),
    ],
    ids=["empty", "bad-json", "bad-utf8", "list", "string", "no-type", "unknown-type", "unhashable-type",
         "missing-fields", "extra-field", "bad-id", "huge-id"],
)
def test_a_bad_message_gets_an_error_and_the_next_is_read(home: Path, body: bytes, error: str, reason: str) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    reply = host.ask(body)
    assert (reply["type"], reply["error"]) == ("error", error)
    assert reason in reply["message"]
    message = call_message(CHATGPT)
    assert host.ask(message)["type"] == "ack"
    assert host.close() == 0
    assert [event.id for event in stored(home)] == [message["id"]]


def test_a_call_is_checked_field_by_field(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    cases = {
        "response_headers": {"content-type": "text/event-stream", "set-cookie": "session=1"},
        "url": "file:///etc/passwd",
        "status": 1000,
        "started_at": "2026-11-29T10:00:00",  # no time zone
        "method": "post; rm -rf",
        "page_origin": "https://chatgpt.com/some/page",
        "duration_ms": -1,
    }
    for field, value in cases.items():
        reply = host.ask(call_message(CHATGPT, **{field: value}))
        assert (reply["type"], reply["error"]) == ("error", "invalid_message"), field
        assert reply["message"].startswith(field), reply["message"]
    assert host.close() == 0
    assert stored(home) == []


def test_a_message_over_the_limit_is_skipped_unread(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    oversized = call_message(CHATGPT, response_body="x" * MAX_MESSAGE_BYTES)
    reply = host.ask(oversized)
    assert (reply["type"], reply["error"], reply["id"]) == ("error", "too_large", None)
    assert f"is over the host's limit of {MAX_MESSAGE_BYTES} bytes" in reply["message"]
    message = call_message(CHATGPT)
    assert host.ask(message)["type"] == "ack"
    assert host.close() == 0
    assert [event.id for event in stored(home)] == [message["id"]]


@pytest.mark.parametrize(
    "browser_args",
    [
        [],
        ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"],
        ["/home/u/.mozilla/native-messaging-hosts/dev.offgate.native_host.json", "evil@example.com"],
        ["--allow", "chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"],  # the caller cannot allow itself
    ],
    ids=["no-caller", "other-chromium-extension", "other-firefox-extension", "caller-passes-allow"],
)
def test_a_caller_not_installed_gets_one_error_and_nothing_else(home: Path, browser_args: list[str]) -> None:
    host = HostProcess(home, *browser_args)
    host.send(frame(call_message(CHATGPT)))
    reply = host.reply()
    assert (reply["type"], reply["error"]) == ("error", "origin_not_allowed")
    assert host.close() == 2
    assert not (home / "offgate.db").exists()


def test_callers_are_named_as_each_browser_names_them(home: Path) -> None:
    firefox = HostProcess(home, "/home/u/.mozilla/native-messaging-hosts/dev.offgate.native_host.json", gecko_id())
    assert firefox.ask(hello())["type"] == "hello"
    assert firefox.close() == 0
    windows_chrome = HostProcess(home, OUR_ORIGIN, "--parent-window=0")
    assert windows_chrome.ask(hello())["type"] == "hello"
    assert windows_chrome.close() == 0


def test_a_call_sent_twice_is_stored_once(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    message = call_message(CHATGPT)
    assert host.ask(message)["event_ids"] == host.ask(message)["event_ids"] == [message["id"]]
    assert host.close() == 0
    assert len(stored(home)) == 1


def test_a_url_the_catalog_does_not_read_is_refused(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    reply = host.ask(call_message(CHATGPT, url="https://chatgpt.com/backend-api/me"))
    assert (reply["type"], reply["error"]) == ("error", "not_in_catalog")
    assert "chatgpt.com/backend-api/me is not an HTTP endpoint" in reply["message"]
    assert host.close() == 0


def test_a_copy_from_a_page_that_is_no_web_app_is_refused(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    reply = host.ask(call_message(CHATGPT, page_origin="https://example.com"))
    assert (reply["type"], reply["error"]) == ("error", "not_in_catalog")
    assert reply["message"] == "https://example.com is not the page of an AI web app offgate's catalog knows"
    assert host.close() == 0
    assert stored(home) == []


def test_a_failed_or_cut_off_call_is_kept_as_partial(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    events_so_far = CHATGPT.response_body.decode().split("\n\n")[:4]
    cut_off = call_message(CHATGPT, response_body="\n\n".join(events_so_far) + "\n\n", complete=False)
    no_response = call_message(CHATGPT, status=0, response_body="", complete=False)
    for message in (cut_off, no_response):
        assert host.ask(message)["type"] == "ack"
    assert host.close() == 0
    events = {event.id: event for event in stored(home)}
    assert (events[cut_off["id"]].parse_status, events[cut_off["id"]].parse_error) == (
        "partial", "response was cut off")
    assert (events[cut_off["id"]].prompt_tokens, events[cut_off["id"]].status_code) == (17, 200)
    assert (events[no_response["id"]].status_code, events[no_response["id"]].parse_status) == (None, "partial")


def test_a_websocket_session_in_batches_is_recorded_per_answer(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    messages = [{"from_client": m.from_client, "text": m.content.decode(), "at": f"2026-11-29T10:00:{i:02d}Z"}
                for i, m in enumerate(COPILOT.messages)]
    first, rest = messages[:9], messages[9:]
    batch = {"type": "websocket", "session": "s1", "url": COPILOT.url, "page_origin": "https://copilot.microsoft.com"}
    acks = [host.ask({**batch, "id": "b1", "messages": first}),
            host.ask({**batch, "id": "b2", "messages": rest, "closed": True, "clean": True})]
    assert host.close() == 0
    event_ids = [event_id for ack in acks for event_id in ack["event_ids"]]
    events = sorted(stored(home), key=lambda event: event.ts)
    assert [event.id for event in events] == event_ids
    assert [(e.model, e.prompt_tokens, e.completion_tokens, e.status_code) for e in events] == [
        ("chat", 13, 26, 101), ("reasoning", 13, 37, 101)]
    assert events[0].path == "/c/api/chat?api-version=2&accessToken="  # the token is not kept
    assert events[0].ts.isoformat() == "2026-11-29T10:00:00+00:00"


def test_an_open_session_is_recorded_as_cut_off_when_the_browser_leaves(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    started = [{"from_client": m.from_client, "text": m.content.decode(), "at": "2026-11-29T10:00:00Z"}
               for m in COPILOT.messages[:5]]
    reply = host.ask({"type": "websocket", "id": "b1", "session": "s1", "url": COPILOT.url, "messages": started,
                      "page_origin": "https://copilot.microsoft.com"})
    assert reply["event_ids"] == []
    assert host.close() == 0
    (event,) = stored(home)
    assert (event.parse_status, event.parse_error) == ("partial", "session ended before the response completed")


def test_sigterm_writes_what_was_acknowledged_then_exits(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    message = call_message(CHATGPT)
    assert host.ask(message)["type"] == "ack"
    host.process.send_signal(signal.SIGTERM)
    assert host.process.wait(30) == 0
    assert [event.id for event in stored(home)] == [message["id"]]


def test_a_stop_while_a_message_is_answered_ends_the_host_after_its_reply(home: Path) -> None:
    """SIGTERM (Host.stop) cuts in at once only while the host waits for a message. One that comes
    while a call is answered (here: as its reply is written; the writer's thread starts after it)
    lets the host finish, store what it acknowledged and exit, without reading the next message."""
    host = Host(home)

    class StopsOnReply(io.BytesIO):
        def write(self, data) -> int:
            host.stop()
            return super().write(data)

    first, second = call_message(CHATGPT), call_message(CHATGPT)
    replies = StopsOnReply()
    assert host.serve(io.BytesIO(frame(first) + frame(second)), replies) == 0
    (size,) = struct.unpack("=I", replies.getvalue()[:4])
    assert json.loads(replies.getvalue()[4:]) == {"type": "ack", "id": first["id"], "event_ids": [first["id"]]}
    assert size == len(replies.getvalue()) - 4  # one reply: the second message was not read
    assert [event.id for event in stored(home)] == [first["id"]]


def test_a_store_that_is_down_leaves_the_calls_in_the_journal(home: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    host = HostProcess(home, OUR_ORIGIN, env={"OFFGATE_DATABASE_URL": "postgresql://u:secret@127.0.0.1:9/x"})
    message = call_message(CHATGPT)
    assert host.ask(message)["type"] == "ack"
    assert host.close() == 0
    (segment,) = (home / JOURNAL_DIR).glob("*.jsonl")
    (line,) = segment.read_text().splitlines()
    assert json.loads(line)["data"]["id"] == message["id"]
    assert "secret" not in (home / LOG_FILE).read_text()


def test_broken_settings_are_reported_for_each_call(home: Path) -> None:
    home.mkdir()
    (home / "config.toml").write_text("[proxy\n")
    host = HostProcess(home, OUR_ORIGIN)
    assert host.ask(hello())["type"] == "hello"  # the host itself still answers
    reply = host.ask(call_message(CHATGPT))
    assert (reply["type"], reply["error"], reply["retryable"]) == ("error", "unavailable", True)
    assert "config.toml: not valid TOML" in reply["message"]
    assert host.close() == 0


# -- a put() that cannot keep the event durably ---------------------------------------------
# The writer raises NotDurable when it cannot keep an event (a full disk under its journal).
# Nothing here can fill the disk under a subprocess's writer, so the host is driven in-process
# and the writer's put() refuses the events a test names.


class RefusingPuts:
    """Makes EventWriter.put raise NotDurable for the puts whose numbers (from 1) are in `refused`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, refused: set[int]) -> None:
        self.refused = refused
        self.puts = 0
        put = EventWriter.put

        def refusing_put(writer: EventWriter, item: Item) -> None:
            self.puts += 1
            if self.puts in self.refused:
                raise NotDurable("no space left on device", kept=True)
            put(writer, item)

        monkeypatch.setattr(EventWriter, "put", refusing_put)


def ask_in_process(host: Host, message: dict) -> dict:
    return host.handle(json.dumps(message).encode())


def test_a_call_that_cannot_be_kept_gets_a_retryable_error_and_is_recorded_when_sent_again(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    RefusingPuts(monkeypatch, refused={1})
    host = Host(home)
    message = call_message(CHATGPT)
    assert ask_in_process(host, message) == {
        "type": "error", "id": message["id"], "error": "unavailable", "retryable": True,
        "message": "not recorded: no space left on device"}
    assert ask_in_process(host, message) == {"type": "ack", "id": message["id"], "event_ids": [message["id"]]}
    host.close()
    assert [event.id for event in stored(home)] == [message["id"]]


def test_a_websocket_batch_not_all_kept_is_recorded_once_when_sent_again(home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch holds two answers; the second's put fails. Sent again, the batch is not read a
    second time (its session parser has moved on): both answers are recorded once each."""
    puts = RefusingPuts(monkeypatch, refused={2})
    host = Host(home)
    messages = [{"from_client": m.from_client, "text": m.content.decode(), "at": "2026-11-29T10:00:00Z"}
                for m in COPILOT.messages]
    batch = {"type": "websocket", "id": "b1", "session": "s1", "url": COPILOT.url, "messages": messages,
             "page_origin": "https://copilot.microsoft.com"}
    refused = ask_in_process(host, batch)
    assert (refused["type"], refused["error"], refused["retryable"]) == ("error", "unavailable", True)
    ack = ask_in_process(host, batch)
    assert ack["type"] == "ack" and len(ack["event_ids"]) == 2
    assert puts.puts == 4  # the first answer's event was put again: the store keeps it once
    host.close()
    events = sorted(stored(home), key=lambda event: event.model or "")
    assert [(event.id, event.model, event.completion_tokens) for event in events] == [
        (ack["event_ids"][0], "chat", 26), (ack["event_ids"][1], "reasoning", 37)]


def test_only_an_unavailable_host_says_try_again(home: Path) -> None:
    host = HostProcess(home, OUR_ORIGIN)
    reply = host.ask(call_message(CHATGPT, url="https://chatgpt.com/backend-api/me"))
    assert (reply["error"], reply["retryable"]) == ("not_in_catalog", False)
    reply = host.ask(b"{not json")
    assert (reply["error"], reply["retryable"]) == ("bad_json", False)
    assert host.close() == 0


def test_a_call_is_acknowledged_once_journaled_before_its_tokens_are_estimated(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first estimate loads the tokenizer (issue 17: the first ack was 941 ms, mostly that):
    the ack waits for the journal only, as the proxy's end of a call does, and the writer
    estimates and prices. Here every estimate waits until the ack has arrived."""
    acked = threading.Event()
    estimate = tokens.estimate_completion

    def estimate_after_the_ack(model: str | None, texts: list[str]) -> int:
        acked.wait(30)
        return estimate(model, texts)

    monkeypatch.setattr(tokens, "estimate_completion", estimate_after_the_ack)
    host = Host(home)
    message = call_message(CHATGPT)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(ask_in_process, host, message)
        try:
            reply = answer.result(timeout=20)
        finally:
            acked.set()  # an estimate made before the ack would hold it up to here
    assert reply == {"type": "ack", "id": message["id"], "event_ids": [message["id"]]}
    host.close()
    (event,) = stored(home)
    assert (event.id, event.source, event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (
        message["id"], "extension", 17, 26, True)
    assert (event.host, event.path, event.ts.isoformat()) == (
        "chatgpt.com", "/backend-api/f/conversation", "2026-11-29T10:00:00+00:00")
