"""<home>/system-proxy.json: the settings as they were before `on`, so `off` can put them
back exactly. Written before anything is changed; removed once `off` has restored them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from offgate.system_proxy.base import BadInput, SystemProxyError

STATE_FILE = "system-proxy.json"


@dataclass(frozen=True, slots=True)
class SavedState:
    desktop: str
    mode: str
    saved_at: datetime
    previous: dict[str, str | None]  # what `off` restores
    applied: dict[str, str | None]  # what `on` set, to tell whether someone changed it since


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def load_state(home: Path) -> SavedState | None:
    """The saved state, None when offgate has not set the proxy; BadInput when the file is
    unreadable (nothing is changed then: the previous values may be in it)."""
    path = state_path(home)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SystemProxyError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BadInput(f"{path} is not valid JSON ({exc}): fix or remove it; it holds the proxy settings "
                       "from before `offgate system-proxy on`") from None
    try:
        return SavedState(
            desktop=_text(document["desktop"]),
            mode=_text(document["mode"]),
            saved_at=datetime.fromisoformat(document["saved_at"]).astimezone(UTC),
            previous=_values(document["previous"]),
            applied=_values(document["applied"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{path} is not a saved system-proxy state ({type(exc).__name__}: {exc}): fix or remove "
                       "it; it holds the proxy settings from before `offgate system-proxy on`") from None


def save_state(home: Path, state: SavedState) -> None:
    """Write the state whole or not at all (a crash never leaves half a file)."""
    document = {
        "desktop": state.desktop,
        "mode": state.mode,
        "saved_at": state.saved_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "previous": state.previous,
        "applied": state.applied,
    }
    path = state_path(home)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise SystemProxyError(f"cannot write {exc.filename}: {exc.strerror}") from None


def remove_state(home: Path) -> None:
    state_path(home).unlink(missing_ok=True)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _values(value: object) -> dict[str, str | None]:
    if not isinstance(value, dict) or not all(
            isinstance(key, str) and (item is None or isinstance(item, str)) for key, item in value.items()):
        raise TypeError("expected an object of settings, each text or null")
    return dict(value)
