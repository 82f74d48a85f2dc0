"""Point the desktop's proxy settings at the interceptor, and put them back exactly.

One small module per desktop (gnome, kde, macos, windows), each reading and writing its own
settings as text; `plan` does the rest the same way for all of them: compare, save the old
values in <home>/system-proxy.json before changing anything, change, and restore on `off`.
"""

from offgate.system_proxy.base import BadInput, Desktop, ProxyTarget, SystemProxyError
from offgate.system_proxy.detect import DESKTOPS, NoDesktop, find_desktop
from offgate.system_proxy.plan import Change, Status, status, turn_off, turn_on
from offgate.system_proxy.state import state_path

__all__ = ["DESKTOPS", "BadInput", "Change", "Desktop", "NoDesktop", "ProxyTarget", "Status", "SystemProxyError",
           "find_desktop", "state_path", "status", "turn_off", "turn_on"]
