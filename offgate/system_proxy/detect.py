"""Which desktop's proxy settings to change: --desktop, else the platform, else
XDG_CURRENT_DESKTOP (the same names Chromium uses to pick GNOME's or KDE's settings)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Literal, get_args

from offgate.system_proxy.base import BadInput, Desktop


class NoDesktop(BadInput):
    """Neither --desktop nor the environment names a desktop offgate can set."""

DesktopName = Literal["gnome", "kde", "macos", "windows"]
DESKTOPS: tuple[DesktopName, ...] = get_args(DesktopName)
# XDG_CURRENT_DESKTOP names whose proxy settings live in GNOME's gsettings schema.
GNOME_FAMILY = frozenset({"GNOME", "UNITY", "CINNAMON", "X-CINNAMON", "BUDGIE", "PANTHEON", "DEEPIN", "UKUI",
                          "XFCE"})
_ONLY_ON = {"macos": "darwin", "windows": "win32"}


def detected_name(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    if platform == "darwin":
        return "macos"
    if platform == "win32":
        return "windows"
    names = {name.strip().upper() for name in env.get("XDG_CURRENT_DESKTOP", "").split(":")}
    if "KDE" in names:
        return "kde"
    if names & GNOME_FAMILY:
        return "gnome"
    return None


def desktop_named(name: str, env: Mapping[str, str], platform: str = sys.platform) -> Desktop:
    if name not in DESKTOPS:
        raise BadInput(f"unknown desktop {name!r}: choose one of {', '.join(DESKTOPS)}")
    if _ONLY_ON.get(name, platform) != platform:
        raise BadInput(f"the {name} proxy settings can only be changed on {name}; this is {platform}")
    if name == "gnome":
        from offgate.system_proxy.gnome import Gnome
        return Gnome()
    if name == "kde":
        from offgate.system_proxy.kde import Kde
        return Kde(env)
    if name == "macos":
        from offgate.system_proxy.macos import Macos
        return Macos()
    from offgate.system_proxy.windows import Windows
    return Windows()


def find_desktop(name: str | None, env: Mapping[str, str], platform: str = sys.platform) -> Desktop:
    """The backend for `name`, else for the desktop this runs on; BadInput when there is none."""
    chosen = name or detected_name(env, platform)
    if chosen is None:
        seen = env.get("XDG_CURRENT_DESKTOP") or "unset"
        raise NoDesktop(f"no supported desktop found (platform {platform}, XDG_CURRENT_DESKTOP {seen}): "
                       f"offgate sets the proxy on {', '.join(DESKTOPS)}; pass --desktop if yours uses "
                       "GNOME's or KDE's settings")
    return desktop_named(chosen, env, platform)
