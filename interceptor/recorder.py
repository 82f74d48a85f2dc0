"""Recording: flow -> catalog -> UsageEvent -> journal, for HTTP calls and WebSocket sessions.

It never changes or holds the traffic: every response body streams through untouched (a
catalog call's chunks feed its parser as they pass), WebSocket messages are read as they
pass, and every error is caught, logged and counted. A WebSocket session is recorded as one
event per response it completes.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from mitmproxy import ctx, http

from interceptor.attribution import UNKNOWN, ProcessCache
from interceptor.calls import FinishedCall, InterceptedCall
from interceptor.decrypt_policy import DecryptPolicy
from interceptor.fail_open import FailOpen
from offgate.captured import CapturedCall
from offgate.catalog.apps import app_for
from offgate.fingerprint import api_key_from, key_fingerprint, key_hint, load_salt, path_without_keys
from offgate.metering import ResponseMeter
from offgate.store import Store
from offgate.writer import EventWriter, NotDurable

log = logging.getLogger("offgate")

# How long the writer waits for a process lookup that has not finished yet.
PROCESS_LOOKUP_TIMEOUT = 2.0
# How long an answer may wait for its client's process lookup (see responseheaders).
ATTRIBUTION_WAIT = 0.1


class Recorder:
    """Reads catalog calls with the decrypt policy's catalog and journals each as it ends."""

    def __init__(self, policy: DecryptPolicy, processes: ProcessCache, fail_open: FailOpen) -> None:
        self.policy = policy
        self.processes = processes
        self.fail_open = fail_open
        self.writer: EventWriter | None = None
        self._salt = b""
        self._device = ""

    def running(self) -> None:
        home = Path(ctx.options.offgate_home)
        url = ctx.options.offgate_database_url
        self._salt = load_salt(home)
        self._device = ctx.options.offgate_device
        self.writer = EventWriter(lambda: Store.open(url), home, fill_in=self._fill_in_process)
        self.writer.start()
        log.info("offgate: recording to %s", Store.describe(url))

    def done(self) -> None:
        writer = self.writer
        if writer is not None:
            writer.close()
            log.info("offgate: %d events written, %d spooled, %d addon errors", writer.written, writer.spooled,
                     self.fail_open.errors)
            if writer.quarantined or writer.not_journaled or writer.not_kept or writer.restarts:
                log.warning("offgate: %d events quarantined, %d calls not journaled, %d calls not kept, "
                            "%d writer restarts", writer.quarantined, writer.not_journaled, writer.not_kept,
                            writer.restarts)
            self.writer = None

    # -- HTTP hooks -------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # Runs before map_remote rewrites the URL: host and path are what the client asked for.
        self.fail_open.run(self._start_call, flow)

    def request(self, flow: http.HTTPFlow) -> None:
        call = flow.metadata.get("offgate")
        if call is not None:
            self.fail_open.run(self._read_request, call, flow)

    async def responseheaders(self, flow: http.HTTPFlow) -> None:
        call = flow.metadata.get("offgate")
        if call is not None:
            # A client that hangs up as soon as it has its answer (curl) takes its socket with
            # it: let the process lookup finish first. It almost always has; if not, the answer
            # waits at most this long, and the event loop never does.
            try:
                await self.processes.settled(call.client_id, ATTRIBUTION_WAIT)
            except Exception:  # fail-open
                self.fail_open.count()
            self.fail_open.run(self._tap_response, call, flow)
        self.fail_open.run(self._pass_unbuffered, flow)

    def response(self, flow: http.HTTPFlow) -> None:
        call = flow.metadata.get("offgate")
        # After a WebSocket handshake the session goes on; its responses are recorded as they end.
        if call is not None and flow.websocket is None:
            self.fail_open.run(self._finish, call, flow, True)

    def error(self, flow: http.HTTPFlow) -> None:
        call = flow.metadata.get("offgate")
        if call is None:
            return
        if flow.websocket is not None:
            self.fail_open.run(self._finish_session, call, flow)
        else:
            self.fail_open.run(self._finish, call, flow, False)

    # -- WebSocket hooks (after the handshake's `response`) ----------------------------

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        call = flow.metadata.get("offgate")
        if call is not None:
            self.fail_open.run(self._read_message, call, flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        call = flow.metadata.get("offgate")
        if call is not None:
            self.fail_open.run(self._finish_session, call, flow)

    # -- the work ---------------------------------------------------------------------

    def _start_call(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        upgrade = request.headers.get("upgrade", "").lower() == "websocket"
        match = self.policy.catalog.lookup(request.pretty_host, request.port, request.path, websocket=upgrade)
        if match is None:
            return
        flow.metadata["offgate"] = InterceptedCall(
            match=match,
            parser=match.new_parser(dict(request.query), request.headers),
            client_id=flow.client_conn.id,
            host=request.pretty_host,
            path=path_without_keys(request.path),
            method=request.method,
            meter=ResponseMeter(started=request.timestamp_start),
            app=app_for(request.headers, match.app),
        )

    def _read_request(self, call: InterceptedCall, flow: http.HTTPFlow) -> None:
        request = flow.request
        body = request.raw_content or b""
        call.meter.note(request.timestamp_start, True, len(body))
        key = api_key_from(request.headers, request.query)
        if key:
            call.key_fingerprint = key_fingerprint(key, self._salt)
            call.key_hint = key_hint(key)
        call.parser.read_request(body, request.headers.get("content-encoding"))

    def _tap_response(self, call: InterceptedCall, flow: http.HTTPFlow) -> None:
        response = flow.response
        assert response is not None
        call.parser.start_response(response.status_code, response.headers)
        call.litellm_call_id = response.headers.get("x-litellm-call-id")
        if response.status_code == 101:
            return  # switching protocols: no body; a WebSocket session's messages follow
        downstream = response.stream  # keep another addon's stream function working
        length = _declared_length(response)

        def tap(data: bytes) -> Iterable[bytes] | bytes:  # what a stream function may return
            # Called for every chunk (b"" at the end); the bytes go on unchanged.
            try:
                if data:
                    call.meter.note(time.time(), False, len(data))
                    call.parser.feed(data)
                    if length is not None and call.meter.response_bytes >= length:
                        # The client has the whole body once these bytes go out, before the
                        # response hook runs: journal the call first.
                        self._finish(call, flow, True)
            except Exception:
                self.fail_open.count()
            return downstream(data) if callable(downstream) else data

        response.stream = tap

    @staticmethod
    def _pass_unbuffered(flow: http.HTTPFlow) -> None:
        # Whole hosts are decrypted, yet only catalog calls are read (through their tap):
        # mitmproxy would hold every other response (an audio stream, an app's other event
        # streams) until it ended. Another addon's stream function is left as it is.
        if flow.response is not None and not flow.response.stream:
            flow.response.stream = True

    def _finish(self, call: InterceptedCall, flow: http.HTTPFlow, complete: bool) -> None:
        if call.done:
            return
        call.done = True
        reading = call.parser.finish(complete=complete and flow.error is None)
        if not reading.is_llm_call:
            return  # a URL shared with other traffic (GraphQL, a page load) carried no LLM call
        response = flow.response
        ended = (response.timestamp_end if response and response.timestamp_end else None) or time.time()
        self._record(call.finished(reading, response.status_code if response else None, ended))

    def _read_message(self, call: InterceptedCall, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None and flow.response is not None
        message = flow.websocket.messages[-1]
        call.meter.note(message.timestamp, message.from_client, len(message.content))
        call.parser.feed_message(message.from_client, message.content)
        for reading in call.parser.take_readings():
            self._record(call.finished(reading, flow.response.status_code, message.timestamp))
        # mitmproxy keeps every message of a flow, and an hour of a voice session is hundreds
        # of MB of audio. They have been read: keep only the newest, which later hooks may use.
        del flow.websocket.messages[:-1]

    def _finish_session(self, call: InterceptedCall, flow: http.HTTPFlow) -> None:
        if call.done:
            return
        call.done = True
        session = flow.websocket
        assert session is not None and flow.response is not None
        # 1006: the connection dropped without a closing handshake.
        complete = flow.error is None and session.close_code not in (None, 1006)
        ended = session.timestamp_end or time.time()
        for reading in call.parser.finish_session(complete):
            self._record(call.finished(reading, flow.response.status_code, ended))

    def _record(self, finished: FinishedCall) -> None:
        """Journal the call: on the event loop, before its end reaches the client, so a
        call the client saw complete survives even a killed proxy."""
        if self.writer is None:
            log.warning("offgate: a call ended before the writer started; not recorded")
            return
        # The lookup started when the client connected; it has almost always finished by now.
        process = self.processes.get(finished.call.client_id, 0)
        # NotDurable: the writer says so and stores the call from memory; nobody here waits on it.
        with contextlib.suppress(NotDurable):
            self.writer.put(finished.captured(self._device, None if process is UNKNOWN else process))

    def _fill_in_process(self, captured: CapturedCall) -> None:
        """On the writer thread: the client's process, if it was not known when journaled."""
        if captured.client_id is None or captured.knows_process():
            return
        process = self.processes.get(captured.client_id, PROCESS_LOOKUP_TIMEOUT)
        captured.facts.update(pid=process.pid, process_name=process.process_name, exe=process.exe, user=process.user)


def _declared_length(response: http.Response) -> int | None:
    """The body's length when the client learns the end from it (Content-Length). A chunked
    or HTTP/2 answer ends with a frame mitmproxy sends after the response hook."""
    if "transfer-encoding" in response.headers:
        return None
    try:
        return int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None
