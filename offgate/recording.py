"""From what a parser read to the stored record: fill in missing tokens, price the call.

Every capture path (proxy, native host) ends here, so estimates and costs are made the
same way whichever path saw the call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from offgate import pricing, tokens
from offgate.catalog import app_models
from offgate.catalog.base import Reading, Usage
from offgate.catalog.registry import Match
from offgate.events import UsageEvent
from offgate.pricing_basis import APP_EQUIVALENT_NOTE


def settle_usage(reading: Reading, status_code: int | None,
                 tokenizer_model: str | None = None) -> tuple[Usage | None, bool]:
    """The call's tokens and whether any were estimated (with the tokenizer of
    `tokenizer_model`, default the reading's model). Reported usage always wins;
    a failed call (4xx/5xx) has none, since providers do not bill it."""
    if status_code is not None and status_code >= 400:
        return None, False
    reported = reading.usage or Usage()
    if not needs_texts(reading, status_code):
        return reported, False
    if not reading.prompt_texts and not reading.completion_texts:
        return (reading.usage, False)
    usage = replace(reported)
    model = tokenizer_model or reading.model
    if usage.completion_tokens is None:
        counted = tokens.estimate_completion(model, reading.completion_texts)
        usage.completion_tokens = counted + _not_kept(counted, reading.completion_texts,
                                                      reading.completion_chars_not_kept)
    if usage.prompt_tokens is None and reading.context_tokens is not None:
        # The service counted the whole conversation: the prompt is what the reply leaves.
        usage.prompt_tokens = max(reading.context_tokens - usage.completion_tokens, 0)
    elif usage.prompt_tokens is None:
        usage.prompt_tokens = tokens.estimate_prompt(model, reading.prompt_texts, reading.prompt_messages)
        if reading.prompt_chars_not_kept:
            texts_only = tokens.estimate_prompt(model, reading.prompt_texts, 0)
            usage.prompt_tokens += _not_kept(texts_only, reading.prompt_texts, reading.prompt_chars_not_kept)
    return usage, True


def _not_kept(kept_tokens: int, kept: list[str], chars: int) -> int:
    """Tokens of the `chars` characters a parser counted past its cap, at the kept text's rate."""
    kept_chars = sum(map(len, kept))
    return round(kept_tokens * chars / kept_chars) if chars and kept_chars else 0


def needs_texts(reading: Reading, status_code: int | None) -> bool:
    """Whether an estimate may need the reading's texts: the call succeeded and its
    response did not report both token counts."""
    if status_code is not None and status_code >= 400:
        return False
    usage = reading.usage
    return usage is None or usage.prompt_tokens is None or usage.completion_tokens is None


def build_event(match: Match, reading: Reading, *, status_code: int | None, app: str | None = None,
                **facts: Any) -> UsageEvent:
    """One UsageEvent; `app` names the tool when the capture path knows it better than the
    catalog; `facts` are the capture path's own fields (host, path, timings...)."""
    # A subscription app bills no tokens: its calls are priced as the API model they stand for.
    api_model = app_models.api_model(match.provider, reading.model)
    usage, estimated = settle_usage(reading, status_code, api_model.model if api_model else None)
    if usage is None:
        cost, note = None, _no_usage_note(match, status_code)
    elif api_model is not None:
        cost, note = pricing.cost_usd(api_model.model, api_model.provider, usage)
        if cost is not None:
            priced_as = f"{api_model.provider}/{api_model.model}" if api_model.provider else api_model.model
            notes = [f"{APP_EQUIVALENT_NOTE} {priced_as}", api_model.note, note]
            note = "; ".join(part for part in notes if part)
    else:
        cost, note = pricing.cost_usd(reading.model, match.provider, usage)
        if cost is None and reading.response_model not in (None, reading.model):
            # An Azure deployment has a name of its own; the response names the model priced.
            cost, note = pricing.cost_usd(reading.response_model, match.provider, usage)
    usage = usage or Usage()
    return UsageEvent(
        route=match.route,
        provider=match.provider,
        app=app or match.app,
        endpoint=match.endpoint,
        model=reading.model,
        streamed=reading.streamed,
        status_code=status_code,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        audio_prompt_tokens=usage.audio_prompt_tokens,
        audio_completion_tokens=usage.audio_completion_tokens,
        tokens_estimated=estimated,
        cost_usd=cost,
        cost_note=note,
        provider_cost_usd=reading.reported_cost_usd,
        response_id=reading.response_id,
        parse_status=reading.status,
        parse_error=reading.error,
        **facts,
    )


def _no_usage_note(match: Match, status_code: int | None) -> str:
    if status_code and status_code >= 400:
        return f"no usage: upstream answered {status_code}"
    if match.usage == "counted":
        return f"counted only: {match.provider} sends protobuf in a private schema; no tokens are read"
    return "no usage: nothing to count"


def unreadable_event(match: Match, error: Exception, *, status_code: int | None, app: str | None = None,
                     **facts: Any) -> UsageEvent:
    """The record of a call that offgate itself failed to turn into an event (a bug, not
    the provider's doing): kept, marked unparsed, with the type of the error (its message
    may quote the body)."""
    return UsageEvent(route=match.route, provider=match.provider, app=app or match.app, endpoint=match.endpoint,
                      status_code=status_code, parse_status="unparsed", parse_error=f"offgate: {type(error).__name__}",
                      **facts)
