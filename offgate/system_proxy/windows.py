"""Windows: the per-user WinINet settings in the registry (Edge, Chrome and most apps read
them), then InternetSetOption so running programs pick them up.

Values are shown as text (ProxyEnable "0"/"1"); `registry_writes` turns changes into the
typed registry operations, a pure function tested on any OS; only `Windows` touches winreg."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import Literal

from offgate.system_proxy.base import ProxyTarget, SystemProxyError, Values

KEY = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
SETTINGS = ("AutoConfigURL", "ProxyEnable", "ProxyServer", "ProxyOverride")
DWORD_SETTINGS = ("ProxyEnable",)
# "<local>" bypasses names without a dot; WinINet matches wildcards, not CIDR.
LOOPBACK = "localhost;127.*;[::1];<local>"
INTERNET_OPTION_SETTINGS_CHANGED = 39
INTERNET_OPTION_REFRESH = 37

RegistryWrite = tuple[str, Literal["REG_SZ", "REG_DWORD", "delete"], str | int | None]


def wanted_settings(target: ProxyTarget) -> dict[str, str | None]:
    if target.mode == "pac":
        return {"AutoConfigURL": target.pac_url, "ProxyEnable": "0"}
    host = f"[{target.proxy_host}]" if ":" in target.proxy_host else target.proxy_host
    proxy = f"{host}:{target.proxy_port}"
    return {"AutoConfigURL": None, "ProxyEnable": "1", "ProxyServer": f"http={proxy};https={proxy}",
            "ProxyOverride": LOOPBACK}


def registry_writes(values: Values) -> list[RegistryWrite]:
    """The registry operations under HKCU\\<KEY> that set these values."""
    writes: list[RegistryWrite] = []
    for name, value in values.items():
        if value is None:
            writes.append((name, "delete", None))
        elif name in DWORD_SETTINGS:
            writes.append((name, "REG_DWORD", int(value)))
        else:
            writes.append((name, "REG_SZ", value))
    return writes


class Windows:
    name = "windows"
    title = f"Windows (HKEY_CURRENT_USER\\{KEY})"

    def read(self) -> dict[str, str | None]:
        if sys.platform != "win32":  # a guard pyright reads: winreg's types exist on Windows only
            raise SystemProxyError("the Windows proxy settings can only be read on Windows")
        import winreg

        found: dict[str, str | None] = dict.fromkeys(SETTINGS)
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, KEY) as key:
                for name in SETTINGS:
                    with contextlib.suppress(FileNotFoundError):
                        found[name] = str(winreg.QueryValueEx(key, name)[0])
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SystemProxyError(f"cannot read HKEY_CURRENT_USER\\{KEY}: {exc}") from None
        return found

    def wanted(self, target: ProxyTarget) -> dict[str, str | None]:
        return wanted_settings(target)

    def write(self, values: Mapping[str, str | None]) -> None:
        if sys.platform != "win32":
            raise SystemProxyError("the Windows proxy settings can only be changed on Windows")
        import ctypes
        import winreg

        try:
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, KEY) as key:
                for name, kind, value in registry_writes(values):
                    if kind == "delete":
                        with contextlib.suppress(FileNotFoundError):
                            winreg.DeleteValue(key, name)
                    else:
                        winreg.SetValueEx(key, name, 0, getattr(winreg, kind), value)
        except OSError as exc:
            raise SystemProxyError(f"cannot write HKEY_CURRENT_USER\\{KEY}: {exc}") from None
        wininet = ctypes.windll.wininet
        wininet.InternetSetOptionW(None, INTERNET_OPTION_SETTINGS_CHANGED, None, 0)
        wininet.InternetSetOptionW(None, INTERNET_OPTION_REFRESH, None, 0)
