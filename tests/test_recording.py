"""From a parser's reading to the stored event: estimates and prices."""

from __future__ import annotations

import pytest

from offgate.catalog import DEFAULT_CATALOG
from offgate.recording import build_event
from tests.fixtures import load_fixture, read_call
from tests.litellm_reference import litellm_cost

FACTS = dict(host="contoso-finance.openai.azure.com", path="/openai/deployments/finance-bot/chat/completions")


def test_azure_deployment_with_its_own_name_is_priced_by_the_model_it_answered_with():
    fixture = load_fixture("azure/deployment_chat")
    match = DEFAULT_CATALOG.lookup(FACTS["host"], 443, FACTS["path"])
    parser = match.new_parser()
    parser.read_request(fixture.request_body)
    parser.start_response(200, fixture.response_headers)
    parser.feed(fixture.response_body)
    reading = parser.finish()
    assert (reading.model, reading.response_model) == ("finance-bot", "gpt-4o-mini-2024-07-18")
    event = build_event(match, reading, status_code=200, **FACTS)
    assert event.model == "finance-bot"  # what the client asked for
    usage = fixture.expected["usage"]
    assert event.cost_usd == pytest.approx(
        litellm_cost("azure/gpt-4o-mini-2024-07-18", usage["prompt_tokens"], usage["completion_tokens"]), rel=1e-9)


def test_unknown_model_has_no_cost_and_says_why():
    fixture = load_fixture("openai/chat")
    reading = read_call(fixture)
    reading.model = "house-model-7"
    reading.response_model = None
    match = DEFAULT_CATALOG.lookup("api.openai.com", 443, "/v1/chat/completions")
    event = build_event(match, reading, status_code=200, host="api.openai.com", path="/v1/chat/completions")
    assert event.cost_usd is None
    assert event.cost_note == "no price for model house-model-7"
    assert event.prompt_tokens == fixture.expected["usage"]["prompt_tokens"]
