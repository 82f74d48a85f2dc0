"""Reading an agent's append-only log file from where the last read stopped.

A file is the same file as last time when its inode is the same, it is no shorter than where
the read stopped, and its first bytes hash the same; otherwise it was rewritten or cut (an
agent compacting a session, a restore from backup) and is read again from the start, its
calls recognised by their ids so none counts twice. A file whose inode and size are as
they were is not opened at all (a rescan of thousands of files costs their stat calls). Only
whole lines are read: a last line
without its newline is still being written, and waits for the next scan.

Some agents (Gemini CLI) rewrite one whole JSON file per session instead of appending:
`read_whole_file` reads such a file again only when its inode or size changed, and hands
back all of it; its calls' ids keep the counts exact. Others (OpenCode, Goose) keep a SQLite
database: `read_database_rows` runs a query again only when the database or its write-ahead
log changed, each row one "line" (a JSON array).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from offgate.store.agent_logs import FilePosition

HEAD_BYTES = 4096


@dataclass(slots=True)
class NewLines:
    """The whole lines added since `start` (0 when the file is read afresh), and where the next read
    starts. `afresh`: the file does not begin with what the last read saw (new, rewritten or cut)."""

    lines: list[bytes]
    start: int
    position: FilePosition
    afresh: bool


FileRead = Callable[[Path, FilePosition | None], NewLines | None]  # what changed in a file since its last read


def file_key(agent: str, path: Path, salt: bytes) -> str:
    """The store's name for a log file: a keyed hash, never its path (it lies under a home),
    so a guessed path cannot be confirmed from the store without the home's salt."""
    return hmac.new(salt, f"{agent}\0{path.resolve()}".encode(), hashlib.sha256).hexdigest()[:32]


def read_new_lines(path: Path, known: FilePosition | None) -> NewLines | None:
    """What was appended to `path` since `known`; None when nothing was (or it cannot be read)."""
    try:
        if known is not None and _unchanged(os.stat(path), known):
            return None  # the common case on a rescan: no need to open the file
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            start = known.offset if known is not None and _same_file(file, stat, known) else 0
            if known is not None and start == known.offset and stat.st_size == known.size:
                return None
            file.seek(start)
            lines, end = _whole_lines(file, start)
            head = _head_hash(file, end)
    except OSError:
        return None
    state = known.state if known is not None and start > 0 else None
    return NewLines(lines, start, FilePosition(stat.st_ino, stat.st_size, end, head, state), afresh=start == 0)


def read_whole_file(path: Path, known: FilePosition | None) -> NewLines | None:
    """All of `path` as one "line" when it changed since `known`; None when it did not (or cannot be read)."""
    try:
        if known is not None and _unchanged(os.stat(path), known):
            return None
        with open(path, "rb") as file:
            stat = os.fstat(file.fileno())
            content = file.read()
    except OSError:
        return None
    # The size read, not the size stat saw: a file caught mid-rewrite is read again once whole.
    head = hashlib.sha256(content[:HEAD_BYTES]).hexdigest()
    grew = (known is not None and stat.st_ino == known.inode and len(content) >= known.size
            and hashlib.sha256(content[:min(HEAD_BYTES, known.size)]).hexdigest() == known.head_hash)
    return NewLines([content], 0, FilePosition(stat.st_ino, len(content), len(content), head, None), afresh=not grew)


def read_database_rows(path: Path, known: FilePosition | None, query: str) -> NewLines | None:
    """The rows of `query`, when the database or its write-ahead log changed since `known`
    (their inodes, sizes and times, hashed, stand for the file's head)."""
    try:
        stats = [os.stat(path)]
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and (wal_stat := os.stat(wal)).st_size:  # an empty log comes and goes with each reader
            stats.append(wal_stat)
    except OSError:
        return None
    mark = hashlib.sha256(repr([(stat.st_ino, stat.st_size, stat.st_mtime_ns) for stat in stats]).encode()).hexdigest()
    if known is not None and known.head_hash == mark:
        return None
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            rows = connection.execute(query).fetchall()
    except sqlite3.Error:
        return None
    lines = [json.dumps(list(row)).encode() for row in rows]
    size = stats[0].st_size
    return NewLines(lines, 0, FilePosition(stats[0].st_ino, size, size, mark, None), afresh=True)


def _unchanged(stat: os.stat_result, known: FilePosition) -> bool:
    # A file rewritten to exactly its old size under its old inode waits until it changes
    # size; its calls keep their ids, so nothing is counted twice meanwhile.
    return stat.st_ino == known.inode and stat.st_size == known.size


def _same_file(file: BinaryIO, stat: os.stat_result, known: FilePosition) -> bool:
    return (stat.st_ino == known.inode and stat.st_size >= known.offset
            and _head_hash(file, known.offset) == known.head_hash)


def _whole_lines(file: BinaryIO, start: int) -> tuple[list[bytes], int]:
    lines = []
    end = start
    for line in file:
        if not line.endswith(b"\n"):
            break  # still being written
        end += len(line)
        lines.append(line)
    return lines, end


def _head_hash(file: BinaryIO, read_up_to: int) -> str:
    """Hash of the first bytes the last read covered (at most HEAD_BYTES)."""
    file.seek(0)
    return hashlib.sha256(file.read(min(HEAD_BYTES, read_up_to))).hexdigest()


def json_line(line: bytes) -> object:
    """The JSON value of one log line, None when it is none (a line cut short, not JSON).
    orjson parses twice as fast as json on a first scan of a gigabyte; what it refuses that
    json takes (an escaped lone surrogate in a reply's text, NaN) is parsed by json."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(line)
    except ValueError:
        return None


def data_dirs_from(env: Mapping[str, str], variable: str, default: Path) -> list[Path]:
    """The folders a comma-separated `variable` names (ccusage's convention) when set, else `default`."""
    if env.get(variable):
        return [Path(part.strip()).expanduser() for part in env[variable].split(",") if part.strip()]
    return [default]
