"""offgate's CustomLogger on its own (tests/test_litellm_e2e.py runs it inside LiteLLM's
proxy): each payload lands once, off the caller's thread, and nothing ever reaches LiteLLM,
not even a store that is down."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from analytics.spend import callback
from analytics.spend.callback import OffgateSpendLogger
from offgate.store import Store
from offgate.store.schema import SpendLogRow


def payload(number: int, **fields: object) -> dict:
    """A StandardLoggingPayload as LiteLLM builds it (the fields offgate reads, and the text it must not)."""
    return {"id": f"chatcmpl-{number}", "litellm_call_id": f"call-{number}", "call_type": "acompletion",
            "status": "success", "response_cost": 7.35e-06, "prompt_tokens": 21, "completion_tokens": 7,
            "total_tokens": 28, "startTime": 1795922772.712, "endTime": 1795922772.758, "model": "openai/gpt-4o-mini",
            "model_group": "gpt-4o-mini", "api_base": "https://api.openai.com/v1", "custom_llm_provider": "openai",
            "metadata": {"user_api_key_hash": "0" * 64}, "messages": [{"role": "user", "content": "SECRET"}],
            "response": {"choices": [{"message": {"content": "SECRET"}}]}, **fields}


def rows_in(url: str, count: int, timeout: float = 10.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Store.open(url) as store:
                found = {row["request_id"]: row for row in SpendLogRow.select().dicts().execute(store.database)}
        except Exception:  # the store may not exist yet
            found = {}
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_each_payload_is_written_once_without_its_text(tmp_path):
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    logger = OffgateSpendLogger(store_url=url, flush_interval=0.05)
    asyncio.run(logger.async_log_success_event({"standard_logging_object": payload(1)}, None, None, None))
    failed = payload(2, status="failure", response_cost=None, prompt_tokens=0, completion_tokens=0)
    asyncio.run(logger.async_log_failure_event({"standard_logging_object": failed}, None, None, None))
    logger.log_success_event({"standard_logging_object": payload(1)}, None, None, None)  # once more: kept once
    logger.writer.close()
    rows = rows_in(url, 2)
    assert set(rows) == {"chatcmpl-1", "chatcmpl-2"}
    assert (rows["chatcmpl-1"]["spend"], rows["chatcmpl-1"]["litellm_call_id"], rows["chatcmpl-1"]["source"]) == (
        7.35e-06, "call-1", "callback")
    assert (rows["chatcmpl-2"]["status"], rows["chatcmpl-2"]["spend"]) == ("failure", 0.0)
    assert "SECRET" not in json.dumps(rows, default=str)


def test_a_call_litellm_could_not_price_is_kept_as_unknown_not_as_zero(tmp_path):
    url = f"sqlite:///{tmp_path / 'offgate.db'}"
    logger = OffgateSpendLogger(store_url=url, flush_interval=0.05)
    asyncio.run(logger.async_log_success_event({"standard_logging_object": payload(3, response_cost=None)},
                                               None, None, None))
    logger.writer.close()
    assert rows_in(url, 1)["chatcmpl-3"]["spend"] is None


def test_nothing_reaches_litellm_and_rows_wait_for_a_store_that_is_down(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(callback, "RETRY_AFTER_S", 0.05)
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's directory should be")
    url = f"sqlite:///{blocker / 'offgate.db'}"
    logger = OffgateSpendLogger(store_url=url, flush_interval=0.05)
    with caplog.at_level(logging.WARNING, logger="offgate.litellm"):
        logger.log_success_event({"standard_logging_object": payload(1)}, None, None, None)
        logger.log_success_event({}, None, None, None)  # no payload: nothing to do
        logger.log_success_event({"standard_logging_object": {"id": None, "metadata": "odd"}}, None, None, None)
        logger.log_success_event(None, None, None, None)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while "1 spend rows wait for the store" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        blocker.unlink()
        blocker.mkdir()
        rows = rows_in(url, 1)
        logger.writer.close()
    assert set(rows) == {"chatcmpl-1"}
    assert "a LiteLLM payload was not a spend row (None)" in caplog.text
    assert "could not take a spend payload (LiteLLM unaffected)" in caplog.text
