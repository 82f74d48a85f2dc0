"""What the workstation scans found, in offgate's store: the AI apps seen (installed or
running, first and last seen), their CPU time and memory per UTC day, shell-history counts
per day and tool, where each history file was read up to, and provider keys typed in a shell.

Nothing here holds a command line, a path or a key (offgate.store.workstation_tables).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from peewee import EXCLUDED, Case, fn

from offgate.store.core import Store
from offgate.store.filters import ALL_CALLS, CallFilter
from offgate.store.sql import naive_utc
from offgate.store.workstation_tables import (
    AppProcessRow,
    AppUsageDayRow,
    ShellHistoryFileRow,
    ShellKeyFindingRow,
    ShellToolDayRow,
    WorkstationAppRow,
)

# -- what the scanners hand over ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoundApp:
    app: str
    kind: str
    found_in: str
    item: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One running process of an app: its CPU seconds so far and resident memory now."""

    app: str
    pid: int
    started: float  # epoch seconds: with the pid, names the process across scans
    cpu_seconds: float
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class HistoryPosition:
    offset: int
    anchor: str
    last_entry_ts: float | None


@dataclass(frozen=True, slots=True)
class KeySighting:
    provider: str | None
    fingerprint: str
    message: str
    times: int = 1


def _later(row: Any) -> Case:
    return Case(None, [(EXCLUDED.last_seen > row.last_seen, EXCLUDED.last_seen)], row.last_seen)


