"""One scan of a workstation: every scanner once, over one user's home.

A scanner is `Scanner = Callable[[ScanContext], ScanResult]`: it reads what it knows about in
the context's home, writes what it found to the store, and says what it read.
`workstation.scanners.SCANNERS` lists them in the order they run; one failing is reported and
never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from offgate.config import Settings
from offgate.store import Store

log = logging.getLogger("offgate.scan")


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What a scanner reads and where it writes. `env` is the environment of the user whose
    home is read (empty when an admin reads another user's home: theirs is unknown)."""

    user_home: Path
    env: Mapping[str, str]
    store: Store
    settings: Settings
    device: str
    user: str | None
    now: datetime
    salt: bytes  # this offgate home's secret salt: what names a file in the store is a keyed hash


@dataclass(slots=True)
class ScanResult:
    """What one scanner read and kept: `read` counts its inputs (files, lines, ...) by kind,
    `kept` the records it added; `notes` say what it could not do, in words."""

    scanner: str
    read: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


Scanner = Callable[[ScanContext], ScanResult]


def run_scan(context: ScanContext, scanners: Sequence[tuple[str, Scanner]]) -> list[ScanResult]:
    """Each scanner once, in order; a scanner that raises is reported by its error's type."""
    results = []
    for name, scanner in scanners:
        try:
            results.append(scanner(context))
        except Exception as exc:
            log.exception("the %s scanner failed", name)
            results.append(ScanResult(name, error=f"{type(exc).__name__}: {exc}"))
    return results

