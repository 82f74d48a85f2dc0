"""`offgate spend import --from postgresql://...`: LiteLLM's own database, with the schema its
migrations build and rows LiteLLM's `get_logging_payload` made from real SDK calls."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from typer.testing import CliRunner

from analytics.spend.sql import libpq_url
from offgate.cli import app
from offgate.store import Store
from offgate.store.schema import SpendLogRow
from offgate.store.spend import SpendLog
from tests.support import postgres
from tests.support.litellm_schema import apply_litellm_schema, insert_spend_logs
from tests.support.openai_responder import openai_responder

runner = CliRunner(env={"COLUMNS": "200"})
# LiteLLM's proxy modules (for get_logging_payload) build pydantic schemas that warn about themselves.
pytestmark = pytest.mark.filterwarnings("ignore:.*the `ReadOnly` qualifier:UserWarning")


@pytest.fixture(scope="module")
def logged_rows(upstream) -> list[dict]:
    """LiteLLM_SpendLogs rows for three calls through the LiteLLM SDK to the fake provider."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.proxy.spend_tracking.spend_tracking_utils import get_logging_payload

    class KeepSpendRows(CustomLogger):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict] = []

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            self.rows.append(dict(get_logging_payload(kwargs, response_obj, start_time, end_time)))

    upstream.responder = openai_responder
    keeper = KeepSpendRows()
    previous, litellm.callbacks = litellm.callbacks, [keeper]

    async def calls() -> None:
        for n in range(3):
            await litellm.acompletion(model="openai/gpt-4o-mini", api_base=f"http://127.0.0.1:{upstream.port}/v1",
                                      api_key="sk-fake", user=f"user-{n}@example.com", metadata={"tags": ["ws-7"]},
                                      messages=[{"role": "user", "content": f"usage {100 + n} {10 + n}"}])
        for _ in range(100):  # the success callbacks run after the calls return
            if len(keeper.rows) == 3:
                return
            await asyncio.sleep(0.05)

    try:
        asyncio.run(calls())
    finally:
        litellm.callbacks = previous
    assert len(keeper.rows) == 3
    return sorted(keeper.rows, key=lambda row: row["startTime"])


@pytest.fixture(scope="module")
def litellm_database(postgres_url: str, logged_rows: list[dict]) -> Iterator[str]:
    with postgres.fresh_database(postgres_url) as url:
        apply_litellm_schema(url)
        old = {**logged_rows[0], "request_id": "chatcmpl-old", "litellm_call_id": "call-old",
               "startTime": logged_rows[0]["startTime"] - timedelta(days=10),
               "endTime": logged_rows[0]["endTime"] - timedelta(days=10)}
        insert_spend_logs(url, [*logged_rows, old])
        yield url


def import_from(home, url: str, *args: str):
    return runner.invoke(app, ["--home", str(home), "spend", "import", "--from", url, *args], catch_exceptions=False)


def test_litellms_rows_are_imported_exactly(tmp_path, monkeypatch, store_url, litellm_database, logged_rows):
    monkeypatch.setenv("OFFGATE_DATABASE_URL", store_url)
    result = import_from(tmp_path, litellm_database, "--since", "7d")
    assert result.exit_code == 0, result.output
    assert "imported 3 new spend rows from LiteLLM's database" in result.stdout
    with Store.open(store_url) as store:
        found = {row["request_id"]: row for row in SpendLogRow.select().dicts().execute(store.database)}
        assert SpendLog(store).count() == 3
    for logged in logged_rows:
        row = found[logged["request_id"]]
        start = logged["startTime"].astimezone(UTC).replace(tzinfo=None)
        assert abs(row["start_time"] - start) < timedelta(milliseconds=1)  # timestamp(3)
        assert (row["spend"], row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
            logged["spend"], logged["prompt_tokens"], logged["completion_tokens"], logged["total_tokens"])
        assert (row["litellm_call_id"], row["model"], row["api_base"], row["custom_llm_provider"]) == (
            logged["litellm_call_id"], logged["model"], logged["api_base"], logged["custom_llm_provider"])
        assert (row["status"], row["call_type"], row["source"]) == ("success", "acompletion", "sql")
        assert row["end_user"] == (logged["end_user"] or None)  # LiteLLM's "" is no value
    again = import_from(tmp_path, litellm_database, "--since", "30d")
    assert "imported 1 new spend rows" in again.stdout and "(3 already present)" in again.stdout


