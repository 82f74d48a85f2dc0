"""`offgate spend import --from ...`: pick the source the location names, copy its rows in.

Every source reads in batches and says what it could not read (`problems`: bad rows, each
with where it was) and what it could not fully get (`warnings`); the good rows are stored
either way, and storing is idempotent by request_id, so an import can simply be rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from analytics.spend.source import Progress, SpendSource
from offgate.store.spend import SpendLog


@dataclass
class ImportSummary:
    read: int = 0
    added: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def open_source(location: str, *, key: str | None, since: datetime | None,
                until: datetime | None) -> SpendSource:
    """The source a `--from` value names: an http(s) URL is LiteLLM's REST API, a
    postgresql:// URL its database, anything else an export file."""
    if location.startswith(("http://", "https://")):
        from analytics.spend.rest import RestSpendSource

        return RestSpendSource(location, key, since=since, until=until)
    if location.startswith(("postgresql://", "postgres://")):
        from analytics.spend.sql import SqlSpendSource

        return SqlSpendSource(location, since=since, until=until)
    from analytics.spend.files import FileSpendSource

    return FileSpendSource(Path(location), since=since, until=until)


def import_spend(source: SpendSource, store: SpendLog, progress: Progress) -> ImportSummary:
    summary = ImportSummary()
    for batch in source.batches(progress):
        summary.read += len(batch)
        summary.added += store.add(batch, source.kind)
    summary.problems = source.problems
    summary.warnings = source.warnings
    return summary
