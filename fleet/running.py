"""What of offgate runs on this machine for this home: the proxy (`offgate up`, `offgate
proxy`, which runs as `python -m interceptor`, or mitmdump with the addon) and the
native-messaging host (which the browser starts while the extension talks to it). Read from
the process table, at most once a minute: a process counts when it is this user's and its
home (`--home`, else its OFFGATE_HOME, else the default) is this one."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import platformdirs
import psutil

from fleet.wire import Part
from offgate.config import HOME_ENV

RESCAN_S = 60.0
_PROXY_COMMANDS = ("up", "proxy")
_HOME_SETTING = "offgate_home="  # mitmdump --set offgate_home=DIR


class RunningParts:
    def __init__(self, home: Path, own: Sequence[Part] = ()) -> None:
        """`own`: the parts the calling process is itself (`offgate up` is the proxy)."""
        self._home = home.resolve()
        self._own = tuple(own)
        self._found: dict[Part, bool] = {}
        self._scanned_at = float("-inf")

    def now(self) -> dict[Part, bool]:
        if time.monotonic() - self._scanned_at > RESCAN_S:
            self._found = self._scan()
            self._scanned_at = time.monotonic()
        return dict(self._found)

    def _scan(self) -> dict[Part, bool]:
        found: dict[Part, bool] = {"proxy": "proxy" in self._own, "native_host": "native_host" in self._own}
        me = os.getpid()
        uid = os.getuid() if hasattr(os, "getuid") else None
        for process in psutil.process_iter(["cmdline", "uids"]):
            try:
                if process.pid == me or (uid is not None and process.info["uids"].real != uid):
                    continue
                command = process.info["cmdline"] or []
                part = part_of(command)
                if part is not None and not found[part] and self._home_of(process, command) == self._home:
                    found[part] = True
            except (psutil.Error, OSError):
                continue
        return found

    @staticmethod
    def _home_of(process: psutil.Process, command: list[str]) -> Path:
        named = home_argument(command)
        if named is None:
            named = process.environ().get(HOME_ENV) or platformdirs.user_data_dir("offgate")
        return (Path(process.cwd()) / Path(named).expanduser()).resolve()


def part_of(command: Sequence[str]) -> Part | None:
    """Which part a command line runs, if any."""
    arguments = list(command)
    for index, argument in enumerate(arguments):
        name = os.path.basename(argument)
        following = arguments[index + 1:]
        if argument == "-m" and following[:1] == ["native_host"]:
            return "native_host"
        if argument == "-m" and following[:1] == ["interceptor"]:  # what `offgate proxy` execs
            return "proxy"
        if (argument == "-m" and following[:1] == ["offgate"]) or name == "offgate":
            after = following[1:] if argument == "-m" else following
            return "proxy" if any(word in _PROXY_COMMANDS for word in after) else None
        if name in ("mitmdump", "mitmproxy") and any(a.endswith("interceptor/addon.py") for a in following):
            return "proxy"
    return None


def home_argument(command: Sequence[str]) -> str | None:
    """The home a command line names: `--home DIR`, `--home=DIR` or `offgate_home=DIR`."""
    for index, argument in enumerate(command):
        if argument == "--home" and index + 1 < len(command):
            return command[index + 1]
        for prefix in ("--home=", _HOME_SETTING):
            if argument.startswith(prefix) and len(argument) > len(prefix):
                return argument[len(prefix):]
    return None
