"""Running AI apps, agents and language servers, from the process table (psutil).

A process is named by what the catalog's signatures know: its name, its executable's name,
or, for a script run by an interpreter (Claude Code and Gemini CLI are node scripts, aider a
Python one), the script's name. Only the app's name, the pid, start time, CPU seconds and
resident memory leave this module: never a command line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePath

import psutil

from offgate.catalog.app_signatures import AppSignature, app_for_process
from offgate.store.workstation import ProcessSample

INTERPRETERS = frozenset({"node", "nodejs", "bun", "deno", "python", "python3", "uv", "npx", "env"})


def running_apps(user: str | None = None,
                 processes: Iterable[psutil.Process] | None = None) -> list[tuple[AppSignature, ProcessSample]]:
    """Each running process of a known app (`user`'s only, when given) with its sample;
    processes that end or refuse to be read while we look are passed over."""
    found = []
    attributes = ["name", "cmdline", "create_time", "cpu_times", "memory_info", "username"]
    for process in processes if processes is not None else psutil.process_iter(attributes):
        info = process.info if hasattr(process, "info") else process.as_dict(attributes)
        if user is not None and info.get("username") != user:
            continue
        app = next((a for a in map(app_for_process, _names(info)) if a is not None), None)
        cpu, memory = info.get("cpu_times"), info.get("memory_info")
        if app is None or cpu is None or memory is None:
            continue
        found.append((app, ProcessSample(app.name, process.pid, float(info.get("create_time") or 0.0),
                                         float(cpu.user + cpu.system), int(memory.rss))))
    return found


def _names(info: dict[str, object]) -> Iterator[str]:
    name = info.get("name")
    if isinstance(name, str):
        yield name
    argv = info.get("cmdline")
    if not isinstance(argv, list) or not argv:
        return
    words = [word for word in argv if isinstance(word, str)]
    if not words:
        return
    program = PurePath(words[0]).name
    yield program
    if program.removesuffix(".exe").rstrip("0123456789.") in INTERPRETERS:
        script = next((word for word in words[1:] if not word.startswith("-")), None)
        if script:
            yield PurePath(script).name
