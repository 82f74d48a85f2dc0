"""typings/peewee.pyi is the installed peewee's own stub with the methods the store calls filled in:
when an upgraded peewee ships another stub, this fails until `uv run python typings/peewee_stub.py`
writes it again."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TYPINGS = Path(__file__).parents[1] / "typings"


def test_the_vendored_peewee_stub_is_the_installed_one_filled_in() -> None:
    spec = importlib.util.spec_from_file_location("peewee_stub", TYPINGS / "peewee_stub.py")
    assert spec is not None and spec.loader is not None
    peewee_stub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peewee_stub)
    vendored = (TYPINGS / "peewee.pyi").read_text(encoding="utf-8")
    assert vendored == peewee_stub.filled_in(peewee_stub.installed_stub())
    assert vendored.count(f"  {peewee_stub.FILLED_IN}\n") == 69  # the lines METHODS fills in
