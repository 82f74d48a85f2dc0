"""The inventory of AI apps: what a home has installed (editor extensions, JetBrains plugins,
desktop apps on Linux, macOS and Windows) and what its user runs, kept with first and last
seen and per-day CPU time and memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from offgate.cli import app
from offgate.store import Store
from offgate.store.workstation import FoundApp, ProcessSample, WorkstationStore
from workstation.inventory import scan_inventory
from workstation.processes import running_apps

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def jetbrains_plugin(folder: Path, plugin_id: str, version: str) -> None:
    """A plugin as JetBrains IDEs install it: <plugin>/lib/<jar> with META-INF/plugin.xml."""
    folder.joinpath("lib").mkdir(parents=True)
    with zipfile.ZipFile(folder / "lib" / f"{folder.name}.jar", "w") as jar:
        jar.writestr("META-INF/plugin.xml", f"<idea-plugin>\n  <id>{plugin_id}</id>\n  <name>x</name>\n"
                                            f"  <version>{version}</version>\n</idea-plugin>\n")
        jar.writestr("com/example/Main.class", b"\xca\xfe\xba\xbe")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home" / "alice"
    # VS Code lists its extensions in extensions.json (the folder names are not read then).
    write(home / ".vscode/extensions/extensions.json", json.dumps([
        {"identifier": {"id": extension_id}, "version": version, "relativeLocation": f"{extension_id}-{version}"}
        for extension_id, version in (("github.copilot-chat", "0.22.4"), ("ms-python.python", "2024.14.0"),
                                      ("Continue.continue", "0.8.52"))]))
    (home / ".vscode/extensions/tabnine.tabnine-vscode-3.1.0").mkdir()  # not listed: uninstalled
    # Cursor without extensions.json: the folder names, but those marked obsolete.
    for name in ("saoudrizwan.claude-dev-3.4.0", "rooveterinaryinc.roo-cline-3.3.1-linux-x64",
                 "esbenp.prettier-vscode-10.1.0", "codeium.codeium-1.30.0"):
        (home / ".cursor/extensions" / name).mkdir(parents=True)
    write(home / ".cursor/extensions/.obsolete", json.dumps({"codeium.codeium-1.30.0": True}))
    write(home / ".vscode-oss/extensions/extensions.json", "{not json")  # broken: the folders instead
    (home / ".vscode-oss/extensions/GitHub.copilot-1.250.0").mkdir()
    jetbrains_plugin(home / ".local/share/JetBrains/PyCharm2024.3/github-copilot-intellij", "com.github.copilot",
                     "1.5.30-242")
    jetbrains_plugin(home / ".local/share/JetBrains/PyCharm2024.3/ideavim", "IdeaVIM", "2.10.0")
    write(home / ".local/share/JetBrains/PyCharm2024.3/broken/lib/broken.jar", b"not a zip")
    write(home / ".local/share/applications/cursor.desktop", "[Desktop Entry]\nName=Cursor\nExec=/opt/cursor\n")
    write(home / ".local/share/applications/lmstudio-0.3.desktop", "[Desktop Entry]\nName=LM Studio\nExec=x\n")
    write(home / ".local/share/applications/gimp.desktop", "[Desktop Entry]\nName=GIMP\n")
    return home


def found_set(found: list[FoundApp]) -> set[tuple[str, str, str, str | None]]:
    return {(f.app, f.found_in, f.item, f.version) for f in found}


def test_installed_extensions_plugins_and_desktop_apps_are_found(home: Path, tmp_path: Path) -> None:
    system_apps = tmp_path / "usr-share-applications"
    write(system_apps / "jan.desktop", "[Desktop Entry]\nName=Jan\n")
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        summary = scan_inventory(home, store, T0, device="ws-17", system="linux", system_desktop_dirs=[system_apps],
                                 processes=[])
    assert found_set(summary.installed) == {
        ("github-copilot", "vscode", "github.copilot-chat", "0.22.4"),
        ("continue", "vscode", "continue.continue", "0.8.52"),
        ("cline", "cursor", "saoudrizwan.claude-dev", "3.4.0"),
        ("roo-code", "cursor", "rooveterinaryinc.roo-cline", "3.3.1"),
        ("github-copilot", "vscodium", "github.copilot", "1.250.0"),
        ("github-copilot", "jetbrains:PyCharm2024.3", "com.github.copilot", "1.5.30-242"),
        ("cursor", "desktop-entry", "cursor", None),
        ("lm-studio", "desktop-entry", "lmstudio-0.3", None),
        ("jan", "desktop-entry", "jan", None),
    }
    assert summary.new_apps == ["cline", "continue", "cursor", "github-copilot", "jan", "lm-studio", "roo-code"]
    assert (summary.device, summary.user) == ("ws-17", home.owner())


def test_macos_bundles_and_windows_uninstall_keys(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    for bundle in ("Cursor.app", "ChatGPT.app", "Safari.app", "LM Studio.app"):
        (home / "Applications" / bundle / "Contents").mkdir(parents=True)
    names = ["Cursor (User)", "Claude", "Claude Code", "Notepad++ (64-bit x64)", "Ollama version 0.5.7", "Jane's Tool"]
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        mac = scan_inventory(home, store, T0, device="mac-1", system="darwin", processes=[])
        windows = scan_inventory(home, store, T0, device="pc-1", system="win32", processes=[],
                                 read_uninstall_names=lambda: iter(names))
    assert found_set(mac.installed) == {("cursor", "macos-app", "Cursor.app", None),
                                        ("chatgpt-desktop", "macos-app", "ChatGPT.app", None),
                                        ("lm-studio", "macos-app", "LM Studio.app", None)}
    assert found_set(windows.installed) == {("cursor", "windows-uninstall", "Cursor (User)", None),
                                            ("claude-desktop", "windows-uninstall", "Claude", None),
                                            ("ollama", "windows-uninstall", "Ollama version 0.5.7", None)}


def test_first_and_last_seen_and_what_is_new(home: Path, store_url: str) -> None:
    with Store.open(store_url) as store:
        first = scan_inventory(home, store, T0, device="ws-17", system="linux", system_desktop_dirs=[], processes=[])
        again = scan_inventory(home, store, T0 + timedelta(days=1), device="ws-17", system="linux",
                               system_desktop_dirs=[], processes=[])
        (home / ".cursor/extensions/anthropic.claude-code-2.0.1").mkdir()
        later = scan_inventory(home, store, T0 + timedelta(days=2), device="ws-17", system="linux",
                               system_desktop_dirs=[], processes=[])
        apps = {entry["app"]: entry for entry in WorkstationStore(store).apps()}
    assert len(first.new_apps) == 6 and again.new_apps == [] and later.new_apps == ["claude-code"]
    assert apps["cline"]["first_seen"] == T0.isoformat()
    assert apps["cline"]["last_seen"] == (T0 + timedelta(days=2)).isoformat()
    assert apps["claude-code"]["first_seen"] == (T0 + timedelta(days=2)).isoformat()
    assert sorted((f["in"], f["item"]) for f in apps["github-copilot"]["found"]) == [
        ("jetbrains:PyCharm2024.3", "com.github.copilot"), ("vscode", "github.copilot-chat"),
        ("vscodium", "github.copilot")]


def test_cpu_time_counts_once_per_process_and_memory_peaks_per_day(store_url: str) -> None:
    def sample(pid: int, started: float, cpu: float, memory: int, app: str = "claude-code") -> ProcessSample:
        return ProcessSample(app, pid, started, cpu, memory)

    with Store.open(store_url) as store:
        workstation = WorkstationStore(store)
        workstation.record_apps("ws-17", "alice", [FoundApp("claude-code", "agent", "process", "claude-code"),
                                                   FoundApp("ollama", "desktop-app", "process", "ollama")], T0)
        workstation.record_processes("ws-17", "alice", [sample(10, 1.0, 5.0, 300), sample(11, 2.0, 1.5, 200),
                                                        sample(20, 3.0, 40.0, 1000, "ollama")], T0)
        # 10 used 2 s more, 11 ended, 12 is new (its 0.5 s count whole), memory rose for claude-code.
        workstation.record_processes("ws-17", "alice", [sample(10, 1.0, 7.0, 350), sample(12, 4.0, 0.5, 400)],
                                     T0 + timedelta(hours=1))
        # pid 11 reused by a new process: a different start time, so its CPU is its own.
        workstation.record_processes("ws-17", "alice", [sample(11, 9.0, 0.25, 100)], T0 + timedelta(days=1))
        apps = {entry["app"]: entry for entry in workstation.apps()}
    assert (apps["claude-code"]["cpu_seconds"], apps["claude-code"]["peak_memory_bytes"],
            apps["claude-code"]["days_running"]) == (5.0 + 1.5 + 2.0 + 0.5 + 0.25, 750, 2)
    assert (apps["ollama"]["cpu_seconds"], apps["ollama"]["peak_memory_bytes"]) == (40.0, 1000)


@pytest.fixture
def agent_processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two processes named like agents: a copy of `sleep` called `claude` (Claude Code's
    process title), and python started as `aider` (argv[0], as a script's shebang would)."""
    claude = tmp_path / "bin" / "claude"
    claude.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", claude)
    started = [subprocess.Popen([claude, "120"]),
               subprocess.Popen(["aider", "-c", "import time; time.sleep(120)"], executable=sys.executable)]
    try:
        yield started
    finally:
        for process in started:
            process.kill()
            process.wait()


