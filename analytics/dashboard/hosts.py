"""The dashboard answers only to the names it is reached by on purpose.

A page on another site can point a name it controls at 127.0.0.1 (DNS rebinding) and then
read the dashboard as its own origin: /proxy.pac needs no login. Such a request carries that
name in its Host header, so only these are served: localhost, 127.0.0.1, [::1], the
configured listen host and the address the connection arrived at, each with the port it
arrived at. Anything else is refused with 421 before any handler runs.
"""

from __future__ import annotations

import ipaddress
import re

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from analytics.dashboard.errors import json_error

LISTEN_HOST = web.AppKey("listen_host", str)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
HOST_HEADER = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?")
DEFAULT_HTTP_PORT = 80


@web.middleware
async def known_hosts_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = request.headers.get(hdrs.HOST, "")
    if not _is_known(request, host):
        return json_error(421, f"this dashboard does not answer to the Host {host!r}: "
                               "open it as http://127.0.0.1:PORT/ or by the host it listens on")
    return await handler(request)


def _is_known(request: web.Request, host: str) -> bool:
    found = HOST_HEADER.fullmatch(host)
    arrived = request.transport.get_extra_info("sockname") if request.transport else None
    if found is None or not arrived:
        return False
    port = int(found["port"]) if found["port"] else DEFAULT_HTTP_PORT
    names = {*LOOPBACK_NAMES, _as_host(request.app[LISTEN_HOST]), _as_host(arrived[0])}
    return port == arrived[1] and found["name"].lower() in names


def _as_host(address: str) -> str:
    """An address or name as a Host header writes it: lower case, IPv6 in brackets (an
    IPv4 address that arrived on a dual-stack socket as IPv6, as plain IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address.lower()
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped) if ip.ipv4_mapped else f"[{ip}]"
    return str(ip)
