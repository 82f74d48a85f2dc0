"""Shell history: per UTC day and tool, how many times an AI command-line tool ran, and the
provider keys typed in a shell (their salted fingerprints only).

It reads bash's ~/.bash_history (with HISTTIMEFORMAT's "#<epoch>" lines or without), zsh's
~/.zsh_history and ~/.zhistory (extended ": <epoch>:<seconds>;command" entries or plain
ones, metafied bytes and "\\"-continued lines) and fish's ~/.local/share/fish/fish_history.
An entry without a time counts on the day offgate first read it.

Incremental: each file is read from where the last scan stopped. Shells rewrite their history
files (bash when it trims to HISTFILESIZE, fish on every merge), so the place is found again by
a hash of the bytes just before it; when it cannot be found, the file is read again from the
start, skipping the timed entries already counted (untimed ones would count again). A last
line still being written is left for the next scan.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from offgate.config import device_name
from offgate.fingerprint import key_fingerprint
from offgate.store import Store
from offgate.store.workstation import HistoryPosition, KeySighting, WorkstationStore
from workstation.home import home_owner
from workstation.shell_commands import PROVIDER_LABELS, keys_in, tools_in

HISTORY_FILES = (("bash", ".bash_history"), ("zsh", ".zsh_history"), ("zsh", ".zhistory"),
                 ("fish", ".local/share/fish/fish_history"))
ANCHOR_BYTES = 256
_BASH_TIME = re.compile(rb"^#(\d{9,11})$")
_ZSH_EXTENDED = re.compile(rb"^: (\d{9,11}):\d+;")
_ZSH_META = 0x83


@dataclass(frozen=True, slots=True)
class Entry:
    command: str
    ts: float | None


@dataclass(slots=True)
class ShellHistorySummary:
    device: str
    files_read: int = 0
    entries: int = 0
    runs: Counter[str] = field(default_factory=Counter)  # per tool, in this scan
    keys: list[KeySighting] = field(default_factory=list)


def scan_shell_history(user_home: Path, store: Store, now: datetime, *, salt: bytes,
                       device: str | None = None) -> ShellHistorySummary:
    """Count what the shells of `user_home` ran since the last scan, into the store; `salt`
    is the installation's key salt (offgate.fingerprint.load_salt)."""
    summary = ShellHistorySummary(device_name(device))
    user = home_owner(user_home)
    workstation = WorkstationStore(store)
    for shell, name in HISTORY_FILES:
        path = user_home / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        file_id = hashlib.sha256(f"{summary.device}\0{path}".encode()).hexdigest()
        known = workstation.history_position(file_id)
        start, only_after = _resume(data, known)
        end = _complete_end(data, shell)
        runs: Counter[tuple[date, str]] = Counter()
        keys: dict[str, KeySighting] = {}
        newest = known.last_entry_ts if known else None
        for entry in parse_entries(shell, data[start:end]):
            if entry.ts is not None and only_after is not None and entry.ts <= only_after:
                continue
            day = datetime.fromtimestamp(entry.ts, UTC).date() if entry.ts is not None else now.astimezone(UTC).date()
            for tool in tools_in(entry.command):
                runs[(day, tool)] += 1
                summary.runs[tool] += 1
            for key, provider in keys_in(entry.command).items():
                fingerprint = key_fingerprint(key, salt)
                seen = keys.get(fingerprint)
                label = PROVIDER_LABELS.get(provider or "", provider or "API")
                keys[fingerprint] = replace(seen, times=seen.times + 1) if seen else KeySighting(
                    provider, fingerprint, f"a raw {label} key was used in a shell on {summary.device}")
            newest = entry.ts if entry.ts is not None and (newest is None or entry.ts > newest) else newest
            summary.entries += 1
        position = HistoryPosition(end, anchor_before(data, end), newest)
        workstation.record_history(summary.device, user, shell, file_id, position, dict(runs), list(keys.values()),
                                   now)
        summary.keys += keys.values()
        summary.files_read += 1
    return summary


def anchor_before(data: bytes, offset: int) -> str:
    return hashlib.sha256(data[max(offset - ANCHOR_BYTES, 0):offset]).hexdigest()


def _resume(data: bytes, known: HistoryPosition | None) -> tuple[int, float | None]:
    """Where to read from, and (when the place was lost) the entry time to skip up to."""
    if known is None:
        return 0, None
    if known.offset <= len(data) and anchor_before(data, known.offset) == known.anchor:
        return known.offset, None
    # Rewritten: look for the bytes we stopped after, at each line's end, newest first.
    ends = [match.end() for match in re.finditer(rb"\n", data)]
    for offset in reversed(ends):
        if anchor_before(data, offset) == known.anchor:
            return offset, None
    return 0, known.last_entry_ts


def _complete_end(data: bytes, shell: str) -> int:
    """The end of the last complete entry: its line has ended (in zsh, is not continued; in
    bash, is not a time line waiting for its command)."""
    end = data.rfind(b"\n") + 1
    if shell == "bash":  # a time line whose command is not written yet
        line_start = data.rfind(b"\n", 0, end - 1) + 1
        if _BASH_TIME.match(data[line_start:end - 1]):
            end = line_start
    if shell == "zsh":
        while end > 1 and data[end - 2:end] == b"\\\n":
            end = data.rfind(b"\n", 0, end - 1) + 1
    return end


def parse_entries(shell: str, data: bytes) -> Iterator[Entry]:
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](data)


def _bash(data: bytes) -> Iterator[Entry]:
    ts = None
    for line in data.splitlines():
        stamp = _BASH_TIME.match(line)
        if stamp:
            ts = float(stamp[1])
            continue
        if line.strip():
            yield Entry(line.decode(errors="replace"), ts)
        ts = None


def _zsh(data: bytes) -> Iterator[Entry]:
    pending: list[bytes] = []
    for line in _unmetafy(data).split(b"\n"):
        pending.append(line)
        if line.endswith(b"\\"):
            continue
        text, pending = b"\n".join(pending), []
        extended = _ZSH_EXTENDED.match(text)
        command = text[extended.end():] if extended else text
        if command.strip():
            yield Entry(command.decode(errors="replace"), float(extended[1]) if extended else None)


def _unmetafy(data: bytes) -> bytes:
    """zsh writes bytes 0x83-0x9f and a few others as 0x83 followed by the byte XOR 0x20."""
    if _ZSH_META not in data:
        return data
    out, meta = bytearray(), False
    for byte in data:
        if meta:
            out.append(byte ^ 0x20)
            meta = False
        elif byte == _ZSH_META:
            meta = True
        else:
            out.append(byte)
    return bytes(out)


def _fish(data: bytes) -> Iterator[Entry]:
    command, ts = None, None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("- cmd: "):
            if command is not None:
                yield Entry(command, ts)
            command, ts = _fish_unescape(line[len("- cmd: "):]), None
        elif line.startswith("  when: ") and command is not None:
            try:
                ts = float(line[len("  when: "):])
            except ValueError:
                ts = None
    if command is not None:
        yield Entry(command, ts)


def _fish_unescape(text: str) -> str:
    """fish keeps a command on one line: "\\n" for a newline, "\\\\" for a backslash."""
    return re.sub(r"\\(.)", lambda match: "\n" if match[1] == "n" else match[1], text)
