"""What every bill source is: the protocol `offgate bill import` reads through (the progress
callback is spend's), and the errors for a source that cannot be read at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from analytics.spend.source import Progress
from offgate.errors import BadInputError, OffgateError
from offgate.store.bill import BillLine


class BillSourceError(OffgateError):
    """A bill source cannot be read at all (unreachable, refused the admin key); the message says why."""


class BillInputError(BillSourceError, BadInputError):
    """A bill source cannot be read as given (no admin key, a file that is no billing export)."""


class BillSource(Protocol):
    kind: str  # the store's source name: the provider's API, or "file"
    problems: list[str]

    def describe(self) -> str: ...

    def lines(self, progress: Progress) -> Iterator[list[BillLine]]: ...
