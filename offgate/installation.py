"""Where offgate's rooms are imported from, and a clear stop when another package took a name.

The rooms are top-level import packages (interceptor, native_host, analytics, certs, fleet, workstation), as
they are top-level folders of the repository: their names are in users' files (LiteLLM's
config.yaml names `analytics.litellm_callback`, `mitmdump -s interceptor/addon.py`). A name
like `analytics` is also the import name of another package (Segment's analytics-python), so
offgate is installed as an application, in an environment of its own (`uv tool install`,
`pipx`, or `uv run` in a checkout), never beside other packages. If that advice is ignored,
the other package shadows a room or overwrites its files, and offgate would fail later with a
confusing ImportError; this module finds it first, without importing any room: each room's
`__init__.py` must sit beside offgate's own package and say `OFFGATE_ROOM = "<its name>"`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOMS = ("interceptor", "native_host", "analytics", "certs", "fleet", "workstation")
MARKER = "OFFGATE_ROOM = "


def foreign_rooms() -> list[str]:
    """One sentence per room that is missing or is not offgate's own."""
    own_root = Path(__file__).resolve().parent.parent
    problems = []
    for room in ROOMS:
        spec = importlib.util.find_spec(room)
        origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if origin is None or origin.name != "__init__.py":
            problems.append(f"offgate's {room!r} package is missing")
        elif origin.parent.parent != own_root:
            own = own_root / "offgate"
            problems.append(f"{room!r} is imported from {origin.parent}, not offgate's own beside {own}")
        elif f'{MARKER}"{room}"' not in origin.read_text(encoding="utf-8", errors="replace"):
            problems.append(f"{origin} is not offgate's {room!r}: another package wrote over it")
    return problems


def installation_problem() -> str | None:
    """What is wrong with this installation, in one message; None when every room is offgate's."""
    problems = foreign_rooms()
    if not problems:
        return None
    return ("another package takes the name of an offgate room: " + "; ".join(problems)
            + ". Install offgate in an environment of its own: `uv tool install offgate` or `pipx install offgate`")
