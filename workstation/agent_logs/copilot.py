"""GitHub Copilot CLI's OpenTelemetry files: `COPILOT_HOME` (default ~/.copilot)/otel/**/*.jsonl
and the file `COPILOT_OTEL_FILE_EXPORTER_PATH` names (ccusage's adapter/copilot/paths.rs; GitHub's
"OpenTelemetry monitoring" reference, docs.github.com/en/copilot/reference/enterprise-administrators/
opentelemetry-reference: the file exporter writes JSON lines). Copilot keeps no usage log of its
own: only a session started with its OTel file export on leaves one.

The file mixes four record kinds that tell of one call: a `chat` span per model call, an
inference-details log record per call (`gen_ai.client.inference.operation.details`), an agent-turn
log record per turn (`copilot_chat.agent.turn`) and an `invoke_agent` span summing a whole turn.
As ccusage reads them (adapter/copilot/parser.rs, `parse_otel_file`, `should_emit_candidate`), a
record counts only when no record of a kind before it in that order shares its trace or response
id. That takes the whole file: a chat span written after its call's log record withdraws the
record counted from the log. So the file is read whole when it changed, each record keyed by its
trace and span ids (ccusage's dedup keys), and the records an earlier read took from the file
that this read does not count are withdrawn (`withdraws` in workstation.agent_logs).

Tokens are the OTel GenAI attributes: `gen_ai.usage.input_tokens` includes the cache reads
(taken out), `gen_ai.usage.output_tokens` includes the reasoning (as OpenAI's completion tokens
do, and as ccusage 20.0.24 counts it), a `total` beyond the parts is output when there is none,
else reasoning. The model is the record's, else its trace's; a model call's `gen_ai.response.id` is
the response id the proxy reads, so a call seen by both is one record. A record without a time is not
counted (ccusage dates it by the file's). Copilot runs on a Copilot plan: the
cost is the API-equivalent.

Nothing else is read: no prompt or tool arguments (captured only when content capture is on), no
conversation id, no working directory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

from workstation.agent_logs.calls import AgentCall, AgentSetup, token_count
from workstation.agent_logs.files import json_line, read_whole_file

AGENT = "copilot-cli"
read_file = read_whole_file
ATTRIBUTES_MARKER = b'"attributes"'
MODEL_ATTRIBUTES = ("gen_ai.response.model", "gen_ai.request.model")
INFERENCE_EVENT = "gen_ai.client.inference.operation.details"
AGENT_TURN_EVENT = "copilot_chat.agent.turn"
TIME_PAIRS = ("endTime", "startTime", "hrTime", "_hrTime", "time")  # [seconds, nanoseconds], ccusage's order


class Kind(IntEnum):
    """The record kinds, the one that counts first: a record is dropped when one of a kind before it
    shares its trace or response id."""

    CHAT_SPAN = 0
    INFERENCE_LOG = 1
    AGENT_TURN_LOG = 2
    AGENT_SUMMARY_SPAN = 3


@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: Kind
    trace: str | None
    response_id: str | None
    call: AgentCall


def log_files(user_home: Path, env: Mapping[str, str]) -> list[Path]:
    home = Path(env["COPILOT_HOME"]).expanduser() if env.get("COPILOT_HOME", "").strip() else user_home / ".copilot"
    files = set((home / "otel").rglob("*.jsonl"))
    explicit = env.get("COPILOT_OTEL_FILE_EXPORTER_PATH", "").strip()
    if explicit and Path(explicit).expanduser().is_file():
        files.add(Path(explicit).expanduser())
    return sorted(files)


def setup(user_home: Path, env: Mapping[str, str]) -> AgentSetup:
    return AgentSetup(AGENT, "github-copilot", "https://api.githubcopilot.com", "/chat/completions", subscription=True)


def read_calls(lines: list[bytes], state: dict[str, Any]) -> Iterator[AgentCall]:
    """The calls in a whole file (one "line", or its lines), each once across the record kinds."""
    del state  # each read is of the whole file
    records = [record for line in lines for part in line.splitlines() if ATTRIBUTES_MARKER in part
               if isinstance(record := json_line(part), dict) and isinstance(record.get("attributes"), dict)]
    traces = _trace_models(records)
    candidates = [candidate for index, record in enumerate(records)
                  if (candidate := _candidate(record, index, traces)) is not None]
    first_by_trace: dict[str, Kind] = {}
    first_by_response: dict[str, Kind] = {}
    for candidate in candidates:
        for first, shared in ((first_by_trace, candidate.trace), (first_by_response, candidate.response_id)):
            if shared:
                first[shared] = min(candidate.kind, first.get(shared, candidate.kind))
    for candidate in candidates:
        if all(candidate.kind <= first.get(shared, candidate.kind) for first, shared in (
                (first_by_trace, candidate.trace), (first_by_response, candidate.response_id)) if shared):
            yield candidate.call


def _trace_models(records: list[dict[str, Any]]) -> dict[str, str]:
    """Each trace's model: the first a record of the trace names."""
    models: dict[str, str] = {}
    for record in records:
        trace = _trace(record)
        model = _first_text(record["attributes"], MODEL_ATTRIBUTES)
        if trace and model:
            models.setdefault(trace, model)
    return models


