"""`offgate spend import --from http://...` against a server answering as LiteLLM's spend
API does (tests/support/litellm_spend_api.py): pages, the 10,000-row caps, the old endpoint, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from analytics.spend.rest import RestSpendSource
from analytics.spend.source import SpendSourceError
from offgate.cli import app
from offgate.store import Store
from offgate.store.schema import SpendLogRow
from tests.support.litellm_spend_api import FakeSpendApi

KEY = "sk-master-0123456789abcdef"
runner = CliRunner(env={"COLUMNS": "200"})
NOW = datetime.now(UTC).replace(microsecond=0)
DAY_START = datetime.combine((NOW - timedelta(days=2)).date(), datetime.min.time(), UTC)


def spend_rows(count: int, start: datetime, step: timedelta) -> list[dict]:
    return [{"request_id": f"chatcmpl-{start:%d%H%M}-{n:06d}", "call_type": "acompletion",
             "startTime": (start + n * step).isoformat(), "spend": n * 1e-06, "prompt_tokens": n % 1000,
             "completion_tokens": n % 97, "total_tokens": n % 1000 + n % 97, "model": "openai/gpt-4o-mini",
             "model_group": "gpt-4o-mini", "litellm_call_id": f"call-{n}", "status": "success",
             "metadata": {"user_api_key_alias": "team-a"}} for n in range(count)]


@pytest.fixture
def serve():
    started = []

    def start(rows: list[dict], **options) -> FakeSpendApi:
        api = FakeSpendApi(rows, KEY, **options).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


def import_from(home, api: FakeSpendApi, *args: str, key: str = KEY):
    return runner.invoke(app, ["--home", str(home), "spend", "import", "--from", api.url, "--key", key,
                               "--since", "3d", *args], catch_exceptions=False)


def stored(home) -> dict[str, dict]:
    with Store.open(f"sqlite:///{home / 'offgate.db'}") as store:
        return {row["request_id"]: row for row in SpendLogRow.select().dicts().execute(store.database)}


def test_pages_of_every_day_are_imported(tmp_path, serve):
    rows = spend_rows(2500, DAY_START + timedelta(hours=12), timedelta(seconds=30))  # 20.8 h across midnight
    api = serve(rows)
    result = import_from(tmp_path, api)
    assert result.exit_code == 0, result.output
    assert f"imported 2500 new spend rows from LiteLLM's spend API at {api.url}" in result.stdout
    found = stored(tmp_path)
    assert len(found) == 2500
    last = found[rows[-1]["request_id"]]
    assert (last["spend"], last["prompt_tokens"], last["litellm_call_id"], last["source"]) == (
        2499e-06, 499, "call-2499", "rest")
    assert last["start_time"] == datetime.fromisoformat(rows[-1]["startTime"]).replace(tzinfo=None)
    pages = [query for path, query in api.requests if path == "/spend/logs/v2"]
    assert {(q["sort_by"], q["sort_order"], q["page_size"]) for q in pages} == {("startTime", "asc", "1000")}
    assert sorted(int(q["page"]) for q in pages if int(q["page"]) > 1) == [2, 2]  # one full-ish page per day
    again = import_from(tmp_path, api)
    assert "imported 0 new spend rows" in again.stdout


def test_a_row_without_a_cost_is_kept_as_unknown_not_as_zero(tmp_path, serve):
    rows = spend_rows(3, DAY_START + timedelta(hours=12), timedelta(seconds=30))
    rows[1].pop("spend")
    rows[2]["spend"] = None
    assert import_from(tmp_path, serve(rows)).exit_code == 0
    assert [stored(tmp_path)[row["request_id"]]["spend"] for row in rows] == [0.0, None, None]


def test_a_window_over_the_cap_is_split_until_every_row_is_fetched(tmp_path, serve):
    rows = spend_rows(12_000, DAY_START + timedelta(hours=3), timedelta(seconds=0.5))  # 100 minutes
    api = serve(rows)
    result = import_from(tmp_path, api)
    assert result.exit_code == 0, result.output
    assert len(stored(tmp_path)) == 12_000
    windows = {(q["start_date"], q["end_date"]) for path, q in api.requests if q.get("page") == "1"}
    assert len(windows) > 4  # the day with 12,000 rows was halved


def test_a_proxy_without_v2_is_read_day_by_day_from_spend_logs(tmp_path, serve):
    rows = spend_rows(300, DAY_START + timedelta(hours=20), timedelta(minutes=1))  # crosses midnight
    api = serve(rows, has_v2=False)
    result = import_from(tmp_path, api)
    assert result.exit_code == 0, result.output
    assert len(stored(tmp_path)) == 300
    v2 = [path for path, _ in api.requests if path == "/spend/logs/v2"]
    assert v2 == ["/spend/logs/v2"]  # asked once, then not again
    assert {q["summarize"] for path, q in api.requests if path == "/spend/logs"} == {"false"}


def test_a_day_the_old_endpoint_truncates_is_imported_as_far_as_it_goes_and_named(tmp_path, serve):
    rows = spend_rows(10_500, DAY_START + timedelta(hours=1), timedelta(seconds=1))
    api = serve(rows, has_v2=False)
    result = import_from(tmp_path, api)
    assert result.exit_code == 1
    assert "imported 10000 new spend rows" in result.stdout
    assert (f"offgate: warning: {DAY_START.date()}: LiteLLM's /spend/logs gave only its newest 10,000 rows "
            "of that day") in result.stderr
    assert "the import is incomplete" in result.stderr
    assert rows[-1]["request_id"] in stored(tmp_path)  # the newest are the ones kept


def test_a_wrong_key_is_a_clear_error_and_not_retried(tmp_path, serve):
    api = serve(spend_rows(5, DAY_START, timedelta(minutes=1)))
    result = import_from(tmp_path, api, key="sk-wrong")
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert (f"LiteLLM's spend API at {api.url} refused the key (401: Authentication Error, Invalid proxy server "
            "token passed.); pass the master key, or a key allowed to read spend logs, with --key or "
            "LITELLM_MASTER_KEY") in message
    assert len(api.requests) == 1
    assert "sk-wrong" not in result.output


def test_no_key_is_a_clear_error(tmp_path, serve, monkeypatch):
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    api = serve([])
    result = runner.invoke(app, ["--home", str(tmp_path), "spend", "import", "--from", api.url])
    assert result.exit_code == 2
    assert "LiteLLM's spend API needs a key: pass --key or set LITELLM_MASTER_KEY" in result.stderr


def test_the_key_can_come_from_the_environment(tmp_path, serve, monkeypatch):
    monkeypatch.setenv("LITELLM_MASTER_KEY", KEY)
    api = serve(spend_rows(3, DAY_START, timedelta(minutes=1)))
    result = runner.invoke(app, ["--home", str(tmp_path), "spend", "import", "--from", api.url, "--since", "3d"])
    assert result.exit_code == 0, result.output
    assert len(stored(tmp_path)) == 3


def records(source: RestSpendSource) -> list:
    return [record for batch in source.batches(lambda done, total: None) for record in batch]


def test_server_errors_are_retried(serve):
    api = serve(spend_rows(3, DAY_START, timedelta(minutes=1)), failures=[500, 503, 429])
    source = RestSpendSource(api.url, KEY, since=DAY_START, until=DAY_START + timedelta(hours=1), retry_delay=0.01)
    assert len(records(source)) == 3
    assert len(api.requests) == 4


def test_persistent_errors_give_up_with_litellms_message(serve):
    api = serve([], failures=[500] * 10)
    source = RestSpendSource(api.url, KEY, since=DAY_START, until=DAY_START + timedelta(hours=1), retry_delay=0.01)
    with pytest.raises(SpendSourceError, match=r"answered 500 to /spend/logs/v2: injected 500 \(gave up after 4 "):
        records(source)
    assert len(api.requests) == 4


def test_a_bad_request_is_not_retried(serve):
    api = serve([], failures=[400])
    source = RestSpendSource(api.url, KEY, since=DAY_START, until=DAY_START + timedelta(hours=1), retry_delay=0.01)
    with pytest.raises(SpendSourceError, match="answered 400 to /spend/logs/v2: injected 400$"):
        records(source)
    assert len(api.requests) == 1


def test_an_unreachable_proxy_is_a_clear_error(tmp_path):
    source = RestSpendSource("http://127.0.0.1:1", KEY, since=DAY_START, until=DAY_START + timedelta(hours=1),
                             retries=1, retry_delay=0.01)
    with pytest.raises(SpendSourceError, match=r"at http://127.0.0.1:1: ConnectError: .*\(gave up after 2 attempts\)"):
        records(source)


def test_rows_that_cannot_be_read_are_named(tmp_path, serve):
    rows = spend_rows(3, DAY_START + timedelta(hours=1), timedelta(minutes=1))
    rows[1]["spend"] = "a lot"
    api = serve(rows)
    result = import_from(tmp_path, api)
    assert result.exit_code == 2
    assert f"offgate: skipped row '{rows[1]['request_id']}': spend: 'a lot' is not a number" in result.stderr
    assert len(stored(tmp_path)) == 2


def test_more_rows_in_one_second_than_the_cap_are_named(tmp_path, serve):
    rows = spend_rows(10_050, DAY_START + timedelta(hours=5), timedelta(microseconds=80))  # 0.8 s
    api = serve(rows)
    result = import_from(tmp_path, api)
    assert result.exit_code == 1
    assert "imported 10000 new spend rows" in result.stdout
    second = (DAY_START + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M:%S")
    assert (f"offgate: warning: {second}: more than 10,000 spend rows within one second; only the first 10,000 "
            "were imported") in result.stderr


@pytest.mark.parametrize(("broken", "message"), [
    ({"/spend/logs/v2": "html"}, "did not answer JSON to /spend/logs/v2"),
    ({"/spend/logs/v2": "shape"}, "/spend/logs/v2 did not answer with a page of rows"),
    ({"/spend/logs": "shape"}, "/spend/logs did not answer with a list of rows"),
])
def test_answers_that_are_not_litellms_are_clear_errors(tmp_path, serve, broken, message):
    api = serve([], broken=broken, has_v2="/spend/logs/v2" in broken)
    result = import_from(tmp_path, api)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
