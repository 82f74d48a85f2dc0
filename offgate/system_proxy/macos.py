"""macOS: `networksetup`, for every enabled network service (Wi-Fi, Ethernet, ...).

Settings are named "<service>: <what>". Reading the tool's answers and turning changes into
commands are pure functions (tested on any OS); only `Macos` runs the tool. networksetup
cannot set an empty URL or server, so `off` switches a proxy off rather than blank it."""

from __future__ import annotations

from collections.abc import Mapping

from offgate.system_proxy.base import ProxyTarget, Values, run

AUTO_URL = "auto proxy URL"
AUTO_STATE = "auto proxy"
WEB = "web proxy"
WEB_STATE = "web proxy state"
SECURE = "secure web proxy"
SECURE_STATE = "secure web proxy state"
BYPASS = "bypass domains"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
MISSING_HINT = "networksetup comes with macOS (/usr/sbin/networksetup)"
# A value before the state it enables: -setautoproxyurl and -setwebproxy also switch it on.
_ORDER = (AUTO_URL, WEB, SECURE, BYPASS, AUTO_STATE, WEB_STATE, SECURE_STATE)
_SETTERS = {
    AUTO_URL: "-setautoproxyurl", AUTO_STATE: "-setautoproxystate",
    WEB: "-setwebproxy", WEB_STATE: "-setwebproxystate",
    SECURE: "-setsecurewebproxy", SECURE_STATE: "-setsecurewebproxystate",
    BYPASS: "-setproxybypassdomains",
}


def parse_services(listing: str) -> list[str]:
    """The enabled services from `networksetup -listallnetworkservices` (its first line is a
    note; a disabled service starts with "*")."""
    return [line for line in listing.splitlines()[1:] if line.strip() and not line.startswith("*")]


def parse_fields(answer: str) -> dict[str, str]:
    """"Key: value" lines, as -getwebproxy and -getautoproxyurl print them."""
    return {key.strip(): value.strip() for key, _, value in
            (line.partition(":") for line in answer.splitlines()) if key.strip()}


def on_off(enabled: str) -> str:
    return "on" if enabled.lower() in ("yes", "1") else "off"


def auto_proxy_settings(service: str, answer: str) -> dict[str, str | None]:
    fields = parse_fields(answer)
    url = fields.get("URL", "")
    return {f"{service}: {AUTO_URL}": None if url in ("", "(null)") else url,
            f"{service}: {AUTO_STATE}": on_off(fields.get("Enabled", "No"))}


def web_proxy_settings(service: str, kind: str, state: str, answer: str) -> dict[str, str | None]:
    fields = parse_fields(answer)
    server = fields.get("Server", "")
    return {f"{service}: {kind}": f"{server}:{fields.get('Port', '0')}" if server else None,
            f"{service}: {state}": on_off(fields.get("Enabled", "No"))}


def bypass_setting(service: str, answer: str) -> dict[str, str | None]:
    if answer.startswith("There aren't any"):
        return {f"{service}: {BYPASS}": None}
    return {f"{service}: {BYPASS}": " ".join(line.strip() for line in answer.splitlines() if line.strip())}


def wanted_settings(services: list[str], target: ProxyTarget) -> dict[str, str | None]:
    wanted: dict[str, str | None] = {}
    proxy = f"{target.proxy_host}:{target.proxy_port}"
    for service in services:
        if target.mode == "pac":
            wanted |= {f"{service}: {AUTO_URL}": target.pac_url, f"{service}: {AUTO_STATE}": "on",
                       f"{service}: {WEB_STATE}": "off", f"{service}: {SECURE_STATE}": "off"}
        else:
            wanted |= {f"{service}: {WEB}": proxy, f"{service}: {WEB_STATE}": "on",
                       f"{service}: {SECURE}": proxy, f"{service}: {SECURE_STATE}": "on",
                       f"{service}: {BYPASS}": " ".join(LOOPBACK), f"{service}: {AUTO_STATE}": "off"}
    return wanted


def commands(values: Values) -> list[list[str]]:
    """The networksetup commands that set these values, values before states."""
    planned = []
    for setting, value in values.items():
        service, _, what = setting.rpartition(": ")
        if what in (AUTO_URL, WEB, SECURE) and value is None:
            continue  # cannot be blanked; its state (also in `values`) switches it off
        if what in (WEB, SECURE) and value is not None:  # (always, after the line above)
            host, _, port = value.rpartition(":")
            arguments = [host, port]
        elif what == BYPASS:
            arguments = value.split() if value else ["Empty"]
        else:
            arguments = [value]
        planned.append((_ORDER.index(what), ["networksetup", _SETTERS[what], service, *arguments]))
    return [command for _, command in sorted(planned, key=lambda item: item[0])]


class Macos:
    name = "macos"
    title = "macOS (networksetup, every enabled network service)"

    def __init__(self, services: list[str] | None = None) -> None:
        self._services = services

    @property
    def services(self) -> list[str]:
        if self._services is None:
            self._services = parse_services(self._networksetup("-listallnetworkservices"))
        return self._services

    def read(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for service in self.services:
            found |= auto_proxy_settings(service, self._networksetup("-getautoproxyurl", service))
            found |= web_proxy_settings(service, WEB, WEB_STATE, self._networksetup("-getwebproxy", service))
            found |= web_proxy_settings(service, SECURE, SECURE_STATE,
                                        self._networksetup("-getsecurewebproxy", service))
            found |= bypass_setting(service, self._networksetup("-getproxybypassdomains", service))
        return found

    def wanted(self, target: ProxyTarget) -> dict[str, str | None]:
        return wanted_settings(self.services, target)

    def write(self, values: Mapping[str, str | None]) -> None:
        for command in commands(values):
            run(command, MISSING_HINT)

    def _networksetup(self, *arguments: str) -> str:
        return run(["networksetup", *arguments], MISSING_HINT)
