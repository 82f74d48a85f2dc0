"""Codex CLI's session logs: $CODEX_HOME (default ~/.codex)/sessions/**/*.jsonl and
archived_sessions/ (ccusage's adapter/codex/paths.rs, `codex_usage_sources_from_homes`).

A `turn_context` line names the model of the turns that follow; an `event_msg` line whose
payload is `token_count` carries `info.last_token_usage` (this turn) and
`info.total_token_usage` (the session so far). A turn's usage is `last_token_usage`, else the
difference of the running totals, as ccusage reads it (adapter/codex/parser.rs,
`visit_codex_session_entry`); turns without a model are gpt-5's, as ccusage assumes. Codex's
`input_tokens` include the cached ones, and `output_tokens` the reasoning ones. A turn's key
is its time, model and counts (ccusage's `dedupe_codex_events` in adapter/codex/loader.rs),
so a session copied to archived_sessions counts once.

Where a file's read stopped, its running totals and model are kept with its position, so
an appended turn's difference is taken from the right totals.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from workstation.agent_logs.calls import AgentCall, AgentSetup
from workstation.agent_logs.files import json_line

AGENT = "codex"
FALLBACK_MODEL = "gpt-5"
USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")


def codex_home(user_home: Path, env: Mapping[str, str]) -> Path:
    return Path(env["CODEX_HOME"]).expanduser() if env.get("CODEX_HOME") else user_home / ".codex"


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    home = codex_home(user_home, env)
    return [path for folder in ("sessions", "archived_sessions") for path in sorted((home / folder).rglob("*.jsonl"))]


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    """Where Codex sends calls (the chosen `model_provider`'s `base_url` in config.toml, or
    OPENAI_BASE_URL) and whether it signed in with a ChatGPT plan (auth.json's `auth_mode`;
    nothing else of that file is read)."""
    home = codex_home(user_home, env)
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    base_url = env.get("OPENAI_BASE_URL")
    providers = config.get("model_providers")
    chosen = config.get("model_provider")
    if isinstance(providers, dict) and isinstance(chosen, str) and isinstance(providers.get(chosen), dict):
        value = providers[chosen].get("base_url")
        base_url = value if isinstance(value, str) else base_url
    try:
        auth = json.loads((home / "auth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        auth = {}
    subscription = isinstance(auth, dict) and auth.get("auth_mode") == "chatgpt"
    default = "https://chatgpt.com/backend-api/codex" if subscription else "https://api.openai.com/v1"
    return AgentSetup(AGENT, "openai", default, "/responses", base_url or None, subscription=subscription)


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    """The turns in these lines; `state` carries the model and running totals between reads."""
    for line in lines:
        if b"turn_context" not in line and b"token_count" not in line:
            continue
        entry = json_line(line)
        if not isinstance(entry, dict) or not isinstance(payload := entry.get("payload"), dict):
            continue
        if entry.get("type") == "turn_context":
            if isinstance(payload.get("model"), str) and payload["model"]:
                state["model"] = payload["model"]
            continue
        if entry.get("type") != "event_msg" or payload.get("type") != "token_count":
            continue
        call = _turn(entry, payload, state)
        if call is not None:
            yield call


def _turn(entry: dict[str, Any], payload: dict[str, Any], state: dict[str, Any]) -> AgentCall | None:
    info = payload.get("info")
    if not isinstance(info, dict):
        return None
    totals = _usage(info.get("total_token_usage"))
    last = _usage(info.get("last_token_usage"))
    if last is None and totals is not None:
        previous = state.get("totals") or dict.fromkeys(USAGE_FIELDS, 0)
        last = {name: max(totals[name] - previous.get(name, 0), 0) for name in USAGE_FIELDS}
    if totals is not None:
        state["totals"] = totals
    if last is None or not any(last[name] for name in USAGE_FIELDS[:4]):
        return None
    model = payload.get("model") or info.get("model") or state.get("model") or FALLBACK_MODEL
    try:
        ts = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    cached = min(last["cached_input_tokens"], last["input_tokens"])
    key = "\0".join(map(str, (entry["timestamp"], model, *(last[name] for name in USAGE_FIELDS))))
    return AgentCall(key, ts, str(model), last["input_tokens"] - cached, last["output_tokens"],
                     cache_read_tokens=cached, reasoning_tokens=last["reasoning_output_tokens"])


def _usage(value: object) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    counts = {name: value.get(name) or 0 for name in USAGE_FIELDS}
    if not all(isinstance(count, int) and not isinstance(count, bool) and count >= 0 for count in counts.values()):
        return None
    return counts
