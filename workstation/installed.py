"""AI apps installed on disk: VS Code-family extensions, JetBrains plugins and desktop apps.

Each finder reads where its tool keeps what it installed, matches what it finds against the
catalog's app signatures and returns FoundApps (ids and versions, never paths). A folder or
file it cannot read is skipped: an inventory is best effort, and one unreadable profile must
not hide the rest.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from offgate.catalog.app_signatures import (
    app_for_bundle,
    app_for_desktop_entry,
    app_for_extension,
    app_for_plugin,
    app_for_uninstall_name,
)
from offgate.store.workstation import FoundApp

# Editor -> its extensions folder under the home (the same layout for all of them:
# <publisher>.<name>-<version>[-<platform>] folders and an extensions.json listing them).
EDITOR_EXTENSION_DIRS = {
    "vscode": ".vscode/extensions",
    "vscode-insiders": ".vscode-insiders/extensions",
    "vscode-server": ".vscode-server/extensions",
    "vscodium": ".vscode-oss/extensions",
    "cursor": ".cursor/extensions",
    "windsurf": ".windsurf/extensions",
}
# Where JetBrains IDEs keep each product's plugins, per system (JetBrains' "Directories used
# by the IDE": the plugins folder is inside the product's data directory).
JETBRAINS_PLUGIN_ROOTS = {
    "linux": (".local/share/JetBrains/*",),
    "darwin": ("Library/Application Support/JetBrains/*/plugins",),
    "win32": ("AppData/Roaming/JetBrains/*/plugins",),
}
DESKTOP_ENTRY_DIRS = (".local/share/applications", ".local/share/flatpak/exports/share/applications")
SYSTEM_DESKTOP_ENTRY_DIRS = ("/usr/share/applications", "/usr/local/share/applications",
                             "/var/lib/flatpak/exports/share/applications", "/var/lib/snapd/desktop/applications")
_FOLDER_NAME = re.compile(r"^(?P<id>[^.]+\.[^-]+(?:-[^\d][^-]*)*)-(?P<version>\d[^-]*)")
_PLUGIN_ID = re.compile(rb"<id>\s*([^<\s]+)\s*</id>")
_PLUGIN_VERSION = re.compile(rb"<version>\s*([^<\s]+)\s*</version>")

# Reads Windows' uninstall keys (HKLM and HKCU, 64- and 32-bit views): each DisplayName.
UninstallReader = Callable[[], Iterable[str]]


def ide_extensions(user_home: Path) -> list[FoundApp]:
    found = []
    for editor, folder in EDITOR_EXTENSION_DIRS.items():
        for extension_id, version in _editor_extensions(user_home / folder):
            app = app_for_extension(extension_id)
            if app is not None:
                found.append(FoundApp(app.name, app.kind, editor, extension_id.lower(), version))
    return found


def _editor_extensions(folder: Path) -> Iterator[tuple[str, str | None]]:
    """(id, version) of each extension installed in an editor's extensions folder: from its
    extensions.json when readable, else from the folder names (but those marked obsolete)."""
    listed = _listed_extensions(folder / "extensions.json")
    if listed is not None:
        yield from listed
        return
    try:
        names = [entry.name for entry in folder.iterdir() if entry.is_dir()]
    except OSError:
        return
    obsolete = _read_json(folder / ".obsolete") or {}
    for name in names:
        match = _FOLDER_NAME.match(name)
        if match and not (isinstance(obsolete, dict) and obsolete.get(name)):
            yield match["id"], match["version"]


def _listed_extensions(path: Path) -> list[tuple[str, str | None]] | None:
    entries = _read_json(path)
    if not isinstance(entries, list):
        return None
    listed = []
    for entry in entries:
        identifier = entry.get("identifier") if isinstance(entry, dict) else None
        extension_id = identifier.get("id") if isinstance(identifier, dict) else None
        if isinstance(extension_id, str):
            version = entry.get("version")
            listed.append((extension_id, version if isinstance(version, str) else None))
    return listed


def jetbrains_plugins(user_home: Path, system: str) -> list[FoundApp]:
    found = []
    for pattern in JETBRAINS_PLUGIN_ROOTS.get(system, ()):
        for root in sorted(user_home.glob(pattern)):
            product = root.name if system == "linux" else root.parent.name
            for plugin_id, version in _plugins_in(root):
                app = app_for_plugin(plugin_id)
                if app is not None:
                    found.append(FoundApp(app.name, app.kind, f"jetbrains:{product}", plugin_id, version))
    return found


def _plugins_in(root: Path) -> Iterator[tuple[str, str | None]]:
    """Each plugin's id and version, from the META-INF/plugin.xml inside one of its lib/ jars."""
    try:
        jars = sorted(root.glob("*/lib/*.jar"))
    except OSError:
        return
    seen = set()
    for jar in jars:
        if jar.parent.parent in seen:
            continue
        descriptor = _plugin_descriptor(jar)
        if descriptor is None:
            continue
        plugin_id = _PLUGIN_ID.search(descriptor)
        if plugin_id:
            seen.add(jar.parent.parent)
            version = _PLUGIN_VERSION.search(descriptor)
            yield plugin_id[1].decode(errors="replace"), version[1].decode(errors="replace") if version else None


