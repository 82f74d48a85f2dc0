"""JSON documents that web apps stream as patches.

A first event installs a document (a message, an answer block); later events change it
at a path, most often by appending a few characters to its text. ChatGPT, Le Chat and
Perplexity write paths as JSON Pointers ("/message/content/parts/0"), DeepSeek without
the leading slash and with -1 for the last item ("response/fragments/-1/content"). The
ops are JSON Patch's add, replace and remove (DeepSeek's SET is a replace) plus
"append": concatenate a string, extend a list, merge an object.
"""

from __future__ import annotations

from typing import cast

from offgate.catalog.base import as_list, as_obj


def split_path(path: str) -> list[str]:
    """The tokens of a JSON Pointer (RFC 6901); a path without its leading slash reads the same."""
    if not path:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in path.removeprefix("/").split("/")]


def apply(document: object, path: list[str], op: str, value: object) -> object:
    """Apply one op at `path` and return the document (a new one when the op replaces the
    root). Raises ValueError (or LookupError) when the path or op does not fit."""
    op = op.lower()
    if not path:
        if op in ("add", "replace", "set"):
            return value
        if op == "append":
            return _appended(document, value)
        raise ValueError(f"cannot {op} the whole document")
    parent = _container(document)
    for token in path[:-1]:
        parent = _container(parent[_position(parent, token)] if isinstance(parent, list) else parent[token])
    if isinstance(parent, list):
        _apply_in_array(parent, path[-1], op, value)
    else:
        _apply_in_object(parent, path[-1], op, value)
    return document


def _apply_in_array(items: list[object], token: str, op: str, value: object) -> None:
    if op in ("add", "replace", "set"):
        if token == "-" or (op == "add" and int(token) == len(items)):
            items.append(value)
        elif op == "add":
            items.insert(_position(items, token), value)
        else:
            items[_position(items, token)] = value
    elif op == "append":
        position = _position(items, token)
        items[position] = _appended(items[position], value)
    elif op == "remove":
        del items[_position(items, token)]
    else:
        raise ValueError(f"unknown patch op {op!r}")


def _apply_in_object(fields: dict[str, object], key: str, op: str, value: object) -> None:
    if op in ("add", "replace", "set"):
        fields[key] = value
    elif op == "append":
        fields[key] = _appended(fields.get(key), value)
    elif op == "remove":
        del fields[key]
    else:
        raise ValueError(f"unknown patch op {op!r}")


def _container(value: object) -> dict[str, object] | list[object]:
    """The object or array a path goes through (one type test per step: web apps patch per token)."""
    if isinstance(value, dict):
        return cast("dict[str, object]", value)
    if isinstance(value, list):
        return cast("list[object]", value)
    raise ValueError(f"cannot patch inside a {type(value).__name__}")


def _position(items: list[object], token: str) -> int:
    index = int(token)
    return index + len(items) if index < 0 else index


def _appended(current: object, value: object) -> object:
    if current is None:
        return value
    if isinstance(current, str) and isinstance(value, str):
        return current + value
    items = as_list(current)
    if items is not None:
        extra = as_list(value)
        return items + (extra if extra is not None else [value])
    fields, extra_fields = as_obj(current), as_obj(value)
    if fields is not None and extra_fields is not None:
        return {**fields, **extra_fields}
    raise ValueError(f"cannot append a {type(value).__name__} to a {type(current).__name__}")
