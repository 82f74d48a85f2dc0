"""`offgate extension install|uninstall|path` and `offgate native-host`, run as a user would
run them (the CLI in a subprocess with a throw-away HOME), and the installed launcher
started as the browser starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from native_host.extension import EXTENSION_DIR, HOST_NAME, chromium_id, chromium_origin, gecko_id
from native_host.install import LINUX_DIRS, InstallError, launcher_text, plan
from tests.support.native_host_process import OUR_ORIGIN, HostProcess, hello

pytestmark = pytest.mark.e2e

STORE_ID = "abcdefghijklmnopabcdefghijklmnop"


def offgate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path / "user"), "OFFGATE_HOME": str(tmp_path / "offgate-home")}
    return subprocess.run([sys.executable, "-m", "offgate", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("browser", ["chrome", "chromium", "edge", "brave"])
def test_install_for_a_chromium_browser_writes_manifest_and_launcher(tmp_path: Path, browser: str) -> None:
    done = offgate(tmp_path, "extension", "install", "--browser", browser)
    assert done.returncode == 0, done.stderr
    manifest_path = tmp_path / "user" / LINUX_DIRS[browser] / f"{HOST_NAME}.json"
    launcher = tmp_path / "offgate-home" / "native-messaging" / browser / "offgate-native-host"
    assert json.loads(manifest_path.read_text()) == {
        "name": HOST_NAME,
        "description": "offgate: records the AI web-app calls its browser extension sees",
        "path": str(launcher),
        "type": "stdio",
        "allowed_origins": [chromium_origin(chromium_id())],
    }
    assert os.access(launcher, os.X_OK)
    assert f"host manifest: {manifest_path}" in done.stdout
    assert f"load the extension from {EXTENSION_DIR}" in done.stdout


def test_the_launcher_starts_the_host_as_the_browser_does(tmp_path: Path) -> None:
    assert offgate(tmp_path, "extension", "install", "--browser", "chromium").returncode == 0
    launcher = tmp_path / "offgate-home" / "native-messaging" / "chromium" / "offgate-native-host"
    # The browser's environment knows nothing of the virtualenv or offgate's home.
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "user"), "PYTHONPATH": "/nonexistent"}
    host = HostProcess(tmp_path, OUR_ORIGIN, command=[str(launcher)], env=bare)
    assert host.ask(hello())["type"] == "hello"
    assert host.close() == 0
    assert (tmp_path / "offgate-home" / "native-host.log").exists()


def test_install_for_firefox_allows_the_gecko_id(tmp_path: Path) -> None:
    done = offgate(tmp_path, "extension", "install", "--browser", "firefox", "--extension-id", "corp@example.com")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "user/.mozilla/native-messaging-hosts" / f"{HOST_NAME}.json").read_text())
    assert manifest["allowed_extensions"] == [gecko_id(), "corp@example.com"]
    launcher = Path(manifest["path"]).read_text()
    assert f"--allow {gecko_id()} --allow corp@example.com" in launcher


def test_install_into_a_user_data_dir(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    done = offgate(tmp_path, "extension", "install", "--browser", "chromium", "--user-data-dir", str(profile),
                   "--extension-id", STORE_ID)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((profile / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text())
    assert manifest["allowed_origins"] == [chromium_origin(chromium_id()), chromium_origin(STORE_ID)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--browser", "firefox", "--user-data-dir", "/tmp/x"], "--user-data-dir is for the Chromium family"),
        (["--browser", "chrome", "--extension-id", "not-an-id"], "'not-an-id' is not a Chromium extension id"),
        (["--browser", "firefox", "--extension-id", "no at sign"], "'no at sign' is not a Firefox extension id"),
        (["--browser", "safari"], "'safari' is not one of"),
    ],
    ids=["firefox-user-data-dir", "bad-chromium-id", "bad-gecko-id", "unknown-browser"],
)
def test_install_refuses_what_cannot_work(tmp_path: Path, args: list[str], message: str) -> None:
    done = offgate(tmp_path, "extension", "install", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "user" / ".config").exists()


def test_uninstall_removes_what_install_wrote(tmp_path: Path) -> None:
    assert offgate(tmp_path, "extension", "install", "--browser", "edge").returncode == 0
    manifest = tmp_path / "user" / LINUX_DIRS["edge"] / f"{HOST_NAME}.json"
    launcher = tmp_path / "offgate-home" / "native-messaging" / "edge" / "offgate-native-host"
    done = offgate(tmp_path, "extension", "uninstall", "--browser", "edge")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"removed {manifest}", f"removed {launcher}"]
    assert not manifest.exists() and not launcher.exists()
    again = offgate(tmp_path, "extension", "uninstall", "--browser", "edge")
    assert again.stdout.strip() == "nothing to remove: the host is not installed for edge there"


def test_path_prints_the_folder_to_load(tmp_path: Path) -> None:
    done = offgate(tmp_path, "extension", "path")
    assert done.returncode == 0
    assert Path(done.stdout.strip()) == EXTENSION_DIR
    assert (EXTENSION_DIR / "manifest.json").exists()


def test_the_native_host_command_runs_the_host(tmp_path: Path) -> None:
    host = HostProcess(tmp_path, OUR_ORIGIN, command=[sys.executable, "-m", "offgate", "--home",
                                                      str(tmp_path / "home"), "native-host"])
    assert host.ask(hello())["type"] == "hello"
    assert host.close() == 0
    assert (tmp_path / "home" / "native-host.log").exists()


def test_macos_locations(tmp_path: Path) -> None:
    user = tmp_path / "user"
    found = {browser: plan(browser, home=tmp_path, platform="darwin", user_home=user).manifest
             for browser in ("chrome", "edge", "brave", "firefox")}
    support = user / "Library/Application Support"
    assert found == {
        "chrome": support / "Google/Chrome/NativeMessagingHosts" / f"{HOST_NAME}.json",
        "edge": support / "Microsoft Edge/NativeMessagingHosts" / f"{HOST_NAME}.json",
        "brave": support / "BraveSoftware/Brave-Browser/NativeMessagingHosts" / f"{HOST_NAME}.json",
        "firefox": support / "Mozilla/NativeMessagingHosts" / f"{HOST_NAME}.json",
    }


def test_windows_registry_keys_and_launcher(tmp_path: Path) -> None:
    keys = {browser: plan(browser, home=tmp_path, platform="win32").registry_key
            for browser in ("chrome", "chromium", "edge", "brave", "firefox")}
    assert keys == {
        "chrome": rf"Software\Google\Chrome\NativeMessagingHosts\{HOST_NAME}",
        "chromium": rf"Software\Chromium\NativeMessagingHosts\{HOST_NAME}",
        "edge": rf"Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}",
        "brave": rf"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\{HOST_NAME}",
        "firefox": rf"Software\Mozilla\NativeMessagingHosts\{HOST_NAME}",
    }
    installation = plan("edge", home=tmp_path, platform="win32")
    assert installation.manifest.parent == installation.launcher.parent == tmp_path / "native-messaging" / "edge"
    text = launcher_text(installation, home=Path(r"C:\Users\a b\offgate%x"), python=r"C:\py\python.exe",
                         windows=True)
    assert text.endswith(
        rf'C:\py\python.exe -I -m native_host --home "C:\Users\a b\offgate%%x" --allow {OUR_ORIGIN} %*' + "\r\n")
    assert text.startswith("@echo off\r\n")


def test_a_plan_names_only_known_browsers(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="unknown browser 'opera'"):
        plan("opera", home=tmp_path)
