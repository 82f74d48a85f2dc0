"""Fail-open: an error in offgate must never touch the user's traffic."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("offgate")


class FailOpen:
    """Runs offgate's part of a hook; an error is logged and counted, and the flow goes on
    untouched. One instance is shared by the addons, so the count is the proxy's."""

    def __init__(self) -> None:
        self.errors = 0

    def run(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self.count()

    def count(self) -> None:
        """Call inside an `except` block: the traceback goes to the log."""
        self.errors += 1
        log.exception("offgate: error while reading a flow (traffic unaffected)")
