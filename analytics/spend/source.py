"""What every spend source is and says: the protocol `offgate spend import` reads through, the
progress callback it reports with, and the error for a source that cannot be read at all.
Kept apart from `importing`, which picks a source, so the sources need not import it back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from offgate.errors import BadInputError, OffgateError
from offgate.store.spend import SpendRecord

# (done, total): how far a source has got, in its own unit (windows, rows, bytes).
Progress = Callable[[int, int | None], None]


class SpendSourceError(OffgateError):
    """A source cannot be read at all (unreachable, refused, not LiteLLM's); the message says why."""


class SpendInputError(SpendSourceError, BadInputError):
    """A source cannot be read as given (a file that is no LiteLLM export, the API without a key)."""


class SpendSource(Protocol):
    kind: str  # the store's source name: "rest", "sql" or "file"
    problems: list[str]
    warnings: list[str]

    def describe(self) -> str: ...

    def batches(self, progress: Progress) -> Iterator[list[SpendRecord]]: ...
