"""Goose's sessions: `GOOSE_PATH_ROOT`/data/sessions/sessions.db when set, else
sessions/sessions.db under ~/.local/share/goose, ~/Library/Application Support/goose or
~/.local/share/Block/goose (ccusage's adapter/goose/paths.rs).

Goose keeps no per-call usage: its `sessions` table has a session's running totals
(`accumulated_input_tokens`, `accumulated_output_tokens`, `accumulated_total_tokens`, else
the last turn's `input_tokens`, ...), its model (`model_config_json`'s `model_name`), its
provider (`provider_name`) and when it began (`created_at`). As ccusage does
(adapter/goose/parser.rs, `row_to_entry`), a session is one record at its start, its tokens
growing as the session goes on (a record's counts only grow: offgate.store.agent_logs);
`total` beyond input and output is reasoning, in the output as offgate counts it. Goose
does not say how much of the input was cached.

Nothing else is read: not the messages, nor the session's name or working directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offgate.store.agent_logs import FilePosition
from workstation.agent_logs.calls import AgentCall, AgentSetup, token_count
from workstation.agent_logs.files import NewLines, read_database_rows

AGENT = "goose"
QUERY = ("SELECT id, model_config_json, provider_name, created_at, total_tokens, input_tokens, output_tokens, "
         "accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens "
         "FROM sessions WHERE model_config_json IS NOT NULL")
# Goose's provider names that offgate's catalog knows otherwise.
PROVIDERS = {"google": "gemini", "gcp_vertex_ai": "vertex", "aws_bedrock": "bedrock", "azure_openai": "azure"}


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    if env.get("GOOSE_PATH_ROOT", "").strip():
        candidates = [Path(env["GOOSE_PATH_ROOT"].strip()) / "data" / "sessions" / "sessions.db"]
    else:
        candidates = [user_home / base / "sessions" / "sessions.db" for base in (
            ".local/share/goose", "Library/Application Support/goose", ".local/share/Block/goose")]
    return list(dict.fromkeys(path.resolve() for path in candidates if path.is_file()))


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    # Each session names its provider; this is the fallback for one offgate's catalog does not know.
    return AgentSetup(AGENT, "goose", "", "")


def read_file(path: Path, known: FilePosition | None) -> NewLines | None:
    return read_database_rows(path, known, QUERY)


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        call = _session(row) if isinstance(row, list) and len(row) == 10 else None
        if call is not None:
            yield call


def _session(row: list[Any]) -> AgentCall | None:
    session_id, model_config, provider, created_at, *counts = row
    total, uncached, output, total_so_far, input_so_far, output_so_far = (_tokens(value) for value in counts)
    uncached, output = input_so_far or uncached, output_so_far or output
    total = total_so_far or total or uncached + output
    reasoning = max(total - uncached - output, 0)
    model = _model(model_config)
    ts = _timestamp(created_at)
    if not isinstance(session_id, str) or model is None or ts is None or not (uncached or output or total):
        return None
    provider = provider.strip() if isinstance(provider, str) and provider.strip() else None
    return AgentCall(session_id, ts, model, uncached, output + reasoning, reasoning_tokens=reasoning,
                     provider=PROVIDERS.get(provider, provider) if provider else None)


def _model(model_config: object) -> str | None:
    try:
        config = json.loads(model_config) if isinstance(model_config, str) else None
    except ValueError:
        return None
    name = config.get("model_name") if isinstance(config, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _timestamp(value: object) -> datetime | None:
    """Seconds or milliseconds since the epoch, or an ISO time (SQLite's own, UTC, without a zone)."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    if text.isdigit():
        number = int(text)
        return datetime.fromtimestamp(number / 1000 if number > 1_000_000_000_000 else number, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _tokens(value: object) -> int:
    return token_count(value) or 0
