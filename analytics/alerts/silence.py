"""Silence is a signal: an enrolled device that stops reporting (the agent removed, the
machine gone), and a device whose proxy stops recording while its browser extension goes
on (the proxy switched off, or traffic routed around it).

Both read what the central store knows of each device (offgate.store.devices): when it last
pushed (agents push at least every few minutes while they run, records or not) and the
newest record of each source it reported. An alert's time is when the silence began, so one
silence raises one alert, and a device that comes back and falls silent again raises another.
Revoked devices are cut off on purpose: their silence is no news.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics.alerts.messages import proxy_silent_message, silent_device_message
from offgate.store.alerts import Alert
from offgate.store.devices import DeviceHealth


def silence_alerts(devices: list[DeviceHealth], silent_after: timedelta | None, now: datetime) -> list[Alert]:
    if silent_after is None:
        return []
    alerts: list[Alert] = []
    for device in devices:
        if device.revoked_at is not None or device.last_seen_at is None:
            continue
        last_seen = device.last_seen_at.replace(tzinfo=UTC)
        if now - last_seen >= silent_after:
            alerts.append(_silent(device, last_seen, now))
            continue  # a device that says nothing says nothing of its proxy either
        proxy, extension = device.last_record("proxy"), device.last_record("extension")
        if proxy is not None and extension is not None and now - extension < silent_after <= now - proxy:
            alerts.append(_proxy_silent(device, proxy, extension, now))
    return alerts


def _silent(device: DeviceHealth, last_seen: datetime, now: datetime) -> Alert:
    silent_hours = (now - last_seen).total_seconds() / 3600
    return Alert(
        kind="silent_device", severity="warning", dimension="device", entity=device.name, metric="last_report",
        ts=last_seen, message=silent_device_message(device.name, device.owner, last_seen, now),
        statistic=silent_hours, details={"owner": device.owner, "silent_hours": silent_hours,
                                         "agent_version": device.agent_version},
    )


def _proxy_silent(device: DeviceHealth, proxy: datetime, extension: datetime, now: datetime) -> Alert:
    silent_hours = (now - proxy).total_seconds() / 3600
    return Alert(
        kind="proxy_silent", severity="warning", dimension="device", entity=device.name, metric="last_report",
        ts=proxy, message=proxy_silent_message(device.name, device.owner, proxy, extension, now),
        statistic=silent_hours,
        details={"owner": device.owner, "silent_hours": silent_hours, "proxy_running": device.is_running("proxy"),
                 "extension_last_record": extension.isoformat()},
    )
