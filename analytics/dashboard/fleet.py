"""The fleet page: the enrolled devices and their health (last report, what runs there, what
waits to be pushed), and per team and per person managed against unmanaged spend, from the
central store the dashboard runs on. Served as a page (/fleet, rendered here: no script) and
as JSON (/api/fleet?since=30d), from the same reading.

A device's state: "revoked", "never reported", "silent" (no report for the alerts'
device_silent_after), "proxy silent" (its proxy recorded nothing that long while its
extension did) or "reporting"; the silence alerts (analytics/alerts/silence.py) say the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from string import Template
from typing import Any

from aiohttp import web

from analytics.alerts.silence import silence_alerts
from analytics.dashboard.api import DEFAULT_SINCE, since_of
from analytics.dashboard.auth import authorized
from analytics.dashboard.pages import STATIC, login_page
from analytics.dashboard.reads import iso_utc, reads
from analytics.report.document import Row
from analytics.report.model import build_report
from analytics.report.values import count, label, percent
from offgate.money import usd
from offgate.store import Store
from offgate.store.devices import DeviceHealth, devices

FLEET_PAGE = Template((STATIC / "fleet.html").read_text(encoding="utf-8"))
SILENCE: web.AppKey[timedelta | None] = web.AppKey("device_silence")  # the alerts' device_silent_after
STATES = {"silent_device": "silent", "proxy_silent": "proxy silent"}


@dataclass(frozen=True)
class Fleet:
    devices: list[tuple[DeviceHealth, str]]  # each with its state
    teams: list[Row]
    people: list[Row]
    since: datetime | None
    until: datetime


async def page(request: web.Request) -> web.Response:
    if not authorized(request):
        return login_page()
    fleet = await _read(request)
    return web.Response(text=FLEET_PAGE.substitute(
        window=escape(f"{fleet.since:%Y-%m-%d %H:%M} to {fleet.until:%Y-%m-%d %H:%M} UTC" if fleet.since
                      else f"until {fleet.until:%Y-%m-%d %H:%M} UTC"),
        devices="\n".join(_device_row(device, state) for device, state in fleet.devices),
        device_count=count(len(fleet.devices)),
        teams="\n".join(_spend_row(row) for row in fleet.teams),
        people="\n".join(_spend_row(row) for row in fleet.people),
    ), content_type="text/html")


async def fleet_json(request: web.Request) -> web.Response:
    fleet = await _read(request)
    return web.json_response({
        "since": fleet.since.isoformat() if fleet.since else None, "until": fleet.until.isoformat(),
        "devices": [{**_device_json(device), "state": state} for device, state in fleet.devices],
        "teams": [row.model_dump(mode="json") for row in fleet.teams],
        "people": [row.model_dump(mode="json") for row in fleet.people],
    })


async def _read(request: web.Request) -> Fleet:
    since = since_of(request, DEFAULT_SINCE)
    silence = request.app[SILENCE]
    until = datetime.now(UTC)

    def read(store: Store) -> Fleet:
        found = devices(store)
        return Fleet(devices=[(device, _state(device, silence, until)) for device in found],
                     teams=build_report(store, since, until, "team", coaching=False).rows,
                     people=build_report(store, since, until, "user", coaching=False).rows, since=since, until=until)

    return await reads(request).run(read)


def _state(device: DeviceHealth, silence: timedelta | None, now: datetime) -> str:
    if device.revoked_at is not None:
        return "revoked"
    if device.last_seen_at is None:
        return "never reported"
    silences = silence_alerts([device], silence, now)
    return STATES[silences[0].kind] if silences else "reporting"


def _device_json(device: DeviceHealth) -> dict[str, Any]:
    return {"name": device.name, "owner": device.owner, "agent_version": device.agent_version,
            "enrolled_at": iso_utc(device.enrolled_at), "last_seen_at": iso_utc(device.last_seen_at),
            "proxy_running": device.is_running("proxy"), "native_host_running": device.is_running("native_host"),
            "last_proxy_record": iso_utc(device.last_record("proxy")),
            "last_extension_record": iso_utc(device.last_record("extension")),
            "pending": device.pending, "records_stored": device.records_stored}


def _device_row(device: DeviceHealth, state: str) -> str:
    fields = _device_json(device)
    shown = {
        "name": device.name, "owner": label(device.owner), "state": state,
        "last_seen_at": _minute(fields["last_seen_at"]), "running": _running(device),
        "last_proxy_record": _minute(fields["last_proxy_record"]),
        "last_extension_record": _minute(fields["last_extension_record"]),
        "pending": count(device.pending), "records_stored": count(device.records_stored),
        "agent_version": device.agent_version or "-",
    }
    values = {**fields, "state": state, "running": shown["running"]}
    cells = "".join(f'<td data-field="{name}" data-value="{escape(_text(values.get(name)))}"'
                    f'{_numeric(name)}>{escape(text)}</td>' for name, text in shown.items())
    return f'<tr data-key="{escape(device.name)}" data-state="{escape(state)}">{cells}</tr>'


def _spend_row(row: Row) -> str:
    values = {"managed_calls": (row.managed_calls, count(row.managed_calls)),
              "managed_cost_usd": (row.managed_cost_usd, usd(row.managed_cost_usd)),
              "unmanaged_calls": (row.unmanaged_calls, count(row.unmanaged_calls)),
              "unmanaged_cost_usd": (row.unmanaged_cost_usd, usd(row.unmanaged_cost_usd)),
              "coverage": (row.coverage, percent(row.coverage))}
    cells = "".join(f'<td class="number" data-field="{name}" data-value="{escape(_json(value))}">{escape(text)}</td>'
                    for name, (value, text) in values.items())
    return f'<tr data-key="{escape(_text(row.key))}"><th scope="row">{escape(label(row.key))}</th>{cells}</tr>'


def _running(device: DeviceHealth) -> str:
    parts = [name for name, part in (("proxy", "proxy"), ("native host", "native_host")) if device.is_running(part)]
    return ", ".join(parts) or "nothing"


def _numeric(name: str) -> str:
    return ' class="number"' if name in ("pending", "records_stored") else ""


def _minute(iso: str | None) -> str:
    return "-" if iso is None else iso[:16].replace("T", " ")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _json(value: object) -> str:
    """A number as the JSON value it is (as the report's HTML writes data-value); None as nothing."""
    return "" if value is None else json.dumps(value)
