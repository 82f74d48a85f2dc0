"""Coding agents' own usage logs -> UsageEvents with their exact tokens (`source: agent-log`).

One module per agent (claude_code, codex, gemini, qwen, opencode, goose, amp, copilot) gives its log
files, how they are read (appended lines, files rewritten whole, a database's rows: files),
its setup (base URL, plan) and the calls in what was read; `scan_agent_logs` reads each file
from where the last scan stopped and stores the calls with the new positions in one
transaction (many files' at once), so a call is never lost nor counted twice, whatever the
scans' timing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from offgate.store.agent_logs import AgentLogStore, FilePosition, FileRecords
from workstation.agent_logs import amp, claude_code, codex, copilot, gemini, goose, opencode, qwen
from workstation.agent_logs.calls import AgentCall, AgentSetup, event_from
from workstation.agent_logs.files import FileRead, file_key, read_new_lines
from workstation.scan import ScanContext, ScanResult


@dataclass(frozen=True, slots=True)
class AgentLogReader:
    agent: str
    log_files: Callable[[Path, Mapping[str, str]], list[Path]]
    setup: Callable[[Path, Mapping[str, str]], AgentSetup]
    read_calls: Callable[[list[bytes], dict[str, Any]], Iterator[AgentCall]]
    read_file: FileRead = read_new_lines  # how the agent's files are read (appended lines, whole files, ...)
    # Each read yields every call the file holds now: a record an earlier read took from the file and
    # this one does not is withdrawn, when the file grew since (Copilot's OTel records, one of which
    # may displace another); what a file started afresh held before is history, kept.
    withdraws: bool = False


READERS = (
    AgentLogReader(claude_code.AGENT, claude_code.log_files, claude_code.setup, claude_code.read_calls),
    AgentLogReader(codex.AGENT, codex.log_files, codex.setup, codex.read_calls),
    AgentLogReader(gemini.AGENT, gemini.log_files, gemini.setup, gemini.read_calls, gemini.read_file),
    AgentLogReader(qwen.AGENT, qwen.log_files, qwen.setup, qwen.read_calls),
    AgentLogReader(opencode.AGENT, opencode.log_files, opencode.setup, opencode.read_calls, opencode.read_file),
    AgentLogReader(goose.AGENT, goose.log_files, goose.setup, goose.read_calls, goose.read_file),
    AgentLogReader(amp.AGENT, amp.log_files, amp.setup, amp.read_calls, amp.read_file),
    AgentLogReader(copilot.AGENT, copilot.log_files, copilot.setup, copilot.read_calls, copilot.read_file,
                   withdraws=True),
)
SAVE_EVENTS = 5_000  # records saved per transaction: few commits on a first scan, memory bounded (~20 MB)
TAKEN = "taken"  # a withdrawing reader's state: the ids of the records its last read took from the file


def scan_agent_logs(context: ScanContext) -> ScanResult:
    result = ScanResult("agent-logs")
    logs = AgentLogStore(context.store)
    for reader in READERS:
        files = reader.log_files(context.user_home, context.env)
        if not files:
            continue
        setup = reader.setup(context.user_home, context.env)
        known = logs.positions(reader.agent)
        read = lines = added = waiting = 0
        pending: list[FileRecords] = []
        for path in files:
            key = file_key(reader.agent, path, context.salt)
            new = reader.read_file(path, known.get(key))
            if new is None:
                continue
            read += 1
            lines += len(new.lines)
            state: dict[str, Any] = json.loads(new.position.state) if new.position.state else {}
            events = [event_from(call, setup, context.settings.proxy.gateways, device=context.device,
                                 user=context.user) for call in reader.read_calls(new.lines, state)]
            withdrawn: list[str] = []
            if reader.withdraws:
                state[TAKEN] = sorted({event.id for event in events})
                withdrawn = [] if new.afresh else sorted(set(_taken(known.get(key))) - set(state[TAKEN]))
            pending.append(FileRecords(key, replace(new.position, state=json.dumps(state) if state else None),
                                       events, withdrawn))
            waiting += len(events)
            if waiting >= SAVE_EVENTS:
                added += logs.save(reader.agent, pending, context.now)
                pending, waiting = [], 0
        added += logs.save(reader.agent, pending, context.now)
        result.read[f"{reader.agent} files"] = read
        result.read[f"{reader.agent} lines"] = lines
        result.kept[f"{reader.agent} calls"] = added
        if setup.subscription:
            result.notes.append(f"{reader.agent} runs on a subscription plan: its costs are API-equivalent")
    return result


def _taken(known: FilePosition | None) -> list[str]:
    """The ids of the records the last read of a file took from it."""
    state = json.loads(known.state) if known is not None and known.state else {}
    return state.get(TAKEN, []) if isinstance(state, dict) else []
