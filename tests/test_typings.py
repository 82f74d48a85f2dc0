"""typings/peewee.pyi is peewee's own stub with the methods the store calls filled in: after a
peewee upgrade changes that stub, this fails until the stub is copied again and filled in."""

from __future__ import annotations

from itertools import dropwhile
from pathlib import Path

import peewee

VENDORED = Path(__file__).parents[1] / "typings" / "peewee.pyi"
FILLED_IN = "# offgate: filled in"


def test_the_vendored_peewee_stub_differs_from_peewees_own_only_where_filled_in() -> None:
    installed = (Path(peewee.__file__).parent / "peewee-stubs" / "__init__.pyi").read_text().splitlines()
    vendored = list(dropwhile(lambda line: line.startswith("#"), VENDORED.read_text().splitlines()))  # its header
    assert len(vendored) == len(installed)
    unmarked_changes = [(theirs, ours) for theirs, ours in zip(installed, vendored, strict=True)
                        if theirs != ours and not ours.endswith(FILLED_IN)]
    assert unmarked_changes == []
    assert sum(line.endswith(FILLED_IN) for line in vendored) == 57
