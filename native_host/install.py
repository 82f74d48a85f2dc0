"""Install the host for one browser: a launcher and the host manifest where the browser looks.

The launcher runs the exact Python that installed it (`python -I -m native_host`, with
offgate's home and the allowed extension ids written in), so the host starts the same
way from a browser that knows nothing of the user's shell, virtualenv or PYTHON*
variables. The manifest names the launcher and the extensions allowed to call it.
Where the manifest goes (per user):

- Linux: `~/.config/<browser dir>/NativeMessagingHosts/` for the Chromium family,
  `~/.mozilla/native-messaging-hosts/` for Firefox;
- macOS: `~/Library/Application Support/<browser dir>/NativeMessagingHosts/` (Firefox:
  `Mozilla/NativeMessagingHosts/`);
- Windows: beside the launcher in offgate's home, with a registry value under
  `HKCU\\Software\\<browser key>\\NativeMessagingHosts\\<host name>` naming it;
- any Chromium browser started with `--user-data-dir DIR`: `DIR/NativeMessagingHosts/`.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from native_host.extension import HOST_NAME, chromium_id, chromium_origin, gecko_id
from offgate.errors import BadInputError, OffgateError

CHROMIUM_FAMILY = ("chrome", "chromium", "edge", "brave")
BROWSERS = (*CHROMIUM_FAMILY, "firefox")
LINUX_DIRS = {
    "chrome": ".config/google-chrome/NativeMessagingHosts",
    "chromium": ".config/chromium/NativeMessagingHosts",
    "edge": ".config/microsoft-edge/NativeMessagingHosts",
    "brave": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": ".mozilla/native-messaging-hosts",
}
MACOS_DIRS = {
    "chrome": "Library/Application Support/Google/Chrome/NativeMessagingHosts",
    "chromium": "Library/Application Support/Chromium/NativeMessagingHosts",
    "edge": "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
    "brave": "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": "Library/Application Support/Mozilla/NativeMessagingHosts",
}
WINDOWS_KEYS = {
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts",
    "chromium": r"Software\Chromium\NativeMessagingHosts",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
    "firefox": r"Software\Mozilla\NativeMessagingHosts",
}
LAUNCHERS_DIR = "native-messaging"
CHROMIUM_ID = re.compile(r"^[a-p]{32}$")
GECKO_ID = re.compile(r"^(\{[0-9a-fA-F-]{36}\}|[A-Za-z0-9._+-]*@[A-Za-z0-9.-]+)$")
DESCRIPTION = "offgate: records the AI web-app calls its browser extension sees"


class InstallError(BadInputError):
    """The request cannot be installed as given; the message says why."""


@dataclass(frozen=True, slots=True)
class Installation:
    browser: str
    manifest: Path
    launcher: Path
    allowed: tuple[str, ...]
    registry_key: str | None = None  # under HKEY_CURRENT_USER, Windows only


def plan(browser: str, *, home: Path, user_data_dir: Path | None = None, extension_ids: tuple[str, ...] = (),
         platform: str = sys.platform, user_home: Path | None = None) -> Installation:
    """Where the files go for `browser` on `platform`, and which callers are allowed."""
    if browser not in BROWSERS:
        raise InstallError(f"unknown browser {browser!r}: choose one of {', '.join(BROWSERS)}")
    user_home = user_home or Path.home()
    windows = platform == "win32"
    launcher_dir = home / LAUNCHERS_DIR / browser
    launcher = launcher_dir / ("offgate-native-host.bat" if windows else "offgate-native-host")
    registry_key = None
    if user_data_dir is not None:
        if browser == "firefox":
            raise InstallError("--user-data-dir is for the Chromium family; Firefox reads the user's own "
                               "native-messaging-hosts folder (see docs/extension.md)")
        manifest_dir = user_data_dir.expanduser().absolute() / "NativeMessagingHosts"
    elif windows:
        manifest_dir = launcher_dir
        registry_key = rf"{WINDOWS_KEYS[browser]}\{HOST_NAME}"
    else:
        manifest_dir = user_home / (MACOS_DIRS if platform == "darwin" else LINUX_DIRS)[browser]
    return Installation(browser, manifest_dir / f"{HOST_NAME}.json", launcher,
                        allowed_callers(browser, extension_ids), registry_key)


def allowed_callers(browser: str, extension_ids: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The repository's own extension plus `extension_ids` (a store or enterprise build),
    as the browser names callers: origins for Chromium, Gecko ids for Firefox."""
    firefox = browser == "firefox"
    for extension_id in extension_ids:
        if not (GECKO_ID if firefox else CHROMIUM_ID).match(extension_id):
            kind = "Firefox extension id (name@domain or {GUID})" if firefox else "Chromium extension id (32 a-p)"
            raise InstallError(f"{extension_id!r} is not a {kind}")
    if firefox:
        return tuple(dict.fromkeys((gecko_id(), *extension_ids)))
    return tuple(chromium_origin(i) for i in dict.fromkeys((chromium_id(), *extension_ids)))


