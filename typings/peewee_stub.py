"""Writes typings/peewee.pyi: the stub the installed peewee ships, with the methods offgate's store
calls filled in where that stub leaves parameters or the return unannotated (pyright's strict mode
reports every call through them). Each filled-in line ends with FILLED_IN.

    uv run python typings/peewee_stub.py    # after upgrading peewee; tests/test_typings.py checks it
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import peewee

VENDORED = Path(__file__).with_name("peewee.pyi")
FILLED_IN = "# offgate: filled in"
HEADER = f"""\
# peewee's own stub (peewee-stubs/__init__.pyi of peewee {version("peewee")}, MIT licence), with the methods
# offgate's store calls filled in where it leaves them unannotated (each such line ends "{FILLED_IN}"):
# pyright's strict mode reports every call through an unannotated parameter. pyright reads this folder
# (its stubPath) before site-packages. Written by typings/peewee_stub.py; do not edit by hand.
"""
METHODS = frozenset({
    "__iter__", "alias", "asc", "atomic", "between", "cast", "count", "create_all", "cursor", "delete", "desc",
    "dicts", "distinct", "execute", "execute_sql", "first", "group_by", "in_", "insert", "insert_many", "join",
    "join_from", "limit", "on_conflict", "order_by", "python_value", "returning", "scalar", "select", "table_exists",
    "tuples", "update", "where",
})
# Parameters that are names or SQL text; any other is an expression or a value (peewee takes either).
TEXT_PARAMETERS = frozenset({"alias", "as_type", "collation", "join_type", "name", "nulls", "sql", "table_name",
                             "window_alias"})
RETURNS = {"__iter__": "Iterator[Any]", "table_exists": "bool"}
ONE_LINE_STUB = re.compile(
    r"^(?P<head>\s*def (?P<name>\w+)\()(?P<params>.*)\)(?P<returns> -> [^:]+)?: \.\.\.(?P<tail>.*)$")


def installed_stub() -> str:
    return (Path(peewee.__file__).parent / "peewee-stubs" / "__init__.pyi").read_text(encoding="utf-8")


def filled_in(stub: str) -> str:
    return HEADER + "".join(_filled_line(line) for line in stub.splitlines(keepends=True))


def _filled_line(line: str) -> str:
    found = ONE_LINE_STUB.match(line.rstrip("\n"))
    if found is None or found["name"] not in METHODS:
        return line
    returns = found["returns"] or f" -> {RETURNS.get(found['name'], 'Any')}"
    params = ", ".join(_annotated(param) for param in _split(found["params"]))
    new = f"{found['head']}{params}){returns}: ...{found['tail']}"
    return line if new == line.rstrip("\n") else f"{new}  {FILLED_IN}\n"


def _split(params: str) -> list[str]:
    """The parameters, split on the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in params:
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()] if current.strip() else parts


def _annotated(param: str) -> str:
    name, has_default, default = (part.strip() for part in param.partition("="))
    bare = name.lstrip("*")
    if ":" in name or bare in ("self", "cls") or param in ("/", "*"):
        return param
    kind = "str" if bare in TEXT_PARAMETERS else "Any"
    if not has_default:
        return f"{name}: {kind}"
    optional = " | None" if default == "None" and kind != "Any" else ""
    return f"{name}: {kind}{optional} = {default}"


if __name__ == "__main__":
    VENDORED.write_text(filled_in(installed_stub()), encoding="utf-8")
