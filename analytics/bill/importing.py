"""`offgate bill import --from ...`: pick the bill source the name says, copy its lines in.

The admin key is read from a file or the environment, never from the command line (it would
sit in the shell's history) and never stored. Storing is idempotent by each line's natural
key, so an import can simply be rerun: lines already stored as they are count as unchanged.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from analytics.bill.source import BillInputError, BillSource
from analytics.spend.source import Progress
from offgate.store.bill import BillLog
from offgate.store.generations import GenerationLog

if TYPE_CHECKING:
    from analytics.bill.openrouter import OpenRouterGenerations

ADMIN_KEY_VARIABLES = {"openai": "OPENAI_ADMIN_KEY", "anthropic": "ANTHROPIC_ADMIN_KEY",
                       "openrouter": "OPENROUTER_MANAGEMENT_KEY"}
PROVIDERS = tuple(ADMIN_KEY_VARIABLES)
GENERATION_BATCH = 100  # costs stored at once: an interrupted import keeps what it fetched


@dataclass
class GenerationImportSummary:
    wanted: int = 0
    imported: int = 0
    unknown: list[str] = field(default_factory=list)  # OpenRouter does not know them (yet)
    problems: list[str] = field(default_factory=list)


@dataclass
class BillImportSummary:
    read: int = 0
    changed: int = 0
    problems: list[str] = field(default_factory=list)


def admin_key(provider: str, key_file: Path | None) -> str | None:
    if key_file is not None:
        try:
            return key_file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise BillInputError(f"cannot read the admin key from {key_file}: {exc.strerror}") from None
    return os.environ.get(ADMIN_KEY_VARIABLES[provider]) or None


def open_bill_source(name: str, *, key_file: Path | None, since: datetime, until: datetime,
                     base_url: str | None = None) -> BillSource:
    if name == "openai":
        from analytics.bill.openai import OpenAiBillSource

        return OpenAiBillSource(admin_key(name, key_file), since=since, until=until, base_url=base_url)
    if name == "anthropic":
        from analytics.bill.anthropic import AnthropicBillSource

        return AnthropicBillSource(admin_key(name, key_file), since=since, until=until, base_url=base_url)
    if name == "openrouter":
        from analytics.bill.openrouter import OpenRouterBillSource

        return OpenRouterBillSource(admin_key(name, key_file), since=since, until=until, base_url=base_url)
    if Path(name).is_file():
        from analytics.bill.files import FileBillSource

        return FileBillSource(Path(name), since=since, until=until)
    raise BillInputError(f"no bill source {name!r}: one of {', '.join(PROVIDERS)}, or a billing export file")


def import_bill(source: BillSource, log: BillLog, progress: Progress) -> BillImportSummary:
    summary = BillImportSummary()
    for lines in source.lines(progress):
        summary.read += len(lines)
        summary.changed += log.add(lines, source.kind)
    summary.problems = source.problems
    return summary


def import_generations(source: OpenRouterGenerations, log: GenerationLog, since: datetime, until: datetime,
                       progress: Progress) -> GenerationImportSummary:
    """The billed cost of each OpenRouter call of the window captured or logged by LiteLLM whose
    cost is not stored yet: an id imported once is never fetched again."""
    wanted = log.wanted(since, until)
    summary = GenerationImportSummary(wanted=len(wanted))
    for costs in itertools.batched(source.costs(wanted, progress), GENERATION_BATCH):
        summary.imported += log.add(costs)
    summary.unknown, summary.problems = source.unknown, source.problems
    return summary