def host_manifest(installation: Installation) -> dict:
    key = "allowed_extensions" if installation.browser == "firefox" else "allowed_origins"
    return {"name": HOST_NAME, "description": DESCRIPTION, "path": str(installation.launcher), "type": "stdio",
            key: list(installation.allowed)}


def launcher_text(installation: Installation, *, home: Path, python: str, windows: bool) -> str:
    args = [python, "-I", "-m", "native_host", "--home", str(home)]
    for caller in installation.allowed:
        args += ["--allow", caller]
    if windows:
        command = subprocess.list2cmdline(args).replace("%", "%%")
        return (f"@echo off\r\nrem offgate's native-messaging host for {installation.browser}, "
                f"written by `offgate extension install`.\r\n{command} %*\r\n")
    return (
        "#!/bin/sh\n"
        f"# offgate's native-messaging host for {installation.browser}, written by `offgate extension install`.\n"
        "# It runs the Python that installed offgate, whatever the browser's environment.\n"
        f"exec {shlex.join(args)} \"$@\"\n"
    )


def install(installation: Installation, *, home: Path, python: str = sys.executable,
            platform: str = sys.platform) -> None:
    """Write the launcher and the manifest (and the registry value); OffgateError naming what
    could not be written."""
    windows = platform == "win32"
    try:
        installation.launcher.parent.mkdir(parents=True, exist_ok=True)
        installation.launcher.write_text(launcher_text(installation, home=home, python=python, windows=windows),
                                         encoding="utf-8", newline="")
        installation.launcher.chmod(0o755)
        installation.manifest.parent.mkdir(parents=True, exist_ok=True)
        installation.manifest.write_text(json.dumps(host_manifest(installation), indent=2) + "\n",
                                         encoding="utf-8")
        if installation.registry_key:
            _set_registry_default(installation.registry_key, str(installation.manifest))
    except OSError as exc:
        raise OffgateError(f"cannot write {exc.filename}: {exc.strerror}") from None


def uninstall(installation: Installation) -> list[str]:
    """Remove what `install` wrote; returns what was removed. OffgateError naming what could not be removed."""
    removed = []
    for path in (installation.manifest, installation.launcher):
        if path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise OffgateError(f"cannot remove {exc.filename}: {exc.strerror}") from None
            removed.append(str(path))
    if installation.registry_key and _delete_registry_key(installation.registry_key):
        removed.append(rf"HKEY_CURRENT_USER\{installation.registry_key}")
    return removed


def _set_registry_default(key: str, value: str) -> None:
    if sys.platform != "win32":  # a guard pyright reads: winreg's types exist on Windows only
        raise InstallError("the registry can only be written on Windows")
    import winreg

    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:
        winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)


def _delete_registry_key(key: str) -> bool:
    if sys.platform != "win32":
        raise InstallError("the registry can only be written on Windows")
    import winreg

    try:
        winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
    except FileNotFoundError:
        return False
    return True
