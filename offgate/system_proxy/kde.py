"""KDE Plasma: the [Proxy Settings] group of kioslaverc (KDE apps, and Chromium on KDE, read it).

kwriteconfig6/5 write it when installed (they lock the file the way KDE does); without them
offgate edits the file itself, line by line, so every other group, key and comment stays as
it was. Values are KConfig's decoded text; a key that is not in the file is None."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from offgate.system_proxy.base import ProxyTarget, SystemProxyError, Values, run

GROUP = "Proxy Settings"
SETTINGS = ("ProxyType", "Proxy Config Script", "httpProxy", "httpsProxy", "NoProxyFor", "ReversedException")
NO_PROXY = "0"
MANUAL = "1"
PAC = "2"
LOOPBACK = "localhost,127.0.0.1,::1"
# kreadconfig prints its --default for a key that is not set; no real value looks like this.
ABSENT = "\x1eoffgate-absent\x1e"
MISSING_HINT = "install KDE's kconfig tools (libkf5config-bin)"
_ESCAPES = {"\\": "\\", "s": " ", "t": "\t", "n": "\n", "r": "\r"}


def wanted_settings(target: ProxyTarget) -> dict[str, str | None]:
    if target.mode == "pac":
        return {"ProxyType": PAC, "Proxy Config Script": target.pac_url}
    # KDE writes a manual proxy as "scheme://host port".
    host = f"[{target.proxy_host}]" if ":" in target.proxy_host else target.proxy_host
    proxy = f"http://{host} {target.proxy_port}"
    return {"ProxyType": MANUAL, "httpProxy": proxy, "httpsProxy": proxy, "NoProxyFor": LOOPBACK,
            "ReversedException": "false"}


def config_file(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "kioslaverc"


def decode(raw: str) -> str:
    """A KConfig value as written in the file, unescaped (\\s is a space, \\\\ a backslash)."""
    text, index = [], 0
    raw = raw.strip()
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw) and raw[index + 1] in _ESCAPES:
            text.append(_ESCAPES[raw[index + 1]])
            index += 2
        else:
            text.append(char)
            index += 1
    return "".join(text)


def encode(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    if escaped.startswith(" "):
        escaped = "\\s" + escaped[1:]
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\s"
    return escaped


def read_group(lines: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(SETTINGS)
    for index in _group_lines(lines):
        key, _, raw = lines[index].partition("=")
        if key.strip() in found:  # as in KConfig, the last line of a key wins
            found[key.strip()] = decode(raw)
    return found


def edit_group(lines: list[str], values: Values) -> list[str]:
    """`lines` with these keys of [Proxy Settings] set or removed; every other line kept."""
    lines = list(lines)
    pending = dict(values)
    for index in reversed(_group_lines(lines)):
        key = lines[index].partition("=")[0].strip()
        if key in pending:
            value = pending.pop(key)
            if value is None:
                del lines[index]
            else:
                lines[index] = f"{key}={encode(value)}"
    additions = [f"{key}={encode(value)}" for key, value in pending.items() if value is not None]
    if not additions:
        return lines
    header = _group_header(lines)
    if header is None:
        return [*lines, *([""] if lines and lines[-1].strip() else []), f"[{GROUP}]", *additions]
    end = header + 1
    while end < len(lines) and not lines[end].lstrip().startswith("["):
        end += 1
    while end > header + 1 and not lines[end - 1].strip():  # before the blank lines ending the group
        end -= 1
    return [*lines[:end], *additions, *lines[end:]]


def _group_header(lines: list[str]) -> int | None:
    return next((index for index, line in enumerate(lines) if line.strip() == f"[{GROUP}]"), None)


def _group_lines(lines: list[str]) -> list[int]:
    """The indexes of the key lines in the first [Proxy Settings] group."""
    header = _group_header(lines)
    if header is None:
        return []
    found = []
    for index in range(header + 1, len(lines)):
        line = lines[index].strip()
        if line.startswith("["):
            break
        if line and not line.startswith("#") and "=" in line:
            found.append(index)
    return found


class Kde:
    name = "kde"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = os.environ if env is None else env
        self.path = config_file(self.env)
        tool = next((version for version in ("6", "5") if shutil.which(f"kwriteconfig{version}")), None)
        self.writer = f"kwriteconfig{tool}" if tool else None
        self.reader = f"kreadconfig{tool}" if tool else None
        self.title = f"KDE ({self.path} [{GROUP}])"

    def read(self) -> dict[str, str | None]:
        if self.reader is None:
            return read_group(self._lines())
        found: dict[str, str | None] = {}
        for key in SETTINGS:
            value = run([self.reader, "--file", str(self.path), "--group", GROUP, "--key", key,
                         "--default", ABSENT], MISSING_HINT).rstrip("\n")
            found[key] = None if value == ABSENT else value
        return found

    def wanted(self, target: ProxyTarget) -> dict[str, str | None]:
        return wanted_settings(target)

    def write(self, values: Values) -> None:
        if not values:
            return
        if self.writer is None:
            self._write_lines(edit_group(self._lines(), values))
        else:
            for key, value in values.items():
                where = [self.writer, "--file", str(self.path), "--group", GROUP, "--key", key]
                run([*where, "--delete"] if value is None else [*where, "--", value], MISSING_HINT)
        self._tell_kio()

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise SystemProxyError(f"cannot read {self.path}: {exc}") from None

    def _write_lines(self, lines: list[str]) -> None:
        partial = self.path.with_name(self.path.name + ".offgate-partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
            if self.path.exists():
                shutil.copymode(self.path, partial)
            os.replace(partial, self.path)
        except OSError as exc:
            raise SystemProxyError(f"cannot write {exc.filename or self.path}: {exc.strerror}") from None

    def _tell_kio(self) -> None:
        """Running KDE apps reread their proxy settings on this signal (best effort: without a
        session bus, they read the file when they next start)."""
        if "DBUS_SESSION_BUS_ADDRESS" not in self.env or shutil.which("dbus-send") is None:
            return
        subprocess.run(["dbus-send", "--session", "--type=signal", "/KIO/Scheduler",
                        "org.kde.KIO.Scheduler.reparseSlaveConfiguration", "string:"],
                       capture_output=True, timeout=10, check=False, env=dict(self.env))
