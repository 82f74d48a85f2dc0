"""What every spend source is and says: the protocol `offgate spend import` reads through, the
progress callback it reports with, and the error for a source that cannot be read at all.
Kept apart from `importing`, which picks a source, so the sources need not import it back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from offgate.store.spend import SpendRecord

# (done, total): how far a source has got, in its own unit (windows, rows, bytes).
Progress = Callable[[int, int | None], None]


class SpendSourceError(Exception):
    """A source cannot be read at all (unreachable, refused, not LiteLLM's); the message says why."""


class SpendSource(Protocol):
    kind: str  # the store's source name: "rest", "sql" or "file"
    problems: list[str]
    warnings: list[str]

    def describe(self) -> str: ...

    def batches(self, progress: Progress) -> Iterator[list[SpendRecord]]: ...