def _candidate(record: dict[str, Any], index: int, trace_models: dict[str, str]) -> _Candidate | None:
    attributes: dict[str, Any] = record["attributes"]
    kind = _kind(record, attributes)
    ts = _timestamp(record)
    if kind is None or ts is None:
        return None
    counts = {name: _tokens(attributes, *names) for name, names in {
        "input": ("gen_ai.usage.input_tokens",), "output": ("gen_ai.usage.output_tokens",),
        "read": ("gen_ai.usage.cache_read.input_tokens",),
        "write": ("gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens"),
        "reasoning": ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"),
        "total": ("gen_ai.usage.total_tokens", "gen_ai.usage.total.token_count")}.items()}
    read, written = counts["read"], counts["write"]
    uncached = counts["input"] - min(counts["input"], read)
    output, reasoning = counts["output"], min(counts["reasoning"], counts["output"])
    missing = max(counts["total"] - (uncached + output + read + written), 0)
    if missing and not output:
        output = missing
    else:
        output, reasoning = output + missing, reasoning + missing
    if not (uncached or output or read or written):
        return None
    trace = _trace(record)
    model = _first_text(attributes, MODEL_ATTRIBUTES) or (trace_models.get(trace) if trace else None) or "unknown"
    response_id = _text(attributes.get("gen_ai.response.id"))
    call = AgentCall(_key(kind, record, attributes, trace, ts, index), ts, model, uncached, output,
                     cache_read_tokens=read, cache_write_tokens=written, reasoning_tokens=reasoning,
                     response_id=response_id if kind in (Kind.CHAT_SPAN, Kind.INFERENCE_LOG) else None)
    return _Candidate(kind, trace, response_id, call)


def _kind(record: dict[str, Any], attributes: dict[str, Any]) -> Kind | None:
    operation = _text(attributes.get("gen_ai.operation.name"))
    name = _text(record.get("name")) or ""
    if _is_span(record):
        if operation == "chat" or name.startswith("chat "):
            return Kind.CHAT_SPAN
        if operation == "invoke_agent" or name.startswith("invoke_agent "):
            return Kind.AGENT_SUMMARY_SPAN
        return None
    event = _text(attributes.get("event.name"))
    body = _text(record.get("body")) or _text(record.get("_body")) or ""
    if event == INFERENCE_EVENT or body.startswith("GenAI inference:"):
        return Kind.INFERENCE_LOG
    if event == AGENT_TURN_EVENT or body.startswith(AGENT_TURN_EVENT):
        return Kind.AGENT_TURN_LOG
    return None


def _is_span(record: dict[str, Any]) -> bool:
    if isinstance(record.get("type"), str):
        return record["type"] == "span"
    return _text(record.get("name")) is not None and (
        _text(record.get("spanId")) is not None or _text(record.get("traceId")) is not None
        or any(name in record for name in ("startTime", "endTime", "duration", "kind")))


def _key(kind: Kind, record: dict[str, Any], attributes: dict[str, Any], trace: str | None, ts: datetime,
         index: int) -> str:
    """ccusage's dedup key: a span's or log record's trace and span ids, an agent turn's trace and
    turn index (the record's place in the file when they are missing)."""
    span = _text(record.get("spanId")) or _nested_text(record, "spanContext", "spanId")
    if kind is Kind.AGENT_TURN_LOG:
        turn = next((str(number) for name in ("turn.index", "copilot_chat.turn.index")
                     if (number := _number(attributes.get(name))) is not None), f"idx-{index}")
        return f"agent-turn:{trace}:{turn}" if trace else f"agent-turn::{turn}:{index}"
    prefix = "log:" if kind is Kind.INFERENCE_LOG else ""
    if trace and span:
        return f"{prefix}{trace}:{span}"
    return f"{prefix}{kind.name}:{int(ts.timestamp() * 1000)}:{index}"


def _trace(record: dict[str, Any]) -> str | None:
    return _text(record.get("traceId")) or _nested_text(record, "spanContext", "traceId")


def _timestamp(record: dict[str, Any]) -> datetime | None:
    """The record's time as ccusage takes it: an [s, ns] pair, else a number of s, ms, us or ns."""
    for name in TIME_PAIRS:
        pair = record.get(name)
        if isinstance(pair, list) and len(pair) >= 2 and (seconds := _number(pair[0])) is not None \
                and (nanos := _number(pair[1])) is not None:
            return _from_millis(seconds * 1000 + nanos // 1_000_000)
    for name in ("timestamp", "observedTimestamp"):
        if (raw := _number(record.get(name))) is not None:
            for threshold, divisor in ((10**17, 10**6), (10**14, 10**3), (10**11, 1)):
                if raw >= threshold:
                    return _from_millis(raw // divisor)
            return _from_millis(raw * 1000)
    nanos = _number(record.get("timeUnixNano"))
    return _from_millis(nanos // 1_000_000) if nanos else None


def _from_millis(millis: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _tokens(attributes: dict[str, Any], *names: str) -> int:
    """The first of `names` with a count above 0 (a JSON number or a numeric string, as ccusage reads it)."""
    return next((count for name in names if (count := _number(attributes.get(name)))), 0)


def _number(value: object) -> int | None:
    if isinstance(value, str):
        return int(value.strip()) if value.strip().isdigit() else None
    return token_count(value)


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _nested_text(record: dict[str, Any], name: str, key: str) -> str | None:
    inner = record.get(name)
    return _text(inner.get(key)) if isinstance(inner, dict) else None


def _first_text(attributes: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((text for name in names if (text := _text(attributes.get(name)))), None)
