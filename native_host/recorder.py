"""From a validated message to stored events, with the catalog the proxy uses.

The host drives each parser exactly as the interceptor does (request body, response
status and headers, body chunks, finish; or one WebSocket message at a time) and hands
the writer what it read as the proxy does (a CapturedCall): the writer's thread estimates
and prices it with `offgate.recording`, so a call reads the same whichever path saw it, and
an acknowledgement waits for the journal only, never for the tokenizer to load. This module
is heavy (catalog, store): the host loads it after its first reply.

Nothing a reply does not need runs before the first one: the writer's thread starts, and the
browser's process is looked up (psutil), once the host has replied (`start`); a call kept before
that is journaled without the browser and the writer fills it in when it makes the event, as
the proxy does for a client's process.

A message is recorded when the writer's put() has returned for each of its events (they are
durable then); if one cannot be kept, the message is refused as Unavailable and the extension
sends it again. That is safe because a message's events always get the same ids: a call's is
its message id, and a WebSocket batch's are derived from the batch id and their place in it.
A batch's session parser has moved on once the batch is read, so a batch whose events were not
all kept is remembered here, and when it comes again its events are put again, not re-read.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from native_host.messages import CallMessage, Coached, NotInCatalog, Unavailable, WebSocketBatch
from offgate.captured import CapturedCall
from offgate.catalog import build_catalog
from offgate.catalog.base import CallParser, Reading
from offgate.catalog.export import is_web_app
from offgate.catalog.registry import Match
from offgate.config import database_url_for, device_name, load_settings, resolve_home
from offgate.fingerprint import path_without_keys
from offgate.metering import ResponseMeter
from offgate.policy import CallFacts
from offgate.writer import EventWriter, NotDurable

if TYPE_CHECKING:
    from offgate.store import Store

log = logging.getLogger("offgate.native_host")

# Sessions the host follows at once; past it the least recently active is closed (as cut off).
MAX_SESSIONS = 64
# WebSocket batches read but not all kept, waiting to be sent again; past it the oldest is forgotten.
MAX_UNKEPT_BATCHES = 64
# The client_id of a call kept before the browser was looked up (the writer fills it in).
BROWSER = "browser"


@dataclass(frozen=True, slots=True)
class Browser:
    """The process that started the host: the browser whose pages made the calls."""

    pid: int | None
    process_name: str | None
    exe: str | None
    user: str | None

    def facts(self) -> dict[str, Any]:
        """The UsageEvent fields naming the process that made a call."""
        return {"pid": self.pid, "process_name": self.process_name, "exe": self.exe, "user": self.user}

    @classmethod
    def parent_of_this_process(cls) -> Browser:
        import psutil  # slow to load: after the first reply

        try:
            parent = psutil.Process(os.getppid())
            with parent.oneshot():
                return cls(parent.pid, parent.name(), parent.exe() or None, parent.username())
        except (psutil.Error, OSError):
            return cls(None, None, None, getpass.getuser())


@dataclass(slots=True)
class WebSocketSession:
    """A WebSocket session the page is in, and the response under way in it: its time and
    bytes are counted from the previous reading on, as the proxy counts them."""

    match: Match
    parser: CallParser
    host: str
    path: str
    meter: ResponseMeter = field(default_factory=ResponseMeter)


class Recorder:
    def __init__(self, home: Path) -> None:
        home = resolve_home(home)
        self._home = home
        settings = load_settings(home)
        self._url = database_url_for(settings, home)
        self._catalog = build_catalog(settings.proxy.gateways)
        self._web_apps = frozenset(p.name for p in self._catalog.providers if is_web_app(p))
        self._browser: Browser | None = None
        self._device = device_name(settings.device.name)
        self._sessions: OrderedDict[str, WebSocketSession] = OrderedDict()
        self._unkept_batches: OrderedDict[str, list[CapturedCall]] = OrderedDict()
        self._reader: Store | None = None
        self._writer = EventWriter(self._open_store, home, fill_in=self._fill_in_browser)
        self._started = False

    def start(self) -> None:
        """Start what no reply waits for: the writer's thread (it stores what is journaled) and,
        through it, the browser's lookup."""
        if not self._started:
            self._started = True
            self._writer.start()

    def record_call(self, call: CallMessage) -> list[str]:
        self._check_page(call.page_origin)
        parts = urlsplit(call.url)
        match = self._lookup(parts, websocket=False)
        parser = match.new_parser(dict(parse_qsl(parts.query)))
        request_body = _utf8(call.request_body)
        response_body = _utf8(call.response_body)
        parser.read_request(request_body)
        if call.status:
            # The page reads the body already decoded: no content-encoding applies.
            parser.start_response(call.status, {"content-type": call.response_headers.content_type or ""})
            parser.feed(response_body)
        reading = parser.finish(complete=call.complete and call.status > 0)
        facts = dict(
            ts=call.started_at,
            method=call.method,
            duration_ms=call.duration_ms,
            ttft_ms=call.ttft_ms,
            request_bytes=len(request_body),
            response_bytes=len(response_body),
        )
        captured = self._captured(match, reading, call.status or None, parts.hostname or "", _path(parts), facts)
        self._keep([captured.model_copy(update={"id": call.id})])
        return [call.id]

    def record_websocket(self, batch: WebSocketBatch) -> list[str]:
        self._check_page(batch.page_origin)
        events = self._unkept_batches.pop(batch.id, None)
        if events is None:
            events = self._read_batch(batch)
        try:
            self._keep(events)
        except Unavailable:
            self._unkept_batches[batch.id] = events
            if len(self._unkept_batches) > MAX_UNKEPT_BATCHES:
                self._unkept_batches.popitem(last=False)
            raise
        return [event.id for event in events]

    def today(self, since: datetime) -> dict[str, Any]:
        """Web-app calls recorded since `since` (by any capture path) and their estimated cost."""
        totals = self._reading(lambda store: store.totals("provider", since=since))
        rows = [row for row in totals if row["key"] in self._web_apps]
        return {
            "calls": sum(row["calls"] for row in rows),
            "cost_usd": round(sum(row["cost_usd"] or 0.0 for row in rows), 6),
            "by_app": [{"app": row["key"], "calls": row["calls"], "cost_usd": row["cost_usd"]} for row in rows],
        }

    def coaching_rules(self) -> list[dict[str, Any]]:
        """The coach and block rules deciding for each AI web app, for this browser's user and
        device. config.toml and the central policy kept in the store (an enrolled agent's) are
        read again, so the extension's refresh brings a changed policy."""
        from offgate.store.policies import policy_in_force

        try:
            policy = self._reading(lambda store: policy_in_force(store, load_settings(self._home).policy))
        except Unavailable:
            raise
        except Exception as exc:  # a broken config.toml: the extension keeps what it has and asks again
            raise Unavailable(f"cannot read the policy: {exc}") from exc
        user = self.browser().user
        rules = []
        for app in sorted(self._web_apps):
            call = CallFacts(app=app, provider=app, user=user, team=policy.team_of(user), device=self._device)
            rule = policy.deciding_rule(call)
            if rule is not None and rule.action in ("coach", "block"):
                rules.append({"app": app, "rule": rule.name, "action": rule.action, "message": rule.message,
                              "alternative_url": rule.alternative_url})
        return rules

    def record_coached(self, coached: Coached) -> None:
        """Keep a notice shown or clicked; it must come from the page of the app it names."""
        provider = self._catalog.provider_for_host(urlsplit(coached.page_origin).hostname or "")
        if provider is None or provider.name != coached.app or coached.app not in self._web_apps:
            raise NotInCatalog(f"{coached.page_origin} is not the page of the AI web app {coached.app!r}")
        from offgate.store.coaching import CoachingEvent, CoachingStore

        event = CoachingEvent(coached.id, coached.at, coached.app, coached.rule, coached.event,
                              self.browser().user, self._device)
        self._reading(lambda store: CoachingStore(store).record(event))

    def _open_store(self) -> Store:
        # Here, not at the top: the store (peewee, the schema) is most of this module's loading,
        # and a call's acknowledgement waits for the journal only. The writer opens it after.
        from offgate.store import Store

        return Store.open(self._url)

    def _reading[T](self, action: Callable[[Store], T]) -> T:
        """`action` on the store kept open for reading; Unavailable when the store fails."""
        from offgate.store import StoreError

        try:
            self._reader = self._reader or self._open_store()
            return action(self._reader)
        except StoreError as exc:
            raise Unavailable(str(exc)) from exc

    def browser(self) -> Browser:
        """The browser that started the host (looked up once; two threads may both look it up)."""
        if self._browser is None:
            self._browser = Browser.parent_of_this_process()
        return self._browser

    def close(self) -> None:
        """Record what open sessions owe (as cut off), then write everything queued."""
        self.start()  # a host that never replied (driven in-process) still stores what it journaled
        for session in self._sessions.values():
            try:
                self._keep(self._session_events(session, session.parser.finish_session(complete=False)))
            except Unavailable as exc:  # nobody is left to send it again
                log.error("lost the cut-off answers of a session: %s", exc)
        self._sessions.clear()
        self._writer.close()
        if self._reader is not None:
            self._reader.close()

    # -- internals ------------------------------------------------------------------------

    def _check_page(self, origin: str) -> None:
        """Copies come from the AI web apps' own pages; the extension runs on no others."""
        provider = self._catalog.provider_for_host(urlsplit(origin).hostname or "")
        if provider is None or provider.name not in self._web_apps:
            raise NotInCatalog(f"{origin} is not the page of an AI web app offgate's catalog knows")

    def _lookup(self, parts: Any, websocket: bool) -> Match:
        default_port = 443 if parts.scheme in ("https", "wss") else 80
        match = self._catalog.lookup(parts.hostname or "", parts.port or default_port, parts.path, websocket=websocket)
        if match is None:
            kind = "WebSocket" if websocket else "HTTP"
            raise NotInCatalog(f"{parts.hostname}{parts.path} is not an {kind} endpoint offgate's catalog reads")
        return match

    def _keep(self, events: list[CapturedCall]) -> None:
        try:
            for event in events:
                self._writer.put(event)
        except NotDurable as exc:
            raise Unavailable(f"not recorded: {exc}") from exc

    def _read_batch(self, batch: WebSocketBatch) -> list[CapturedCall]:
        """The batch's events: answers completed in it, then those of a session it pushed out
        (last, so that the batch's own answers keep their places if a new host reads it again)."""
        session, pushed_out = self._session(batch)
        events = []
        for message in batch.messages:
            content = _utf8(message.text)
            session.meter.note(message.at.timestamp(), message.from_client, len(content))
            session.parser.feed_message(message.from_client, content)
            events += self._session_events(session, session.parser.take_readings())
        if batch.closed:
            del self._sessions[batch.session]
            events += self._session_events(session, session.parser.finish_session(batch.clean))
        return [event.model_copy(update={"id": _batch_event_id(batch.id, place)})
                for place, event in enumerate(events + pushed_out)]

    def _session(self, batch: WebSocketBatch) -> tuple[WebSocketSession, list[CapturedCall]]:
        """The batch's session, and the events of the one closed (as cut off) to make room for it."""
        session = self._sessions.get(batch.session)
        pushed_out: list[CapturedCall] = []
        if session is None:
            parts = urlsplit(batch.url)
            match = self._lookup(parts, websocket=True)
            parser = match.new_parser(dict(parse_qsl(parts.query)))
            # As the proxy drives it: the upgrade request has no body, the server answered 101.
            parser.read_request(b"")
            parser.start_response(101, {})
            session = WebSocketSession(match, parser, parts.hostname or "", _path(parts))
            if len(self._sessions) >= MAX_SESSIONS:
                _, oldest = self._sessions.popitem(last=False)
                pushed_out = self._session_events(oldest, oldest.parser.finish_session(complete=False))
            self._sessions[batch.session] = session
        self._sessions.move_to_end(batch.session)
        return session, pushed_out

    def _session_events(self, session: WebSocketSession, readings: list[Reading]) -> list[CapturedCall]:
        # A WebSocket upgrade answers 101 before the session's messages flow.
        return [self._captured(session.match, reading, 101, session.host, session.path,
                            dict(method="GET", **session.meter.take().facts()))
                for reading in readings]

    def _captured(self, match: Match, reading: Reading, status_code: int | None, host: str, path: str,
                  facts: dict[str, Any]) -> CapturedCall:
        """What the writer journals, then estimates, prices and stores (CapturedCall.to_event)."""
        facts.update(source="extension", host=host, path=path, device=self._device)
        if self._browser is None:  # not looked up yet: the writer fills it in
            return CapturedCall.of(match, reading, status_code, client_id=BROWSER, **facts)
        return CapturedCall.of(match, reading, status_code, **facts, **self._browser.facts())

    def _fill_in_browser(self, captured: CapturedCall) -> None:
        """On the writer thread: the browser, for a call kept before it was looked up."""
        if not captured.knows_process():
            captured.facts.update(self.browser().facts())


def _batch_event_id(batch_id: str, place: int) -> str:
    # The same for a batch sent again, even to a new host process (an event id is at most 64 characters).
    return hashlib.sha256(f"{batch_id}/{place}".encode()).hexdigest()[:32]


def _utf8(text: str) -> bytes:
    # A page's string may hold lone surrogates, which UTF-8 cannot carry.
    return text.encode("utf-8", "replace")


def _path(parts: Any) -> str:
    return path_without_keys(parts.path + (f"?{parts.query}" if parts.query else ""))