class WorkstationStore:
    """The workstation scans' tables in one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db = store.database

    # -- the inventory ----------------------------------------------------------------------

    def record_apps(self, device: str, user: str | None, found: Iterable[FoundApp], now: datetime) -> list[str]:
        """Note the apps as seen now; returns the apps this device had never had before."""
        row, seen = WorkstationAppRow, naive_utc(now)
        rows = {_key(device, user, f.app, f.found_in, f.item): {
            "device": device, "user": user, "app": f.app, "kind": f.kind, "found_in": f.found_in, "item": f.item,
            "version": f.version, "first_seen": seen, "last_seen": seen} for f in found}
        if not rows:
            return []
        with self._store.reporting("write the inventory to"), self._db.atomic():
            known: set[str] = {app for (app,) in row.select(row.app).where(row.device == device).distinct().tuples()
                     .execute(self._db)}
            row.insert_many([{"id": key, **values} for key, values in rows.items()]).on_conflict(
                conflict_target=[row.id],
                update={row.last_seen: _later(row), row.version: EXCLUDED.version, row.kind: EXCLUDED.kind},
            ).execute(self._db)
        return sorted({str(values["app"]) for values in rows.values()} - known)

    def record_processes(self, device: str, user: str | None, samples: Sequence[ProcessSample], now: datetime) -> None:
        """Add each process's CPU time since the last scan (all of it, the first time a process
        is seen) and its memory to its app's day; forget the processes gone."""
        seen = naive_utc(now)
        process = AppProcessRow
        with self._store.reporting("write app usage to"), self._db.atomic():
            keys = {_process_key(device, s): s for s in samples}
            before = dict(process.select(process.id, process.cpu_seconds).where(process.id.in_(list(keys)))
                          .tuples().execute(self._db)) if keys else {}
            process.delete().where((process.device == device) & process.id.not_in(list(keys))).execute(self._db)
            if not keys:
                return
            process.insert_many([{"id": key, "device": device, "cpu_seconds": s.cpu_seconds, "seen_at": seen}
                                 for key, s in keys.items()]).on_conflict(
                conflict_target=[process.id],
                update={process.cpu_seconds: EXCLUDED.cpu_seconds, process.seen_at: EXCLUDED.seen_at},
            ).execute(self._db)
            per_app: dict[str, list[float]] = {}
            for key, sample in keys.items():
                used = max(sample.cpu_seconds - before.get(key, 0.0), 0.0)
                totals = per_app.setdefault(sample.app, [0.0, 0.0])
                totals[0] += used
                totals[1] += sample.memory_bytes
            day, usage = seen.date(), AppUsageDayRow
            usage.insert_many([{
                "id": _key(day.isoformat(), device, user, app), "day": day, "device": device, "user": user, "app": app,
                "cpu_seconds": cpu, "peak_memory_bytes": int(memory), "samples": 1,
            } for app, (cpu, memory) in per_app.items()]).on_conflict(
                conflict_target=[usage.id],
                update={usage.cpu_seconds: usage.cpu_seconds + EXCLUDED.cpu_seconds,
                        usage.samples: usage.samples + 1,
                        usage.peak_memory_bytes: Case(None, [(EXCLUDED.peak_memory_bytes > usage.peak_memory_bytes,
                                                              EXCLUDED.peak_memory_bytes)], usage.peak_memory_bytes)},
            ).execute(self._db)

    def apps(self, device: str | None = None, *, only: CallFilter = ALL_CALLS,
             seen_until: datetime | None = None) -> list[dict[str, Any]]:
        """Every app found (on `device`, of the devices and users `only` keeps, first seen
        before `seen_until`), one entry per app and device: where it was found, first and last
        seen, and its CPU seconds and peak memory over the days it ran. Newest first."""
        row = WorkstationAppRow
        query = only.apply(_seen_in(row.select(), row, None, seen_until), row.device, row.user)
        query = query.order_by(row.app, row.found_in, row.item)
        if device is not None:
            query = query.where(row.device == device)
        usage = AppUsageDayRow
        totals = usage.select(usage.device, usage.app, fn.SUM(usage.cpu_seconds), fn.MAX(usage.peak_memory_bytes),
                              fn.COUNT(usage.id)).group_by(usage.device, usage.app)
        with self._store.reporting("read the inventory from"):
            found = list(query.dicts().execute(self._db))
            running = {(d, a): (float(cpu), int(memory), int(days))
                       for d, a, cpu, memory, days in totals.tuples().execute(self._db)}
        apps: dict[tuple[str, str], dict[str, Any]] = {}
        for item in found:
            entry = apps.setdefault((item["device"], item["app"]), {
                "app": item["app"], "kind": item["kind"], "device": item["device"], "user": item["user"],
                "found": [], "first_seen": item["first_seen"], "last_seen": item["last_seen"]})
            entry["found"].append({"in": item["found_in"], "item": item["item"], "version": item["version"]})
            entry["first_seen"] = min(entry["first_seen"], item["first_seen"])
            entry["last_seen"] = max(entry["last_seen"], item["last_seen"])
        for (device_name, app), entry in apps.items():
            cpu, memory, days = running.get((device_name, app), (0.0, 0, 0))
            entry.update(cpu_seconds=round(cpu, 3), peak_memory_bytes=memory, days_running=days,
                         first_seen=entry["first_seen"].replace(tzinfo=UTC).isoformat(),
                         last_seen=entry["last_seen"].replace(tzinfo=UTC).isoformat())
        return sorted(apps.values(), key=lambda e: (e["last_seen"], e["app"]), reverse=True)

    # -- shell history ----------------------------------------------------------------------

    def history_position(self, file_id: str) -> HistoryPosition | None:
        row = ShellHistoryFileRow
        with self._store.reporting("read shell history positions from"):
            found = row.select().where(row.id == file_id).dicts().execute(self._db)
        for position in found:
            return HistoryPosition(position["offset"], position["anchor"], position["last_entry_ts"])
        return None

    def record_history(self, device: str, user: str | None, shell: str, file_id: str, position: HistoryPosition,
                       runs: dict[tuple[date, str], int], keys: Sequence[KeySighting], now: datetime) -> None:
        """In one transaction: the runs counted per (day, tool), the keys seen, and the file's new
        position, so a scan that fails leaves the counts and the position as they were."""
        seen = naive_utc(now)
        with self._store.reporting("write shell history counts to"), self._db.atomic():
            if runs:
                tool = ShellToolDayRow
                tool.insert_many([{
                    "id": _key(day.isoformat(), device, user, shell, name), "day": day, "device": device, "user": user,
                    "shell": shell, "tool": name, "runs": count} for (day, name), count in runs.items()]).on_conflict(
                    conflict_target=[tool.id], update={tool.runs: tool.runs + EXCLUDED.runs}).execute(self._db)
            finding = ShellKeyFindingRow
            for key in keys:
                finding.insert(id=_key(device, key.fingerprint), device=device, user=user, provider=key.provider,
                               key_fingerprint=key.fingerprint, times=key.times, first_seen=seen, last_seen=seen,
                               message=key.message).on_conflict(
                    conflict_target=[finding.id],
                    update={finding.times: finding.times + EXCLUDED.times, finding.last_seen: _later(finding)},
                ).execute(self._db)
            history = ShellHistoryFileRow
            history.insert(id=file_id, offset=position.offset, anchor=position.anchor,
                           last_entry_ts=position.last_entry_ts, read_at=seen).on_conflict(
                conflict_target=[history.id],
                update={history.offset: EXCLUDED.offset, history.anchor: EXCLUDED.anchor,
                        history.last_entry_ts: EXCLUDED.last_entry_ts, history.read_at: EXCLUDED.read_at},
            ).execute(self._db)

    def tool_runs(self, since: date | None = None, until: date | None = None,
                  only: CallFilter = ALL_CALLS) -> list[dict[str, Any]]:
        """Runs per day, device, user and tool (shells together) from day `since` to day
        `until` (both included), of the devices and users `only` keeps; oldest day first."""
        row = ShellToolDayRow
        query = only.apply(row.select(row.day, row.device, row.user, row.tool, fn.SUM(row.runs).alias("runs"))
                           .group_by(row.day, row.device, row.user, row.tool).order_by(row.day, row.tool),
                           row.device, row.user)
        if since is not None:
            query = query.where(row.day >= since)
        if until is not None:
            query = query.where(row.day <= until)
        with self._store.reporting("read shell history counts from"):
            return [{**entry, "day": entry["day"].isoformat(), "runs": int(entry["runs"])}
                    for entry in query.dicts().execute(self._db)]

    def key_findings(self, since: datetime | None = None, until: datetime | None = None,
                     only: CallFilter = ALL_CALLS) -> list[dict[str, Any]]:
        """The keys typed in a shell that were seen in [since, until), of the devices and users
        `only` keeps; first seen first."""
        row = ShellKeyFindingRow
        query = only.apply(_seen_in(row.select(), row, since, until), row.device, row.user)
        with self._store.reporting("read shell key findings from"):
            found = list(query.order_by(row.first_seen, row.id).dicts().execute(self._db))
        return [{**entry, "first_seen": entry["first_seen"].replace(tzinfo=UTC).isoformat(),
                 "last_seen": entry["last_seen"].replace(tzinfo=UTC).isoformat()} for entry in found]


def _seen_in(query: Any, row: Any, since: datetime | None, until: datetime | None) -> Any:
    """The rows first seen before `until` and last seen at or after `since`: seen in the window."""
    if since is not None:
        query = query.where(row.last_seen >= naive_utc(since))
    if until is not None:
        query = query.where(row.first_seen < naive_utc(until))
    return query


def _key(*parts: object) -> str:
    return json.dumps(parts)


def _process_key(device: str, sample: ProcessSample) -> str:
    return json.dumps([device, sample.pid, round(sample.started, 2)])
