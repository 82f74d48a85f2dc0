"""OpenCode's messages: `OPENCODE_DATA_DIR` (comma-separated) when set, else
~/.local/share/opencode (ccusage's adapter/opencode/paths.rs). Its SQLite database
(opencode.db, else the first opencode-<channel>.db) holds them in `message` (`id`,
`session_id`, `data`: the message as JSON); older versions wrote one JSON file per message
under storage/message/<session>/ (both read, as ccusage's adapter/opencode/loader.rs does; a
message in both counts once, by its id).

An assistant message's `tokens` ({`input`, `output`, `reasoning`, `cache`: {`read`,
`write`}, `total`}) are one call on `modelID` of `providerID` (OpenCode calls several
providers), at `time.created` (ms). ccusage (adapter/opencode/parser.rs,
`message_value_to_entry`) leaves `reasoning` out unless `total` includes it; offgate counts
it in the output, as for every agent. The database is read again whole when it or its
write-ahead log changed; a message file when it changed.

Nothing else is read: no message text (the `part` table, storage/part/), no paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offgate.store.agent_logs import FilePosition
from workstation.agent_logs.calls import AgentCall, AgentSetup, token_count
from workstation.agent_logs.files import NewLines, data_dirs_from, read_database_rows, read_whole_file

AGENT = "opencode"
# OpenCode's provider ids (models.dev's) that name a provider offgate's catalog knows otherwise.
PROVIDERS = {"google": "gemini", "google-vertex": "vertex", "amazon-bedrock": "bedrock", "azure": "azure",
             "togetherai": "together", "fireworks-ai": "fireworks"}


def data_dirs(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    return data_dirs_from(env, "OPENCODE_DATA_DIR", user_home / ".local" / "share" / "opencode")


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    files: list[Path] = []
    for folder in data_dirs(user_home, env):
        databases = [folder / "opencode.db"] if (folder / "opencode.db").is_file() else sorted(
            path for path in folder.glob("opencode-*.db") if path.is_file())
        files += databases[:1]
        files += sorted((folder / "storage" / "message").rglob("*.json"))
    return files


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    """Each call names its provider; the base URLs the user set per provider come from the
    global config's `provider.<id>.options.baseURL` (nothing else of it is read)."""
    config_dir = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else user_home / ".config"
    base_urls: dict[str, str] = {}
    for name in ("config.json", "opencode.json", "opencode.jsonc"):  # later files override, as OpenCode merges them
        try:
            config = json.loads((config_dir / "opencode" / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # absent, or JSONC with comments: not read
        providers = config.get("provider") if isinstance(config, dict) else None
        for provider_id, provider in (providers.items() if isinstance(providers, dict) else ()):
            options = provider.get("options") if isinstance(provider, dict) else None
            base_url = options.get("baseURL") if isinstance(options, dict) else None
            if isinstance(base_url, str) and base_url:
                base_urls[PROVIDERS.get(str(provider_id)) or str(provider_id)] = base_url
    return AgentSetup(AGENT, "opencode", "https://opencode.ai", "", provider_base_urls=base_urls)


def read_file(path: Path, known: FilePosition | None) -> NewLines | None:
    if path.suffix == ".db":
        return read_database_rows(path, known, "SELECT id, session_id, data FROM message WHERE data LIKE '%tokens%'")
    return read_whole_file(path, known)


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    """The calls in message files (a JSON object each) or database rows ([id, session id, data])."""
    for line in lines:
        try:
            message = json.loads(line)
            if isinstance(message, list) and len(message) == 3:
                message_id, session_id, data = message
                message = {**json.loads(data), "id": message_id, "sessionID": session_id}
        except (TypeError, ValueError):
            continue
        call = _call(message) if isinstance(message, dict) else None
        if call is not None:
            yield call


def _call(message: dict[str, Any]) -> AgentCall | None:
    tokens, model, provider = message.get("tokens"), message.get("modelID"), message.get("providerID")
    if not isinstance(tokens, dict) or not isinstance(model, str) or not model or not isinstance(provider, str) \
            or not provider:
        return None
    message_id = message.get("id")
    cache = tokens.get("cache")
    cache = cache if isinstance(cache, dict) else {}
    uncached, output, reasoning = (_tokens(tokens.get(name)) for name in ("input", "output", "reasoning"))
    read, written = _tokens(cache.get("read")), _tokens(cache.get("write"))
    # `total` beyond the parts ccusage reads is output when there is none, else reasoning (as ccusage's fallback).
    missing = max(_tokens(tokens.get("total")) - (uncached + output + read + written), 0)
    if missing and not output:
        output, reasoning = missing, 0
    else:
        reasoning = max(reasoning, missing)
    if not (uncached or output or read or written or reasoning):
        return None
    time = message.get("time")
    created = time.get("created") if isinstance(time, dict) else None
    if not isinstance(created, int | float) or isinstance(created, bool):
        return None
    ts = datetime.fromtimestamp(created / 1000, UTC)
    key = str(message_id) if isinstance(message_id, str) and message_id else \
        "\0".join(map(str, (message.get("sessionID"), created, model, uncached, output, read, written)))
    return AgentCall(key, ts, model, uncached, output + reasoning, cache_read_tokens=read,
                     cache_write_tokens=written, reasoning_tokens=reasoning,
                     provider=PROVIDERS.get(provider, provider))


def _tokens(value: object) -> int:
    return token_count(value) or 0