def _plugin_descriptor(jar: Path) -> bytes | None:
    try:
        with zipfile.ZipFile(jar) as archive:
            return archive.read("META-INF/plugin.xml")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def desktop_entries(user_home: Path, system_dirs: Iterable[Path]) -> list[FoundApp]:
    """Linux .desktop files, the user's and the system's (their file stem or Name=)."""
    found = []
    for folder in [*(user_home / d for d in DESKTOP_ENTRY_DIRS), *system_dirs]:
        try:
            entries = sorted(folder.glob("*.desktop"))
        except OSError:
            continue
        for entry in entries:
            stem = entry.name.removesuffix(".desktop")
            app = app_for_desktop_entry(stem, *_desktop_names(entry))
            if app is not None:
                found.append(FoundApp(app.name, app.kind, "desktop-entry", stem))
    return found


def _desktop_names(entry: Path) -> list[str]:
    try:
        text = entry.read_text(errors="replace")
    except OSError:
        return []
    return [line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("Name=")][:1]


def macos_apps(folders: Iterable[Path]) -> list[FoundApp]:
    """Bundles in /Applications and ~/Applications."""
    found = []
    for folder in folders:
        try:
            bundles = sorted(entry.name for entry in folder.iterdir() if entry.suffix == ".app")
        except OSError:
            continue
        for bundle in bundles:
            app = app_for_bundle(bundle)
            if app is not None:
                found.append(FoundApp(app.name, app.kind, "macos-app", bundle))
    return found


def windows_apps(read_uninstall_names: UninstallReader) -> list[FoundApp]:
    found = []
    for display_name in read_uninstall_names():
        app = app_for_uninstall_name(display_name)
        if app is not None:
            found.append(FoundApp(app.name, app.kind, "windows-uninstall", display_name))
    return found


def registry_uninstall_names() -> Iterator[str]:
    """Every DisplayName under the uninstall keys, machine-wide and the user's (Windows only)."""
    if sys.platform != "win32":
        return
    import winreg

    keys = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
    views = ((winreg.HKEY_LOCAL_MACHINE, winreg.KEY_WOW64_64KEY), (winreg.HKEY_LOCAL_MACHINE, winreg.KEY_WOW64_32KEY),
             (winreg.HKEY_CURRENT_USER, 0))
    for hive, view in views:
        try:
            uninstall = winreg.OpenKey(hive, keys, 0, winreg.KEY_READ | view)
        except OSError:
            continue
        with uninstall:
            for index in range(winreg.QueryInfoKey(uninstall)[0]):
                try:
                    with winreg.OpenKey(uninstall, winreg.EnumKey(uninstall, index)) as entry:
                        name, _ = winreg.QueryValueEx(entry, "DisplayName")
                except OSError:
                    continue
                if isinstance(name, str):
                    yield name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