def test_prisma_options_in_litellms_url_are_understood(tmp_path, litellm_database):
    url = f"{litellm_database}?schema=public&connection_limit=5&pool_timeout=10"
    assert libpq_url(url) == (litellm_database, "public")
    result = import_from(tmp_path, url)
    assert result.exit_code == 0, result.output
    assert "imported 4 new spend rows" in result.stdout


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    result = import_from(tmp_path, "postgresql://litellm:secret-pw@127.0.0.1:1/litellm")
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert ("offgate: error: cannot connect to LiteLLM's database postgresql://litellm:***@127.0.0.1:1/litellm: "
            "connection to server at \"127.0.0.1\", port 1 failed") in message
    assert "secret-pw" not in result.output


def test_a_database_without_spend_logs_is_a_clear_error(tmp_path, postgres_url):
    with postgres.fresh_database(postgres_url) as url:
        result = import_from(tmp_path, url)
    assert result.exit_code == 1
    assert "has no LiteLLM_SpendLogs table: is it LiteLLM's database?" in " ".join(result.stderr.split())


def test_the_window_is_read_in_time_order(tmp_path, litellm_database, logged_rows):
    from analytics.spend.sql import SqlSpendSource

    seen: list[tuple[int, int | None]] = []
    since = datetime.now(UTC) - timedelta(days=30)
    source = SqlSpendSource(litellm_database, since=since)
    records = [record for batch in source.batches(lambda done, total: seen.append((done, total))) for record in batch]
    assert [record.request_id for record in records] == ["chatcmpl-old", *(row["request_id"] for row in logged_rows)]
    assert seen[-1] == (4, 4)


def test_the_export_commands_in_the_operator_guide_make_files_offgate_imports(tmp_path, litellm_database):
    guide = (Path(__file__).parents[1] / "docs" / "litellm.md").read_text()
    section = guide.split("## 4. An export file", 1)[1]
    commands = section.split("```sh\n", 1)[1].split("```", 1)[0]
    environment = {**os.environ, "DATABASE_URL": litellm_database, "OFFGATE_HOME": str(tmp_path / "jsonl"),
                   "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "imported 4 new spend rows" in done.stdout
    from_csv = import_from(tmp_path / "csv", str(tmp_path / "spend.csv"))
    assert from_csv.exit_code == 0, from_csv.output
    assert "imported 4 new spend rows" in from_csv.stdout
    tables = []
    for home in (tmp_path / "jsonl", tmp_path / "csv"):
        with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
            tables.append({row["request_id"]: (row["start_time"], row["spend"], row["prompt_tokens"],
                                               row["litellm_call_id"], row["model"])
                           for row in SpendLogRow.select().dicts().execute(store.database)})
    assert tables[0] == tables[1] and len(tables[0]) == 4


def test_rows_that_cannot_be_read_are_named_and_the_others_imported(tmp_path, postgres_url):
    with postgres.fresh_database(postgres_url) as url:
        insert = 'INSERT INTO "LiteLLM_SpendLogs" VALUES (%s, %s, %s)'
        connection = psycopg2.connect(url)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute('CREATE TABLE "LiteLLM_SpendLogs" (request_id text PRIMARY KEY, '
                               '"startTime" timestamp(3) NOT NULL, prompt_tokens integer)')
                cursor.execute(insert, ("r1", datetime(2026, 11, 2, 10), 12))
                cursor.execute(insert, ("r2", datetime(2026, 11, 2, 11), -5))
        finally:
            connection.close()
        result = import_from(tmp_path, url)
    assert result.exit_code == 2
    assert "offgate: skipped row 'r2': prompt_tokens: -5 is not a token count" in result.stderr
    assert "imported 1 new spend rows" in result.stdout