@pytest.mark.e2e
def test_running_agents_are_listed_from_the_process_table(agent_processes: list[subprocess.Popen[bytes]],
                                                         tmp_path: Path) -> None:
    claude, aider = agent_processes
    home = tmp_path / "home"
    home.mkdir()
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        summary = scan_inventory(home, store, T0, device="ws-17", system="linux", system_desktop_dirs=[])
        apps = {entry["app"]: entry for entry in WorkstationStore(store).apps()}
    running = {app.app: app for app in summary.running}
    assert claude.pid in running["claude-code"].pids and running["claude-code"].kind == "agent"
    assert aider.pid in running["aider"].pids
    assert running["aider"].memory_bytes > 0 and running["aider"].cpu_seconds >= 0
    assert {"claude-code", "aider"} <= set(summary.new_apps)
    assert apps["aider"]["found"] == [{"in": "process", "item": "aider", "version": None}]
    assert apps["aider"]["days_running"] == 1 and apps["aider"]["peak_memory_bytes"] > 0


@pytest.mark.e2e
def test_other_users_processes_are_not_this_homes(agent_processes: list[subprocess.Popen[bytes]]) -> None:
    mine = {sample.pid for _, sample in running_apps(psutil.Process(os.getpid()).username())}
    nobody = running_apps("no-such-user-here")
    assert {process.pid for process in agent_processes} <= mine
    assert nobody == []


def test_offgate_inventory_lists_what_it_found_and_keeps_it(home: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    arguments = ["--home", str(tmp_path / "offgate-home"), "inventory", "--user-home", str(home)]
    first = runner.invoke(app, [*arguments, "--json"], catch_exceptions=False)
    table = runner.invoke(app, arguments, catch_exceptions=False)
    listed = json.loads(first.stdout)
    apps = {entry["app"]: entry for entry in listed["apps"]}
    assert first.exit_code == 0 and table.exit_code == 0
    # This machine's own desktop entries and processes may add apps; the home's are all there.
    assert {"cline", "continue", "cursor", "github-copilot", "lm-studio", "roo-code"} <= set(listed["new_apps"])
    assert sorted(f["in"] for f in apps["github-copilot"]["found"]) == ["jetbrains:PyCharm2024.3", "vscode", "vscodium"]
    assert apps["cline"]["new"] and apps["cline"]["kind"] == "ide-extension"
    assert "github-copilot" in table.stdout and "jetbrains:PyCharm2024.3, vscode, vscodium" in table.stdout
    assert "cline (new)" not in table.stdout  # the second run saw nothing new
