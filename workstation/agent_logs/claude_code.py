"""Claude Code's session logs: <config dir>/projects/<project>/<session>.jsonl, and its
subagents' under <project>/<session>/subagents/ (all read).

Config dirs, as ccusage finds them (rust/crates/ccusage/src/adapter/claude/paths.rs,
`claude_paths`): `CLAUDE_CONFIG_DIR` (comma-separated) when set, else
`$XDG_CONFIG_HOME/claude` (default ~/.config/claude) and ~/.claude. An assistant line
carries `message.usage` (input, output, cache creation and cache read tokens), `message.id`
(the API's message id: the response id the proxy reads) and `requestId`. Claude Code writes
one line per content block of a reply, each with the message's usage, so a message and
request id pair is one call; of its lines the one with the most tokens counts (ccusage's
`push_deduped_daily_entry` in adapter/claude/daily.rs). A subagent's progress, replayed in
the parent's log under `data.message`, carries the same ids and counts once too.

Nothing else is read: no message text, and the project (a folder named after a path under
the home) is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from workstation.agent_logs.calls import AgentCall, AgentSetup
from workstation.agent_logs.files import json_line

AGENT = "claude-code"
SYNTHETIC_MODEL = "<synthetic>"  # Claude Code's own placeholder replies: no API call
USAGE_MARKER = b'"usage"'
# A line with one of these null is malformed to ccusage, which skips it (adapter/claude/mod.rs,
# `is_unsupported_nullable_field`): so does offgate, to count the same calls.
NOT_NULLABLE = frozenset({"id", "cwd", "model", "speed", "costUSD", "version", "sessionId", "requestId",
                          "isApiErrorMessage", "cache_read_input_tokens", "cache_creation_input_tokens"})


def config_dirs(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    if env.get("CLAUDE_CONFIG_DIR"):
        dirs = [Path(part.strip()).expanduser() for part in env["CLAUDE_CONFIG_DIR"].split(",") if part.strip()]
        return [d.parent if d.name == "projects" else d for d in dirs]
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else user_home / ".config"
    return [xdg / "claude", user_home / ".claude"]


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    seen: dict[Path, None] = {}
    for directory in config_dirs(user_home, env):
        for path in sorted((directory / "projects").rglob("*.jsonl")):
            seen.setdefault(path, None)
    return list(seen)


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    """Where Claude Code sends calls (ANTHROPIC_BASE_URL, in the environment or the `env` of
    its settings.json) and whether it is signed in with a Claude plan (~/.claude.json has an
    `oauthAccount`; no credential is read)."""
    base_url = env.get("ANTHROPIC_BASE_URL")
    for directory in config_dirs(user_home, env):
        settings = _json_file(directory / "settings.json")
        settings_env = settings.get("env")
        if not base_url and isinstance(settings_env, dict):
            value = settings_env.get("ANTHROPIC_BASE_URL")  # type: ignore[union-attr]
            base_url = value if isinstance(value, str) else None
    account = _json_file(user_home / ".claude.json")
    return AgentSetup(AGENT, "anthropic", "https://api.anthropic.com", "/v1/messages", base_url or None,
                      subscription=bool(account.get("oauthAccount")))


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    """The calls in these lines, one per message and request id (the line with the most tokens)."""
    del state  # each line stands alone
    calls: dict[str, AgentCall] = {}
    for line in lines:
        if USAGE_MARKER not in line:
            continue
        call = _call_from(line)
        if call is None:
            continue
        known = calls.get(call.key)
        if known is None or _total(call) > _total(known):
            calls[call.key] = call
    yield from calls.values()


def _call_from(line: bytes) -> AgentCall | None:
    entry = json_line(line)
    if not isinstance(entry, dict):
        return None
    data = entry.get("data")
    if "message" not in entry and isinstance(data, dict) and isinstance(data.get("message"), dict):
        entry = data["message"]  # a subagent's progress, replayed in its parent's log
    message = entry.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("usage"), dict):
        return None
    usage: dict[str, Any] = message["usage"]
    model = message.get("model")
    if not isinstance(model, str) or not model or model == SYNTHETIC_MODEL or _has_null(entry, message, usage):
        return None
    try:
        ts = datetime.fromisoformat(str(entry["timestamp"]).replace("Z", "+00:00"))
        counts = [_count(usage, name) for name in ("input_tokens", "output_tokens", "cache_read_input_tokens")]
        counts.append(_cache_write(usage))
    except (KeyError, ValueError):
        return None
    if not any(counts):
        return None
    message_id = message.get("id") if isinstance(message.get("id"), str) else None
    request_id = entry.get("requestId") if isinstance(entry.get("requestId"), str) else None
    key = (f"{message_id}\0{request_id or ''}" if message_id
           else f"{entry.get('sessionId')}\0{entry['timestamp']}\0{counts}")
    return AgentCall(key, ts, model, counts[0], counts[1], counts[2], counts[3], response_id=message_id)


def _count(usage: dict[str, Any], name: str) -> int:
    value = usage.get(name) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(name)
    return value


def _cache_write(usage: dict[str, Any]) -> int:
    """Cache writes: the 5-minute and 1-hour parts when given, as ccusage counts them."""
    parts = usage.get("cache_creation")
    if isinstance(parts, dict):
        return _count(parts, "ephemeral_5m_input_tokens") + _count(parts, "ephemeral_1h_input_tokens")  # type: ignore[arg-type]
    return _count(usage, "cache_creation_input_tokens")


def _has_null(*parts: dict[str, Any]) -> bool:
    # `None in values()` first: most parts hold no null at all, and that test runs in C.
    return any(None in part.values() and not NOT_NULLABLE.isdisjoint(name for name, value in part.items()
                                                                      if value is None) for part in parts)


def _total(call: AgentCall) -> int:
    return call.input_tokens + call.output_tokens + call.cache_read_tokens + call.cache_write_tokens


def _json_file(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
