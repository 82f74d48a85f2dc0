"""A call as an agent's log tells it, and the record offgate keeps of it.

Tokens follow the store's convention (offgate.events): the prompt counts every input token,
cache reads and writes included. The record's id is a hash of the agent and the call's own
key (Claude Code's message and request ids; Codex's time and counts, as ccusage dedupes), so
reading a log again, or a copy of it, never counts a call twice. A call made through a
configured gateway is `route: gateway`, like the proxy's. An agent signed in with a Claude or
ChatGPT plan pays a seat, not tokens: its cost is the API-equivalent, and the note says so.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from offgate import pricing
from offgate.catalog import PROVIDERS
from offgate.catalog.base import Usage
from offgate.events import Route, UsageEvent
from offgate.pricing_basis import on_a_plan


@dataclass(frozen=True, slots=True)
class AgentCall:
    """One call an agent logged. `key` identifies it among the agent's calls."""

    key: str
    ts: datetime
    model: str
    input_tokens: int  # uncached input
    output_tokens: int  # reasoning included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None
    response_id: str | None = None
    provider: str | None = None  # the call's own provider, for an agent that calls several (OpenCode)


@dataclass(frozen=True, slots=True)
class AgentSetup:
    """How an agent was set up on this home: where it sends calls, and whether on a plan."""

    agent: str
    provider: str
    default_base_url: str  # the provider's API, as the agent's SDK names it
    api_path: str  # what the SDK appends to the base URL
    base_url: str | None = None  # set by the user (a gateway, a proxy)
    subscription: bool = False
    provider_base_urls: Mapping[str, str] = field(default_factory=dict)  # set per provider (OpenCode)


def token_count(value: object) -> int | None:
    """A token count as a log gives it (a JSON number, cut to a whole one, at least 0); None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        return None
    return max(int(value), 0)


def record_id(agent: str, key: str) -> str:
    return hashlib.sha256(f"agent-log\0{agent}\0{key}".encode()).hexdigest()[:32]


def event_from(call: AgentCall, setup: AgentSetup, gateways: list[str], *, device: str,
               user: str | None) -> UsageEvent:
    if call.provider is not None and call.provider != setup.provider:
        setup = _for_provider(setup, call.provider)
    host, path, route = _destination(setup.base_url or setup.default_base_url, setup.default_base_url,
                                     setup.api_path, tuple(gateways))
    usage = Usage(
        prompt_tokens=call.input_tokens + call.cache_read_tokens + call.cache_write_tokens,
        completion_tokens=call.output_tokens,
        cached_tokens=call.cache_read_tokens,
        cache_write_tokens=call.cache_write_tokens,
        reasoning_tokens=call.reasoning_tokens,
    )
    cost, note = pricing.cost_usd(call.model, setup.provider, usage, at=call.ts)
    if setup.subscription and cost is not None:
        note = on_a_plan(note)
    return UsageEvent(
        id=record_id(setup.agent, call.key), ts=call.ts, source="agent-log", route=route, provider=setup.provider,
        app=setup.agent, endpoint="agent-log", host=host, path=path, model=call.model, streamed=True,
        status_code=200, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens, cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens, cost_usd=cost, cost_note=note, response_id=call.response_id,
        process_name=setup.agent, device=device, user=user,
    )


@functools.lru_cache(maxsize=256)
def _destination(base_url: str, default_base_url: str, api_path: str,
                 gateways: tuple[str, ...]) -> tuple[str, str, Route]:
    """(host, path, route) of an agent's calls to `base_url`: the same for all its calls, so worked out once."""
    base = urlsplit(base_url)
    host = base.hostname or urlsplit(default_base_url).hostname or ""
    route: Route = "gateway" if any(_same_origin(base_url, gateway) for gateway in gateways) else "direct"
    return host, base.path.rstrip("/") + api_path, route


def _for_provider(setup: AgentSetup, provider: str) -> AgentSetup:
    """The agent's setup for a call to another provider: the base URL the user set for it, else
    that provider's API host as the catalog knows it."""
    hosts = [host for known in PROVIDERS if known.name == provider for host in known.hosts if "*" not in host]
    return replace(setup, provider=provider, default_base_url=f"https://{hosts[0]}" if hosts else "", api_path="",
                   base_url=setup.provider_base_urls.get(provider))


def _same_origin(url: str, gateway: str) -> bool:
    one, other = urlsplit(url), urlsplit(gateway)
    return (one.hostname, one.port) == (other.hostname, other.port) and bool(one.hostname)
