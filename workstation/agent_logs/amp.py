"""Amp's threads: `AMP_DATA_DIR` (comma-separated) when set, else ~/.local/share/amp; one JSON
file per thread under threads/, rewritten whole as the thread goes on (ccusage's
adapter/amp/paths.rs and loader.rs), so each is read whole when it changed.

A thread (`id`) with a `usageLedger.events` list has one call per event (`id`, `timestamp`,
`model`, `tokens` {`input`, `output`, `total`}), its cache tokens those of the assistant
message it led to (`toMessageId` -> `messages[].messageId`'s `usage`
`cacheCreationInputTokens` and `cacheReadInputTokens`); without a ledger, each assistant
message's `usage` (`inputTokens`, `outputTokens`, the cache tokens, `totalTokens`, `model`,
`timestamp`) is one call. Read as ccusage reads them (adapter/amp/parser.rs): `total` beyond
the parts is output when there is none, else reasoning (in the output, as offgate counts it).
Amp sends calls through its own service (ampcode.com), paid in Amp's credits; the cost is the
model's API price.

Nothing else is read: no message text, no thread title.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from workstation.agent_logs.calls import AgentCall, AgentSetup, token_count
from workstation.agent_logs.files import data_dirs_from, read_whole_file

AGENT = "amp"
read_file = read_whole_file


def data_dirs(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    return data_dirs_from(env, "AMP_DATA_DIR", user_home / ".local" / "share" / "amp")


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    return [path for folder in data_dirs(user_home, env) for path in sorted((folder / "threads").rglob("*.json"))]


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    return AgentSetup(AGENT, "amp", "https://ampcode.com", "", env.get("AMP_URL") or None)


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    for line in lines:
        try:
            thread = json.loads(line)
        except ValueError:
            continue  # caught mid-rewrite: read again when it changes
        thread_id = thread.get("id") if isinstance(thread, dict) else None
        if not isinstance(thread_id, str) or not thread_id:
            continue
        messages = [message for message in thread.get("messages") or [] if isinstance(message, dict)
                    and message.get("role") == "assistant"] if isinstance(thread.get("messages"), list) else []
        ledger = thread.get("usageLedger")
        events = ledger.get("events") if isinstance(ledger, dict) else None
        if isinstance(events, list):
            yield from _ledger_calls(thread_id, [event for event in events if isinstance(event, dict)], messages)
        else:
            yield from _message_calls(thread_id, messages)


def _ledger_calls(thread_id: str, events: list[dict[str, Any]], messages: list[dict[str, Any]]) -> Iterator[AgentCall]:
    cache = {message["messageId"]: _usage(message) for message in messages
             if isinstance(message.get("messageId"), int) and not isinstance(message.get("messageId"), bool)}
    for event in events:
        tokens = event.get("tokens")
        if not isinstance(tokens, dict):
            continue
        led_to = cache.get(event.get("toMessageId"), {})
        written, read = led_to.get("write", 0), led_to.get("read", 0)
        key = event.get("id") if isinstance(event.get("id"), str) and event.get("id") else event.get("timestamp")
        call = _call(f"{thread_id}\0{key}", event.get("timestamp"), event.get("model"), _tokens(tokens.get("input")),
                     _tokens(tokens.get("output")), written, read, _tokens(tokens.get("total")))
        if call is not None:
            yield call


def _message_calls(thread_id: str, messages: list[dict[str, Any]]) -> Iterator[AgentCall]:
    for message in messages:
        usage = message.get("usage")
        if not isinstance(usage, dict):
            continue
        counts = _usage(message)
        call = _call(f"{thread_id}\0{message.get('messageId')}", usage.get("timestamp") or message.get("timestamp"),
                     usage.get("model") or message.get("model"), counts["input"], counts["output"], counts["write"],
                     counts["read"], counts["total"])
        if call is not None:
            yield call


def _usage(message: dict[str, Any]) -> dict[str, int]:
    usage = message.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return {"input": _tokens(usage.get("inputTokens")), "output": _tokens(usage.get("outputTokens")),
            "write": _tokens(usage.get("cacheCreationInputTokens")), "read": _tokens(usage.get("cacheReadInputTokens")),
            "total": _tokens(usage.get("totalTokens"))}


def _call(key: str, timestamp: object, model: object, uncached: int, output: int, written: int, read: int,
          total: int) -> AgentCall | None:
    if not isinstance(model, str) or not model or not isinstance(timestamp, str):
        return None
    try:
        ts = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    missing = max(total - (uncached + output + written + read), 0)
    reasoning = 0
    if missing and not output:
        output = missing
    else:
        reasoning = missing
    if not (uncached or output or written or read or reasoning):
        return None
    return AgentCall(key, ts, model, uncached, output + reasoning, cache_read_tokens=read, cache_write_tokens=written,
                     reasoning_tokens=reasoning)


def _tokens(value: object) -> int:
    return token_count(value) or 0
