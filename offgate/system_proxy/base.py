"""What every desktop backend shares: the target, the settings as text, the errors, and a
way to run the desktop's own tool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from offgate.errors import BadInputError, OffgateError

# A desktop's proxy settings by name, each as the desktop's own tool shows it; None: not set.
Values = Mapping[str, str | None]

COMMAND_TIMEOUT_S = 30


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """Where `on` points the desktop: the PAC URL (only LLM hosts go to the proxy), or the
    interceptor itself for HTTP and HTTPS with loopback bypassed ("manual")."""

    mode: Literal["pac", "manual"]
    pac_url: str
    proxy_host: str
    proxy_port: int

    def describe(self) -> str:
        if self.mode == "pac":
            return f"PAC file {self.pac_url}"
        return f"HTTP and HTTPS proxy {self.proxy_host}:{self.proxy_port}"


class Desktop(Protocol):
    name: str  # what --desktop takes and the state file records
    title: str  # where the settings live, for people

    def read(self) -> dict[str, str | None]:
        """Every setting this backend manages, as it is now."""
        ...

    def wanted(self, target: ProxyTarget) -> dict[str, str | None]:
        """The settings that point the desktop at `target` (a pure function)."""
        ...

    def write(self, values: Values) -> None:
        """Set these settings (None: remove it)."""
        ...


class SystemProxyError(OffgateError):
    """Changing or reading the settings failed at run time; the message says what to do."""


class BadInput(SystemProxyError, BadInputError):
    """The request cannot be carried out as given (no supported desktop, an unreadable state
    file, ...); nothing was changed."""


def run(command: Sequence[str], missing_hint: str) -> str:
    """The output of a desktop tool; SystemProxyError naming the command when it fails,
    with `missing_hint` (what to install) when it is not there at all."""
    if shutil.which(command[0]) is None:
        raise BadInput(f"{command[0]} not found: {missing_hint}")
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SystemProxyError(f"`{' '.join(command)}` did not finish in {COMMAND_TIMEOUT_S} s") from None
    if done.returncode != 0:
        why = done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}"
        raise SystemProxyError(f"`{' '.join(command)}` failed: {why}")
    return done.stdout
