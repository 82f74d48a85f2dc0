"""Qwen Code's chat logs: `QWEN_DATA_DIR` (comma-separated) when set, else ~/.qwen; the
files projects/<project>/chats/<session>.jsonl, appended to (ccusage's adapter/qwen/paths.rs).

An `assistant` line's `usageMetadata` (Gemini's, which Qwen Code keeps whatever the provider:
`promptTokenCount`, `candidatesTokenCount`, `thoughtsTokenCount`, `cachedContentTokenCount`,
`totalTokenCount`) is one call on its `model`, keyed by its `uuid`. The prompt count includes
the cached tokens (Gemini's API says so, and Qwen Code's converters build it so from OpenAI's
and Anthropic's usage), so offgate takes them out of the uncached input; ccusage
(adapter/qwen/parser.rs, `parse_line`) does not, and counts them twice. `total` beyond the
parts is output when there is none, else reasoning (in the output, as offgate counts it).

Nothing else is read: no message text, no project name or working directory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from workstation.agent_logs.calls import AgentCall, AgentSetup, token_count
from workstation.agent_logs.files import data_dirs_from, json_line
from workstation.agent_logs.gemini import selected_auth_type, with_rest_of_total

AGENT = "qwen-code"
USAGE_MARKER = b'"usageMetadata"'


def data_dirs(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    return data_dirs_from(env, "QWEN_DATA_DIR", user_home / ".qwen")


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    folders = data_dirs(user_home, env)
    return [path for folder in folders for path in sorted((folder / "projects").glob("*/chats/*.jsonl"))]


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    """Where Qwen Code sends calls (OPENAI_BASE_URL, as it reads it) and whether it signed in
    with a Qwen account (settings.json's auth type `qwen-oauth`: a plan, not an API key;
    nothing else of that file is read)."""
    if selected_auth_type(user_home / ".qwen" / "settings.json") == "qwen-oauth":
        return AgentSetup(AGENT, "dashscope", "https://portal.qwen.ai/v1", "/chat/completions", subscription=True)
    return AgentSetup(AGENT, "dashscope", "https://dashscope.aliyuncs.com/compatible-mode/v1", "/chat/completions",
                      env.get("OPENAI_BASE_URL") or None)


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    for line in lines:
        if USAGE_MARKER not in line:
            continue
        record = json_line(line)
        if isinstance(record, dict) and record.get("type") == "assistant":
            call = _call(record)
            if call is not None:
                yield call


def _call(record: dict[str, Any]) -> AgentCall | None:
    usage, model, timestamp = record.get("usageMetadata"), record.get("model"), record.get("timestamp")
    if not isinstance(usage, dict) or not isinstance(timestamp, str):
        return None
    try:
        ts = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    prompt, output, reasoning, cached, total = (token_count(usage.get(name)) or 0 for name in (
        "promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount", "totalTokenCount"))
    cached = min(cached, prompt) if prompt else cached
    uncached = prompt - cached if prompt else 0
    output, reasoning = with_rest_of_total(total, uncached, output, cached, reasoning)
    if not (uncached or output or cached or reasoning):
        return None
    model = model if isinstance(model, str) and model.strip() else "unknown"
    key = record.get("uuid")
    key = key if isinstance(key, str) and key else "\0".join(map(str, (
        record.get("sessionId"), timestamp, model, uncached, output, cached, reasoning)))
    return AgentCall(key, ts, model, uncached, output + reasoning, cache_read_tokens=cached,
                     reasoning_tokens=reasoning)
