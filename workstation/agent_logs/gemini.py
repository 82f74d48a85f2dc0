"""Gemini CLI's chat recordings: `GEMINI_DATA_DIR` (comma-separated) when set, else
~/.gemini/tmp; every *.json and *.jsonl under it (ccusage's adapter/gemini/paths.rs).

Gemini CLI rewrites one whole JSON file per session (`<project hash>/chats/session-*.json`:
`sessionId`, `startTime`, `messages`), so a .json file is read whole each time it changes;
newer versions append JSON lines (a session line, then one line per message, a message's
line repeated with its tokens once known), read line by line. A `gemini` message's `tokens`
(`input`, `output`, `cached`, `thoughts`, `tool`, `total`) are one call, read as ccusage
reads them (adapter/gemini/parser.rs, `parse_direct_event`, `build_event`,
`normalize_session_input`): the input includes the cached tokens only when `total` says so
(then they are taken out), tool-use prompt tokens count as input, and the tokens `total`
has beyond the parts are output when there is none, else reasoning. Reasoning (`thoughts`)
is in the output, as offgate counts it. A message's key is its session and id (its time
and counts without an id), so a rewritten file counts each message once.

Nothing else is read: no message text; the project hash and file names are dropped.
Not read (yet): the `stats` summaries of `gemini -o json` runs saved under the folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from offgate.store.agent_logs import FilePosition
from workstation.agent_logs.calls import AgentCall, AgentSetup, token_count
from workstation.agent_logs.files import NewLines, data_dirs_from, read_new_lines, read_whole_file

AGENT = "gemini-cli"
TOKEN_FIELDS = {
    "input": ("input", "prompt", "input_tokens", "prompt_tokens"),
    "output": ("output", "candidates", "output_tokens", "candidates_tokens"),
    "cached": ("cached", "cached_tokens"),
    "thoughts": ("thoughts", "reasoning", "thoughts_tokens", "reasoning_tokens"),
    "tool": ("tool", "tool_tokens"),
}


def data_dirs(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    return data_dirs_from(env, "GEMINI_DATA_DIR", user_home / ".gemini" / "tmp")


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    return sorted({path for folder in data_dirs(user_home, env) for pattern in ("*.json", "*.jsonl")
                   for path in folder.rglob(pattern) if path.is_file()})


def read_file(path: Path, known: FilePosition | None) -> NewLines | None:
    return (read_whole_file if path.suffix == ".json" else read_new_lines)(path, known)


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    """Where Gemini CLI sends calls (GOOGLE_GEMINI_BASE_URL) and whether it signed in with a
    Google account (settings.json's auth type `oauth-personal`: Code Assist's plan, not an
    API key; nothing else of that file is read)."""
    if selected_auth_type(user_home / ".gemini" / "settings.json") == "oauth-personal":
        return AgentSetup(AGENT, "gemini", "https://cloudcode-pa.googleapis.com", "/v1internal",
                          env.get("CODE_ASSIST_ENDPOINT") or None, subscription=True)
    return AgentSetup(AGENT, "gemini", "https://generativelanguage.googleapis.com", "/v1beta/models",
                      env.get("GOOGLE_GEMINI_BASE_URL") or None)



def selected_auth_type(settings_path: Path) -> str | None:
    """The auth type a Gemini CLI settings.json (or its fork Qwen Code's) selects; nothing else of it is read."""
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(settings, dict):
        return None
    security = settings.get("security")
    auth = security.get("auth") if isinstance(security, dict) else None
    return (auth.get("selectedType") if isinstance(auth, dict) else None) or settings.get("selectedAuthType")

def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    """The calls in a whole .json session (one "line") or in appended .jsonl lines; `state`
    carries a .jsonl file's session id and current model between reads."""
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a JSON file caught mid-rewrite is read again when it changes
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("messages"), list):  # a whole session file
            session = _text(record, "sessionId") or _text(record, "session_id") or ""
            started = _timestamp(record, "startTime") or _timestamp(record, "lastUpdated")
            for message in record["messages"]:
                if isinstance(message, dict) and message.get("type") == "gemini":
                    call = _call(message, session, None, started)
                    if call is not None:
                        yield call
            continue
        if session := _text(record, "sessionId") or _text(record, "session_id"):
            state["session"] = session
        if model := _text(record, "model"):
            state["model"] = model
        if record.get("type") == "gemini":
            call = _call(record, state.get("session", ""), state.get("model"), None)
            if call is not None:
                yield call


def _call(message: dict[str, Any], session: str, model_hint: str | None,
          fallback_ts: datetime | None) -> AgentCall | None:
    tokens = message.get("tokens")
    model = _text(message, "model") or model_hint
    ts = _timestamp(message, "timestamp") or _timestamp(message, "created_at") or fallback_ts
    if not isinstance(tokens, dict) or not model or ts is None:
        return None
    counts = {name: next((value for key in keys if (value := token_count(tokens.get(key))) is not None), 0)
              for name, keys in TOKEN_FIELDS.items()}
    total = token_count(tokens.get("total"))
    if total is None:
        total = token_count(tokens.get("total_tokens"))
    uncached, cached = counts["input"], counts["cached"]
    parts = uncached + counts["output"] + counts["thoughts"] + counts["tool"]
    if cached and total == parts and total != parts + cached:  # `input` included the cached tokens
        uncached -= min(uncached, cached)
    uncached += counts["tool"]
    output, reasoning = counts["output"], counts["thoughts"]
    output, reasoning = with_rest_of_total(total or 0, uncached, output, cached, reasoning)
    if not (uncached or output or cached or reasoning):
        return None
    message_id = _text(message, "id")
    key = "\0".join(map(str, (session, message_id) if message_id else
                        (session, ts.isoformat(), model, uncached, output, cached, reasoning)))
    return AgentCall(key, ts, model, uncached, output + reasoning, cache_read_tokens=cached,
                     reasoning_tokens=reasoning)



def with_rest_of_total(total: int, uncached: int, output: int, cached: int, reasoning: int) -> tuple[int, int]:
    """(output, reasoning) with what usageMetadata's total counts beyond its parts: the output when
    there is none, else reasoning (Gemini CLI's and Qwen Code's logs alike)."""
    missing = max(total - (uncached + output + cached + reasoning), 0)
    return (missing, reasoning) if missing and not output else (output, reasoning + missing)

def _text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _timestamp(record: dict[str, Any], key: str) -> datetime | None:
    value = _text(record, key)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
