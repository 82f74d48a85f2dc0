"""Small secrets kept in the home (the key-fingerprint salt, the dashboard token, the fleet's
device credential): readable by their owner only, and never seen half-written.

A file created empty and then filled lets a process that starts at the same moment read it
empty. So the content is written whole to a private temporary file first and then linked
into place: the link fails if another process got there first, and the loser reads the
winner's file instead of overwriting it, so every process ends with the same value.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of `path`; if there is none yet, `make()` written there (mode 0600).
    OSError when the directory cannot hold it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    content = make()
    partial = _written_aside(path, content)
    try:
        try:
            os.link(partial, path)  # unlike a rename, never replaces a file another process linked
        except FileExistsError:
            return path.read_bytes()
        return content
    finally:
        os.unlink(partial)


def replace(path: Path, content: bytes) -> None:
    """`content` in `path` (mode 0600), in place of what was there (the fleet's device
    credential, on enrolling again). OSError when the directory cannot hold it."""
    partial = _written_aside(path, content)
    try:
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


def _written_aside(path: Path, content: bytes) -> str:
    """`content` whole in a new private file beside `path` (mode 0600), synced; its path."""
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(partial)
        raise
    return partial
