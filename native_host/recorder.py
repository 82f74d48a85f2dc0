"""From a validated message to stored events, with the catalog the proxy uses.

The host drives each parser exactly as the interceptor does (request body, response
status and headers, body chunks, finish; or one WebSocket message at a time) and builds
the event with `offgate.recording`, so a call reads the same whichever path saw it. This
module is heavy (catalog, tokenizer, pricing, store): the host loads it after its first
reply.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psutil

from native_host.messages import Call, NotInCatalog, WebSocketBatch
from offgate import recording, tokens
from offgate.catalog import build_catalog
from offgate.catalog.base import CallParser, Reading
from offgate.catalog.export import is_web_app
from offgate.catalog.registry import Match
from offgate.config import database_url_for, device_name, load_settings, resolve_home
from offgate.events import UsageEvent
from offgate.fingerprint import path_without_keys
from offgate.metering import ResponseMeter
from offgate.store import Store
from offgate.writer import EventWriter

log = logging.getLogger("offgate.native_host")

# Sessions the host follows at once; past it the least recently active is closed (as cut off).
MAX_SESSIONS = 64


@dataclass(frozen=True, slots=True)
class Browser:
    """The process that started the host: the browser whose pages made the calls."""

    pid: int | None
    process_name: str | None
    exe: str | None
    user: str | None

    @classmethod
    def parent_of_this_process(cls) -> Browser:
        try:
            parent = psutil.Process(os.getppid())
            with parent.oneshot():
                return cls(parent.pid, parent.name(), parent.exe() or None, parent.username())
        except (psutil.Error, OSError):
            return cls(None, None, None, getpass.getuser())


@dataclass(slots=True)
class Session:
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
        settings = load_settings(home)
        self._url = database_url_for(settings, home)
        self._catalog = build_catalog(settings.proxy.gateways)
        self._web_apps = frozenset(p.name for p in self._catalog.providers if is_web_app(p))
        self._browser = Browser.parent_of_this_process()
        self._device = device_name(settings.device.name)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._reader: Store | None = None
        self._writer = EventWriter(lambda: Store.open(self._url), home)
        self._writer.start()
        # The web apps' models count with these encodings: load them now, not on the first call.
        for model in (None, "gpt-4o"):
            tokens.count_text(model, "offgate")

    def record_call(self, call: Call) -> list[str]:
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
            id=call.id,
            ts=call.started_at,
            method=call.method,
            duration_ms=call.duration_ms,
            ttft_ms=call.ttft_ms,
            request_bytes=len(request_body),
            response_bytes=len(response_body),
        )
        event = self._event(match, reading, call.status or None, parts.hostname or "", _path(parts), facts)
        self._writer.put(event)
        return [event.id]

    def record_websocket(self, batch: WebSocketBatch) -> list[str]:
        self._check_page(batch.page_origin)
        session = self._session(batch)
        events = []
        for message in batch.messages:
            content = _utf8(message.text)
            session.meter.note(message.at.timestamp(), message.from_client, len(content))
            session.parser.feed_message(message.from_client, content)
            events += self._session_events(session, session.parser.take_readings())
        if batch.closed:
            del self._sessions[batch.session]
            events += self._session_events(session, session.parser.finish_session(batch.clean))
        for event in events:
            self._writer.put(event)
        return [event.id for event in events]

    def today(self, since: datetime) -> dict[str, Any]:
        """Web-app calls recorded since `since` (by any capture path) and their estimated cost."""
        self._reader = self._reader or Store.open(self._url)
        rows = [row for row in self._reader.totals("provider", since=since) if row["key"] in self._web_apps]
        return {
            "calls": sum(row["calls"] for row in rows),
            "cost_usd": round(sum(row["cost_usd"] or 0.0 for row in rows), 6),
            "by_app": [{"app": row["key"], "calls": row["calls"], "cost_usd": row["cost_usd"]} for row in rows],
        }

    def close(self) -> None:
        """Record what open sessions owe (as cut off), then write everything queued."""
        for session in self._sessions.values():
            for event in self._session_events(session, session.parser.finish_session(complete=False)):
                self._writer.put(event)
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

    def _session(self, batch: WebSocketBatch) -> Session:
        session = self._sessions.get(batch.session)
        if session is None:
            parts = urlsplit(batch.url)
            match = self._lookup(parts, websocket=True)
            parser = match.new_parser(dict(parse_qsl(parts.query)))
            # As the proxy drives it: the upgrade request has no body, the server answered 101.
            parser.read_request(b"")
            parser.start_response(101, {})
            session = Session(match, parser, parts.hostname or "", _path(parts))
            if len(self._sessions) >= MAX_SESSIONS:
                _, oldest = self._sessions.popitem(last=False)
                for event in self._session_events(oldest, oldest.parser.finish_session(complete=False)):
                    self._writer.put(event)
            self._sessions[batch.session] = session
        self._sessions.move_to_end(batch.session)
        return session

    def _session_events(self, session: Session, readings: list[Reading]) -> list[UsageEvent]:
        # A WebSocket upgrade answers 101 before the session's messages flow.
        return [self._event(session.match, reading, 101, session.host, session.path,
                            dict(method="GET", **session.meter.take().facts()))
                for reading in readings]

    def _event(self, match: Match, reading: Reading, status_code: int | None, host: str, path: str,
               facts: dict[str, Any]) -> UsageEvent:
        facts.update(
            source="extension",
            host=host,
            path=path,
            process_name=self._browser.process_name,
            pid=self._browser.pid,
            exe=self._browser.exe,
            user=self._browser.user,
            device=self._device,
        )
        try:
            return recording.build_event(match, reading, status_code=status_code, **facts)
        except Exception as exc:  # noqa: BLE001 - keep the call even if it cannot be read
            log.exception("could not build the event of a call to %s%s", host, path)
            return recording.unreadable_event(match, exc, status_code=status_code, **facts)


def _utf8(text: str) -> bytes:
    # A page's string may hold lone surrogates, which UTF-8 cannot carry.
    return text.encode("utf-8", "replace")


def _path(parts: Any) -> str:
    return path_without_keys(parts.path + (f"?{parts.query}" if parts.query else ""))


