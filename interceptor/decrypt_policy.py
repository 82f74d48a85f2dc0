"""What the proxy decrypts: the catalog's hosts and the gateways, nothing else.

mitmproxy's `allow_hosts` makes every other connection a tunnel, untouched. The catalog built
here, with the gateways, is the one the recorder reads calls with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mitmproxy import ctx, exceptions

from offgate.catalog import build_catalog
from offgate.catalog.registry import Catalog


class DecryptPolicy:
    def __init__(self) -> None:
        self.catalog: Catalog = build_catalog()
        self._allowed: list[str] | None = None  # the allow_hosts this addon set, if any

    def load(self, loader: Any) -> None:
        loader.add_option(
            "offgate_gateways", Sequence[str], [],
            "Base URLs of the company's LiteLLM gateways (repeatable). Calls to them are recorded with "
            "route 'gateway'; all other catalog hosts are 'direct'. Default: proxy.gateways in config.toml.",
        )
        loader.add_option(
            "offgate_decrypt_only_catalog", bool, True,
            "Decrypt only the catalog's hosts and the gateways (sets allow_hosts); every other connection "
            "is tunnelled untouched.",
        )

    def configure(self, updated: set[str]) -> None:
        if "offgate_gateways" in updated:
            try:
                self.catalog = build_catalog(ctx.options.offgate_gateways)
            except ValueError as exc:
                raise exceptions.OptionsError(f"offgate_gateways: {exc}") from exc
        if not updated & {"offgate_gateways", "offgate_decrypt_only_catalog"}:
            return
        if ctx.options.offgate_decrypt_only_catalog:
            self._allowed = self.catalog.decrypt_patterns()
            ctx.options.allow_hosts = self._allowed
        elif self._allowed is not None:
            # Turned off: take back what this addon set, not what someone else did since.
            if ctx.options.allow_hosts == self._allowed:
                ctx.options.allow_hosts = []
            self._allowed = None
