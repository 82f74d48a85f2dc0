"""`offgate spend import --from FILE`: LiteLLM_SpendLogs exports as JSON lines and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from analytics.spend.rows import SpendRowError, record_from_row, row_from_logging_payload
from offgate.cli import app
from offgate.store import Store
from offgate.store.schema import SpendLogRow

runner = CliRunner(env={"COLUMNS": "200"})

ROWS = [
    {"request_id": "chatcmpl-a1", "call_type": "acompletion",
     "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
     "spend": 7.35e-06, "total_tokens": 28, "prompt_tokens": 21, "completion_tokens": 7,
     "startTime": "2026-11-02T09:00:01.250Z", "endTime": "2026-11-02T09:00:01.900Z", "model": "openai/gpt-4o-mini",
     "model_group": "gpt-4o-mini", "custom_llm_provider": "openai", "api_base": "https://api.openai.com/v1",
     "user": "alice", "end_user": "alice@example.com", "team_id": "", "status": "success",
     "metadata": {"litellm_call_id": "3f2a-call", "user_api_key_alias": "alice-key"},
     "request_tags": ["workstation-42"], "messages": [{"role": "user", "content": "SECRET PROMPT"}],
     "response": {"text": "SECRET REPLY"}},
    {"request_id": "chatcmpl-a2", "spend": 0.0012, "total_tokens": 3500, "prompt_tokens": 3000,
     "completion_tokens": 500, "startTime": "2026-11-03 17:30:00", "model": "gpt-4o", "model_group": "gpt-4o",
     "litellm_call_id": "9c1e-call", "status": "success"},
]


def offgate(home, *args: str):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def stored(home) -> dict[str, dict]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return {row["request_id"]: row for row in SpendLogRow.select().dicts().execute(store.database)}


def as_csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()})
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_an_export_is_imported_exactly_and_once(tmp_path, kind):
    path = tmp_path / f"spend.{kind}"
    path.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n" if kind == "jsonl" else as_csv(ROWS))
    result = offgate(tmp_path, "spend", "import", "--from", str(path))
    assert result.exit_code == 0, result.output
    assert f"imported 2 new spend rows from spend export {path} (0 already present)" in result.stdout
    rows = stored(tmp_path)
    first = rows["chatcmpl-a1"]
    assert (first["start_time"], first["end_time"]) == (datetime(2026, 11, 2, 9, 0, 1, 250000),
                                                        datetime(2026, 11, 2, 9, 0, 1, 900000))
    assert (first["spend"], first["prompt_tokens"], first["completion_tokens"], first["total_tokens"]) == (
        7.35e-06, 21, 7, 28)
    assert (first["litellm_call_id"], first["model"], first["model_group"], first["api_base"], first["source"]) == (
        "3f2a-call", "openai/gpt-4o-mini", "gpt-4o-mini", "https://api.openai.com/v1", "file")
    raw = json.loads(first["raw_json"])
    assert raw["metadata"]["user_api_key_alias"] == "alice-key" and raw["request_tags"] == ["workstation-42"]
    assert "messages" not in raw and "SECRET" not in first["raw_json"]
    assert rows["chatcmpl-a2"]["litellm_call_id"] == "9c1e-call"
    assert rows["chatcmpl-a2"]["team_id"] is None  # absent, not ""

    again = offgate(tmp_path, "spend", "import", "--from", str(path))
    assert "imported 0 new spend rows" in again.stdout and "(2 already present)" in again.stdout


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_row_without_a_cost_is_kept_as_unknown_not_as_zero(tmp_path, kind):
    unpriced = {column: value for column, value in ROWS[0].items() if column != "spend"}
    failed = {"request_id": "chatcmpl-f", "startTime": "2026-11-03 18:00:00", "status": "failure"}
    free = {**ROWS[1], "request_id": "chatcmpl-free", "spend": 0}
    rows = [unpriced, ROWS[1], failed, free]
    path = tmp_path / f"spend.{kind}"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) if kind == "jsonl" else as_csv(rows))
    assert offgate(tmp_path, "spend", "import", "--from", str(path)).exit_code == 0
    assert {request_id: row["spend"] for request_id, row in stored(tmp_path).items()} == {
        "chatcmpl-a1": None, "chatcmpl-a2": 0.0012, "chatcmpl-f": 0.0, "chatcmpl-free": 0.0}  # a failure is free


def test_since_keeps_the_window(tmp_path):
    path = tmp_path / "spend.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ROWS))
    result = offgate(tmp_path, "spend", "import", "--from", str(path), "--since", "2026-11-03T00:00:00")
    assert result.exit_code == 0
    assert set(stored(tmp_path)) == {"chatcmpl-a2"}


def test_bad_lines_are_named_and_the_good_ones_imported(tmp_path):
    good = [json.dumps(row) for row in ROWS]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good[0], "not json", '["a list"]', json.dumps({"startTime": "2026-11-02"}),
                               "", json.dumps({"request_id": "x", "startTime": "yesterday"}),
                               json.dumps({"request_id": "y", "startTime": "2026-11-02", "spend": "lots"}),
                               good[1]]))
    result = offgate(tmp_path, "spend", "import", "--from", str(path))
    assert result.exit_code == 2
    assert "imported 2 new spend rows" in result.stdout
    assert result.stderr.splitlines() == [
        "offgate: skipped line 2: not JSON (Expecting value at column 1)",
        "offgate: skipped line 3: not a JSON object",
        "offgate: skipped line 4: request_id is missing",
        "offgate: skipped line 6: startTime: 'yesterday' is not an ISO 8601 time",
        "offgate: skipped line 7: spend: 'lots' is not a number",
        "offgate: error: 5 rows could not be read; the others were imported",
    ]
    assert set(stored(tmp_path)) == {"chatcmpl-a1", "chatcmpl-a2"}


def test_bad_csv_records_are_named_by_the_line_they_start_on(tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text('request_id,startTime,spend,end_user,metadata\n'
                    'r1,2026-11-02 10:00:00,0.5,"two\nlines","{""note"": 1}"\n'
                    'r2,2026-11-02 10:00:01,0.5,,{broken\n'
                    'r3,2026-11-02 10:00:02\n'
                    'r4,2026-11-02 10:00:03,0.25,,,extra\n'
                    'r5,2026-11-02 10:00:04,-3,,\n'
                    'r6,2026-11-02 10:00:05,0.125,,\n')
    result = offgate(tmp_path, "spend", "import", "--from", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:3] == [
        "offgate: skipped line 4: metadata: not JSON (Expecting property name enclosed in double quotes at 1)",
        "offgate: skipped line 5: fewer fields than the header has columns",
        "offgate: skipped line 6: more fields than the header has columns",
    ]
    rows = stored(tmp_path)
    assert set(rows) == {"r1", "r5", "r6"}  # a negative spend is LiteLLM's to explain
    assert (rows["r1"]["end_user"], json.loads(rows["r1"]["raw_json"])["metadata"]) == ("two\nlines", {"note": 1})


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read"),
    (b"\xff\xfe\x00garbage", "is not UTF-8 text"),
    (b"id,time\n1,2\n", "neither JSON lines nor a CSV whose header names request_id, startTime"),
])
def test_unreadable_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "spend.csv"
    if content is not None:
        path.write_bytes(content)
    result = offgate(tmp_path, "spend", "import", "--from", str(path))
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_logging_payload_becomes_the_row_litellm_writes():
    payload = {"id": "chatcmpl-fake-1", "litellm_call_id": "76580106-call", "call_type": "acompletion",
               "status": "success", "response_cost": 7.35e-06, "prompt_tokens": 21, "completion_tokens": 7,
               "total_tokens": 28, "startTime": 1795922772.712, "endTime": 1795922772.758,
               "model": "openai/gpt-4o-mini", "model_group": "gpt-4o-mini", "custom_llm_provider": "openai",
               "api_base": "http://127.0.0.1:8901/v1", "end_user": "alice@example.com", "cache_hit": None,
               "request_tags": ["workstation-42"],
               "metadata": {"user_api_key_hash": "litellm_proxy_master_key", "user_api_key_user_id": "default_user_id"}}
    record = record_from_row(row_from_logging_payload(payload))
    assert (record.request_id, record.litellm_call_id, record.spend, record.prompt_tokens,
            record.completion_tokens, record.total_tokens) == ("chatcmpl-fake-1", "76580106-call", 7.35e-06, 21, 7, 28)
    assert record.start_time == datetime(2026, 11, 29, 3, 26, 12, 712000)  # naive UTC
    assert (record.api_key, record.user, record.end_user, record.model_group) == (
        "litellm_proxy_master_key", "default_user_id", "alice@example.com", "gpt-4o-mini")


@pytest.mark.parametrize(("row", "message"), [
    ({"request_id": "r", "startTime": "2026-11-02", "prompt_tokens": 2.5}, "prompt_tokens: 2.5 is not a token count"),
    ({"request_id": "r", "startTime": "2026-11-02", "spend": True}, "spend: True is not a number"),
    ({"request_id": "r", "startTime": "2026-11-02", "spend": "nan"}, "spend: 'nan' is not a number"),
    ({"request_id": "r", "startTime": ["2026"]}, "startTime: ['2026'] is not a time"),
    ({"request_id": " ", "startTime": "2026-11-02"}, "request_id is missing"),
    ({"request_id": "r"}, "startTime is missing"),
])
def test_unreadable_values_name_their_column(row, message):
    with pytest.raises(SpendRowError, match=message.replace("[", r"\[").replace("]", r"\]")):
        record_from_row(row)


def test_a_line_the_csv_reader_refuses_is_named(tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text("request_id,startTime,end_user\n"
                    f'r1,2026-11-02 10:00:00,"{"x" * 200_000}"\n'
                    "r2,2026-11-02 10:00:01,bob\n")
    result = offgate(tmp_path, "spend", "import", "--from", str(path))
    assert result.exit_code == 2
    assert "offgate: skipped line 2: not CSV (field larger than field limit (131072))" in result.stderr
    assert set(stored(tmp_path)) == {"r2"}
