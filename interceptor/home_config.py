"""offgate's home and its config.toml, as mitmproxy options.

`offgate proxy` and `mitmdump -s interceptor/addon.py` get their settings the same way: when
`offgate_home` is set, its config.toml (and the OFFGATE_* environment variables) is read once,
and its values fill the options still at their defaults, so a `--set` wins over the file.
The home itself is then written back resolved. The other addons read options only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mitmproxy import ctx, exceptions

from offgate.config import ConfigError, checked_database_url, database_url_for, device_name, load_settings, resolve_home


class HomeConfig:
    def __init__(self) -> None:
        self._home: Path | None = None
        self._filled: dict[str, Any] = {}  # option -> the value config.toml gave it

    def load(self, loader: Any) -> None:
        loader.add_option(
            "offgate_home", str, "",
            "offgate's data directory (store, CA, journal, config.toml). Empty: OFFGATE_HOME or the "
            "platform's user data directory. Its config.toml gives the other offgate options their defaults.",
        )
        loader.add_option(
            "offgate_device", str, "",
            "The device name recorded with every call. Empty: device.name in config.toml, else the hostname.",
        )
        loader.add_option(
            "offgate_database_url", str, "",
            "Where calls are stored: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE. Empty: "
            "database_url in config.toml, else offgate.db in the home.",
        )

    def configure(self, updated: set[str]) -> None:
        if "offgate_database_url" in updated and ctx.options.offgate_database_url:
            try:
                checked_database_url(ctx.options.offgate_database_url)
            except ConfigError as exc:
                raise exceptions.OptionsError(f"offgate_database_url: {exc}") from exc
        if "offgate_home" in updated:
            self._read_home()

    def _read_home(self) -> None:
        try:
            home = resolve_home(Path(ctx.options.offgate_home) if ctx.options.offgate_home else None)
            if home == self._home:
                return
            settings = load_settings(home)
            from_config = {
                "offgate_gateways": settings.proxy.gateways,
                "offgate_gateway_context": settings.proxy.gateway_context,
                "offgate_device": device_name(settings.device.name),
                "offgate_database_url": database_url_for(settings, home),
                "offgate_policy": settings.policy.model_dump_json(),
            }
        except ConfigError as exc:
            raise exceptions.OptionsError(f"offgate_home: {exc}") from exc
        self._home = home
        fills = {name: value for name, value in from_config.items() if name in ctx.options and self._unset(name)}
        self._filled.update(fills)
        try:
            ctx.options.update(offgate_home=str(home), **fills)
        except exceptions.OptionsError:
            self._home = None  # rolled back: the next try reads it again
            raise

    def _unset(self, name: str) -> bool:
        """Still at its default, or at what an earlier home's config.toml gave it."""
        value = getattr(ctx.options, name)
        return not ctx.options.has_changed(name) or (name in self._filled and value == self._filled[name])
