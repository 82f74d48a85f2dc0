"""The clouds' billing exports (Azure cost details, Google Cloud's billing export, AWS CUR for
Bedrock): LLM rows become lines per day, account and model with tokens by class; other
services are skipped; a bad row is reported and the rest imported; re-importing changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.bill.files import FileBillSource
from analytics.bill.source import BillInputError
from offgate.store import Store
from tests.support.bill_apis import import_twice

FIXTURES = Path(__file__).parent / "fixtures" / "bills"


def read(name: str) -> tuple[FileBillSource, list]:
    source = FileBillSource(FIXTURES / name)
    return source, [line for lines in source.lines(lambda done, total: None) for line in lines]


def test_azure_cost_details_count_thousands_of_tokens_per_meter():
    source, lines = read("azure-cost-details.csv")
    assert source.problems == [] and len(lines) == 3  # the storage row is skipped
    by_meter = {line.model: line for line in lines}
    cached = by_meter["gpt-4o-mini-0718 cached Inp glbl 1K Tokens"]
    assert (cached.provider, cached.day, cached.cache_read_tokens, cached.cost_usd) == (
        "azure", date(2026, 11, 2), 400_000, 0.03)
    assert by_meter["gpt-4o-mini-0718 Inp glbl 1K Tokens"].input_tokens == 1_200_000
    assert by_meter["gpt-4o-mini-0718 Outp glbl 1K Tokens"].output_tokens == 100_000
    assert {line.account for line in lines} == {
        "/subscriptions/s1/resourceGroups/ai/providers/Microsoft.CognitiveServices/accounts/contoso-openai"}


def test_vertex_billing_export_rows_of_vertex_ai():
    source, lines = read("vertex-billing-export.csv")
    assert source.problems == []
    found = sorted((line.model, line.input_tokens, line.output_tokens, line.cost_usd, line.account) for line in lines)
    assert found == [
        ("Gemini 2.5 Flash Input Text Tokens", 300_000, 0, 0.09, "research-42"),
        ("Gemini 2.5 Flash Output Text Tokens", 0, 100_000, 0.25, "research-42")]


def test_aws_cur_bedrock_rows_and_a_bad_row_reported(tmp_path):
    source, lines = read("aws-cur-bedrock.csv")
    assert source.problems == ["line 5: ValueError: could not convert string to float: 'n/a'"]
    assert sorted((line.model, line.input_tokens, line.output_tokens, line.cost_usd) for line in lines) == [
        ("USE1-Claude3.5Sonnet-input-tokens", 500_000, 0, 1.5), ("USE1-Claude3.5Sonnet-output-tokens", 0, 20_000, 0.3)]
    with Store.open(f"sqlite:///{tmp_path / 'offgate.db'}") as store:
        first, again, _ = import_twice(lambda: FileBillSource(FIXTURES / "aws-cur-bedrock.csv"), store)
    assert (first.changed, again.changed) == (2, 0)


def test_a_file_that_is_no_billing_export_is_refused_saying_what_is_read(tmp_path):
    other = tmp_path / "spend.csv"
    other.write_text("request_id,startTime\nr1,2026-11-02\n", encoding="utf-8")
    with pytest.raises(BillInputError, match="not a billing export offgate reads"):
        list(FileBillSource(other).lines(lambda done, total: None))
