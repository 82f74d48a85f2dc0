"""One inventory scan: the AI apps installed in a home and running for its user, into the store.

`scan_inventory` is what `offgate inventory` and `offgate scan` run. Installed apps come from
the editors' extension folders, JetBrains' plugin folders and the desktop's app lists (Linux
.desktop files, macOS bundles, Windows' uninstall keys); running ones from the process table,
with the CPU seconds each app's processes used since the last scan and their memory, per day.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from offgate.catalog.app_signatures import AppSignature
from offgate.config import device_name
from offgate.store import Store
from offgate.store.workstation import FoundApp, ProcessSample, WorkstationStore
from workstation import installed
from workstation.home import home_owner
from workstation.processes import running_apps

MACOS_APP_DIRS = ("/Applications",)


@dataclass(frozen=True, slots=True)
class RunningApp:
    app: str
    kind: str
    pids: tuple[int, ...]
    cpu_seconds: float  # since each process started
    memory_bytes: int


@dataclass(slots=True)
class InventorySummary:
    device: str
    user: str | None
    installed: list[FoundApp] = field(default_factory=list)
    running: list[RunningApp] = field(default_factory=list)
    new_apps: list[str] = field(default_factory=list)  # never seen on this device before this scan


def scan_inventory(user_home: Path, store: Store, now: datetime, *, device: str | None = None,
                   system: str = sys.platform, system_desktop_dirs: Iterable[Path] | None = None,
                   read_uninstall_names: installed.UninstallReader | None = None,
                   processes: Iterable[psutil.Process] | None = None) -> InventorySummary:
    """Scan `user_home` and its owner's processes; store what was found (first and last seen,
    CPU and memory per day) and return it. The keywords are for other systems' tests."""
    user = home_owner(user_home)
    summary = InventorySummary(device_name(device), user)
    summary.installed = [*installed.ide_extensions(user_home), *installed.jetbrains_plugins(user_home, system)]
    if system == "linux":
        system_dirs = map(Path, installed.SYSTEM_DESKTOP_ENTRY_DIRS) if system_desktop_dirs is None \
            else system_desktop_dirs
        summary.installed += installed.desktop_entries(user_home, system_dirs)
    elif system == "darwin":
        summary.installed += installed.macos_apps([*map(Path, MACOS_APP_DIRS), user_home / "Applications"])
    elif system == "win32":
        summary.installed += installed.windows_apps(read_uninstall_names or installed.registry_uninstall_names)
    samples = running_apps(user, processes)
    summary.running = _per_app(samples)
    found = [*summary.installed, *(FoundApp(app.name, app.kind, "process", app.name) for app, _ in samples)]
    workstation = WorkstationStore(store)
    summary.new_apps = workstation.record_apps(summary.device, user, found, now)
    workstation.record_processes(summary.device, user, [sample for _, sample in samples], now)
    return summary


def _per_app(samples: list[tuple[AppSignature, ProcessSample]]) -> list[RunningApp]:
    apps: dict[str, RunningApp] = {}
    for app, sample in samples:
        was = apps.get(app.name, RunningApp(app.name, app.kind, (), 0.0, 0))
        apps[app.name] = RunningApp(app.name, app.kind, (*was.pids, sample.pid), was.cpu_seconds + sample.cpu_seconds,
                                    was.memory_bytes + sample.memory_bytes)
    return sorted(apps.values(), key=lambda running: running.app)
