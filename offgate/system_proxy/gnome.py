"""GNOME and the desktops that share its settings (Chromium and GNOME apps read them):
`gsettings` on org.gnome.system.proxy. Values are GVariant text, exactly as
`gsettings get` prints them and `gsettings set` takes them."""

from __future__ import annotations

from offgate.system_proxy.base import BadInput, ProxyTarget, SystemProxyError, Values, run

SCHEMA = "org.gnome.system.proxy"
SETTINGS = (
    f"{SCHEMA} mode",
    f"{SCHEMA} autoconfig-url",
    f"{SCHEMA}.http host",
    f"{SCHEMA}.http port",
    f"{SCHEMA}.https host",
    f"{SCHEMA}.https port",
    f"{SCHEMA} ignore-hosts",
)
LOOPBACK = ("localhost", "127.0.0.0/8", "::1")
MISSING_HINT = "install libglib2.0-bin and gsettings-desktop-schemas (Debian, Ubuntu)"


def gvariant_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wanted_settings(target: ProxyTarget) -> dict[str, str | None]:
    if target.mode == "pac":
        return {f"{SCHEMA} mode": "'auto'", f"{SCHEMA} autoconfig-url": gvariant_string(target.pac_url)}
    host, port = gvariant_string(target.proxy_host), str(target.proxy_port)
    return {
        f"{SCHEMA} mode": "'manual'",
        f"{SCHEMA}.http host": host,
        f"{SCHEMA}.http port": port,
        f"{SCHEMA}.https host": host,
        f"{SCHEMA}.https port": port,
        f"{SCHEMA} ignore-hosts": "[" + ", ".join(gvariant_string(name) for name in LOOPBACK) + "]",
    }


class Gnome:
    name = "gnome"
    title = "GNOME (gsettings org.gnome.system.proxy)"

    def read(self) -> dict[str, str | None]:
        try:
            listing = run(["gsettings", "list-recursively", SCHEMA], MISSING_HINT)
        except SystemProxyError as exc:
            if "schema" in str(exc).lower():  # "No such schema", "No schemas installed"
                raise BadInput(f"{exc}: {MISSING_HINT}") from None
            raise
        found: dict[str, str | None] = {}
        for line in listing.splitlines():
            schema, key, value = line.split(" ", 2)
            found[f"{schema} {key}"] = value
        return {setting: found.get(setting) for setting in SETTINGS}

    def wanted(self, target: ProxyTarget) -> dict[str, str | None]:
        return wanted_settings(target)

    def write(self, values: Values) -> None:
        for setting, value in values.items():
            schema, key = setting.split(" ")
            if value is None:
                run(["gsettings", "reset", schema, key], MISSING_HINT)
            else:
                run(["gsettings", "set", schema, key, value], MISSING_HINT)
