"""JSON documents that web apps stream as patches.

A first event installs a document (a message, an answer block); later events change it
at a path, most often by appending a few characters to its text. ChatGPT, Le Chat and
Perplexity write paths as JSON Pointers ("/message/content/parts/0"), DeepSeek without
the leading slash and with -1 for the last item ("response/fragments/-1/content"). The
ops are JSON Patch's add, replace and remove (DeepSeek's SET is a replace) plus
"append": concatenate a string, extend a list, merge an object.
"""

from __future__ import annotations

from typing import Any


def split_path(path: str) -> list[str]:
    """The tokens of a JSON Pointer (RFC 6901); a path without its leading slash reads the same."""
    if not path:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in path.removeprefix("/").split("/")]


def apply(document: Any, path: list[str], op: str, value: Any) -> Any:
    """Apply one op at `path` and return the document (a new one when the op replaces the
    root). Raises ValueError (or LookupError) when the path or op does not fit."""
    op = op.lower()
    if not path:
        if op in ("add", "replace", "set"):
            return value
        if op == "append":
            return _appended(document, value)
        raise ValueError(f"cannot {op} the whole document")
    parent = document
    for token in path[:-1]:
        parent = parent[_index(parent, token)]
    last = path[-1]
    if op in ("add", "replace", "set"):
        if isinstance(parent, list) and (last == "-" or (op == "add" and int(last) == len(parent))):
            parent.append(value)
        elif isinstance(parent, list) and op == "add":
            parent.insert(_index(parent, last), value)
        else:
            parent[_index(parent, last)] = value
    elif op == "append":
        key = _index(parent, last)
        current = parent.get(key) if isinstance(parent, dict) else parent[key]
        parent[key] = _appended(current, value)
    elif op == "remove":
        del parent[_index(parent, last)]
    else:
        raise ValueError(f"unknown patch op {op!r}")
    return document


def _index(container: Any, token: str) -> Any:
    if isinstance(container, dict):
        return token
    if isinstance(container, list):
        index = int(token)
        return index + len(container) if index < 0 else index
    raise ValueError(f"cannot patch inside a {type(container).__name__}")


def _appended(current: Any, value: Any) -> Any:
    if current is None:
        return value
    if isinstance(current, str) and isinstance(value, str):
        return current + value
    if isinstance(current, list):
        return current + (value if isinstance(value, list) else [value])
    if isinstance(current, dict) and isinstance(value, dict):
        return {**current, **value}
    raise ValueError(f"cannot append a {type(value).__name__} to a {type(current).__name__}")
