"""What the store must hold for a recorded call sent through the real proxy: the path it keeps,
the call's facts and process, its tokens (reported, or estimated offline the way LiteLLM counts
them) and LiteLLM's cost for them. Each call carries an API key of its own, so its events are
found by that key's fingerprint."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable

import psutil
import pytest

from offgate import tokens
from offgate.catalog import DEFAULT_CATALOG, app_models
from offgate.catalog.base import Reading
from offgate.events import UsageEvent
from offgate.fingerprint import key_fingerprint, load_salt, path_without_keys
from offgate.pricing import current_price_map, price_map
from tests.support.fixture_files import Fixture
from tests.support.litellm_reference import litellm_cost, litellm_token_count
from tests.support.proxy_harness import RunningProxy

API_KEY = "sk-test-0123456789abcdefTOPSECRET"
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
                "audio_prompt_tokens", "audio_completion_tokens")
# LiteLLM's price-map prefix of each provider's models, where it is not "<provider>/".
PRICE_PREFIX = {"openai": "", "anthropic": "", "litellm": "", "vertex": "vertex_ai/", "together": "together_ai/",
                "fireworks": "fireworks_ai/"}


def key_headers(fixture: Fixture, name: str) -> dict[str, str]:
    """The fixture's headers, the scenario's name and an API key of the call's own."""
    return {**fixture.request_headers, "x-test-scenario": name, "authorization": f"Bearer {API_KEY}-{name}"}


def sent_with_key(proxy: RunningProxy, name: str) -> Callable[[UsageEvent], bool]:
    """Picks the events of the call `name` by the fingerprint of its key."""
    fingerprint = key_fingerprint(f"{API_KEY}-{name}", load_salt(proxy.home))
    return lambda event: event.key_fingerprint == fingerprint


def stored_path(fixture: Fixture) -> str:
    """The path as the event keeps it: with the query, less any key in it."""
    return path_without_keys(fixture.path + (f"?{fixture.query}" if fixture.query else ""))


def check_event(event: UsageEvent, fixture: Fixture, expected: dict, reading: Reading) -> None:
    """An event against what the fixture expects: its facts, its tokens (reported, or
    estimated offline the way LiteLLM counts them) and LiteLLM's cost for those tokens."""
    provider, model = fixture.expected["provider"], expected["model"]
    assert (event.provider, event.endpoint, event.route) == (provider, fixture.expected["endpoint"], "direct")
    assert (event.model, event.streamed, event.response_id) == (model, expected["streamed"], expected["response_id"])
    assert (event.parse_status, event.parse_error) == (expected["status"], expected["error"])
    assert (event.source, event.method, event.status_code) == ("proxy", fixture.method, fixture.status)
    assert event.duration_ms is not None and event.ttft_ms is not None and event.ttft_ms <= event.duration_ms
    me = psutil.Process()
    assert (event.pid, event.process_name, event.exe) == (os.getpid(), me.name(), me.exe())
    assert event.user == getpass.getuser()

    reported = expected["usage"] or dict.fromkeys(USAGE_FIELDS)
    # A subscription app's call is priced (and its text tokenized) as the API model it stands for.
    api = app_models.api_model(provider, model)
    priced_as = (api.provider, api.model) if api else (provider, model)
    counted_only = DEFAULT_CATALOG.lookup(fixture.host, fixture.port, fixture.path,
                                          websocket=fixture.websocket).usage == "counted"
    missing = reported["prompt_tokens"] is None or reported["completion_tokens"] is None
    if fixture.status >= 400 or counted_only or (missing and not reading.prompt_texts
                                                  and not reading.completion_texts):
        # Nothing billed, or nothing to count: no tokens are made up.
        assert (event.prompt_tokens, event.completion_tokens) == (
            (None, None) if fixture.status >= 400 else (reported["prompt_tokens"], reported["completion_tokens"]))
        assert event.tokens_estimated is False and event.cost_usd is None
        return
    # What the response did not report is estimated offline from the text the catalog read.
    completion = reported["completion_tokens"]
    if completion is None:
        completion = tokens.count_text(priced_as[1], expected["completion_text"])
    prompt = reported["prompt_tokens"]
    if prompt is None:
        prompt = prompt_estimate(fixture, priced_as[1], reading, completion)
    assert event.tokens_estimated is missing
    assert [getattr(event, field) for field in USAGE_FIELDS] == [prompt, completion, *(
        reported[field] for field in USAGE_FIELDS[2:])]
    check_cost(event, *priced_as, prompt, completion, reported["cached_tokens"], reported["cache_write_tokens"],
               reported["reasoning_tokens"],
               audio=(reported["audio_prompt_tokens"], reported["audio_completion_tokens"]))


def prompt_estimate(fixture: Fixture, model: str | None, reading: Reading, completion: int) -> int:
    """What the reply leaves of the conversation's size when the app reports that; else
    LiteLLM's own count where it reads the request (chat messages), else tiktoken's count
    of the prompt text the catalog read, with the chat overhead per message."""
    if reading.context_tokens is not None:
        return max(reading.context_tokens - completion, 0)
    try:
        request = json.loads(fixture.request_body) if fixture.request_body else {}
    except ValueError:  # a form or multipart body
        request = {}
    messages = request.get("messages") if isinstance(request, dict) else None
    if model and isinstance(messages, list) and all(isinstance(m.get("content"), str) for m in messages):
        return litellm_token_count(model, messages=messages)
    return tokens.estimate_prompt(model, reading.prompt_texts, reading.prompt_messages)


def check_cost(event: UsageEvent, provider: str | None, model: str | None, *counts: int | None,
               audio: tuple[int | None, int | None] = (None, None)) -> None:
    """The event's cost is LiteLLM's for the key LiteLLM's price map gives the model: under
    its provider ("groq/openai/gpt-oss-120b"), else bare ("command-r-08-2024"), else without
    a namespace of its own ("google/gemini-2.5-flash" on Vertex). A call whose model has no
    price (or is unknown) has none."""
    prefix = PRICE_PREFIX.get(provider, f"{provider}/") if provider else ""
    names = [model, model.split("/", 1)[1]] if model and "/" in model else [model] if model else []
    key = next((k for name in names for k in (prefix + name, name) if k in price_map()), None)
    if key is None:
        assert event.cost_usd is None, f"{model!r} has no price under {provider!r}, yet cost {event.cost_usd}"
        return
    assert event.cost_usd == pytest.approx(
        litellm_cost(key, *counts, audio_prompt=audio[0], audio_completion=audio[1]), rel=1e-9)
    assert event.cost_usd > 0
    if key not in current_price_map():  # priced at the last price LiteLLM's map listed, and it says so
        assert (event.cost_note or "").startswith("retired model: last listed price"), event.cost_note
