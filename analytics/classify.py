"""Which captured calls are managed, and by which LiteLLM spend row (ARCHITECTURE.md,
"Classification"):

- gateway: the call went to a configured gateway (route "gateway"). Paired with the spend
  rows by identity, then by likeness (analytics.matching).
- gateway-upstream: the gateway's own call to a provider, seen by an agent on the gateway
  host. A direct call whose response id is a spend row's request_id is one (LiteLLM logs
  the upstream id), and so is any direct call from a gateway process (settings
  `reconcile.gateway_processes`), which may also pair by likeness with a row whose
  api_base is the host the call went to.
- unmanaged: every other direct call.

The two kinds of managed calls are paired separately: the client's call to the gateway and
the gateway's call upstream are two views of one spend row, so each may hold it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from analytics.matching import Calls, IdentityIndex, SpendRows, Tolerances, pair
from offgate.config import ReconcileSettings
from offgate.pricing import without_release_date
from offgate.vocabulary import GATEWAY, GATEWAY_UPSTREAM


@dataclass
class Classified:
    """Per call (in the order given): class index into CLASSES, spend row index or -1,
    and how it was paired (a MatchedBy value, 0 if not)."""

    classes: np.ndarray
    row: np.ndarray
    matched_by: np.ndarray


def classify(calls: Mapping[str, Sequence[Any]], spend: Mapping[str, Sequence[Any]],
             held: Mapping[str, Collection[str]], settings: ReconcileSettings) -> Classified:
    """`calls` and `spend` are columns as the store reads them; `held` names, per class,
    the rows that calls outside this run hold."""
    count = len(calls["id"])
    to_gateway = np.fromiter(map("gateway".__eq__, calls["route"]), dtype=bool, count=count)
    from_gateway = np.fromiter(map(frozenset(settings.gateway_processes).__contains__, calls["process_name"]),
                               dtype=bool, count=count)
    tolerances = Tolerances(settings.time_tolerance_s, settings.token_tolerance, settings.estimated_token_tolerance)
    classes = np.where(to_gateway, 0, np.where(from_gateway, 1, 2)).astype(np.int8)
    row = np.full(count, -1, dtype=np.int64)
    matched_by = np.zeros(count, dtype=np.int8)

    call_columns = _CallColumns.of(calls)
    spend_columns = _SpendColumns.of(spend)
    for members, likeness, with_host, held_rows in (
        (np.nonzero(to_gateway)[0], None, False, held.get(GATEWAY, ())),
        (np.nonzero(~to_gateway)[0], from_gateway, True, held.get(GATEWAY_UPSTREAM, ())),
    ):
        keyed = likeness is None or bool(likeness[members].any())  # else no call may pair by likeness
        pairs = pair(call_columns.select(members, likeness, with_host, keyed),
                     spend_columns.select(with_host, keyed, held_rows), tolerances)
        row[members[pairs.call]] = pairs.row
        matched_by[members[pairs.call]] = pairs.matched_by
    classes[(row >= 0) & ~to_gateway] = 1  # a direct call LiteLLM logged is the gateway's own
    return Classified(classes, row, matched_by)


def numbers(values: Sequence[float | None]) -> np.ndarray:
    """A column of numbers as float64, NaN where there is none."""
    return np.array(values, dtype=np.float64).reshape(len(values))


@functools.lru_cache(maxsize=65536)
def model_key(name: str | None) -> str | None:
    """What a model name is compared by: lower case, without a provider or deployment
    prefix and without a release date ("openai/gpt-4o-mini-2024-07-18" -> "gpt-4o-mini")."""
    if not name:
        return None
    return without_release_date(name.strip().lower().rsplit("/", 1)[-1]) or None


@dataclass
class _CallColumns:
    """The call columns pairing needs, converted once for both passes."""

    source: Mapping[str, Sequence[Any]]
    ts: np.ndarray
    prompt_tokens: np.ndarray
    completion_tokens: np.ndarray
    estimated: np.ndarray

    @classmethod
    def of(cls, calls: Mapping[str, Sequence[Any]]) -> _CallColumns:
        return cls(calls, numbers(calls["ts"]), _counts(calls["prompt_tokens"]), _counts(calls["completion_tokens"]),
                   np.asarray(calls["tokens_estimated"], dtype=bool).reshape(len(calls["id"])))

    def select(self, members: np.ndarray, likeness: np.ndarray | None, with_host: bool, keyed: bool) -> Calls:
        index = members.tolist()

        def picked(column: str) -> list:
            return list(map(self.source[column].__getitem__, index))

        keys = _keys(picked("model"), picked("host") if with_host else None) if keyed else [None] * len(index)
        return Calls(
            ts=self.ts[members],
            model_key=keys,
            prompt_tokens=self.prompt_tokens[members],
            completion_tokens=self.completion_tokens[members],
            estimated=self.estimated[members],
            likeness=np.ones(len(index), dtype=bool) if likeness is None else likeness[members],
            response_id=picked("response_id"),
            litellm_call_id=picked("litellm_call_id"),
        )


@dataclass
class _SpendColumns:
    """The spend columns pairing needs, converted once for both passes."""

    source: Mapping[str, Sequence[Any]]
    start: np.ndarray
    prompt_tokens: np.ndarray
    completion_tokens: np.ndarray
    identity: IdentityIndex
    hosts: list[str | None]

    @classmethod
    def of(cls, spend: Mapping[str, Sequence[Any]]) -> _SpendColumns:
        bases = spend["api_base"]
        hosts = {base: _host(base) for base in dict.fromkeys(bases)}
        return cls(spend, numbers(spend["start"]), _counts(spend["prompt_tokens"]),
                   _counts(spend["completion_tokens"]), IdentityIndex(spend["request_id"], spend["litellm_call_id"]),
                   list(map(hosts.__getitem__, bases)))

    def select(self, with_host: bool, keyed: bool, held: Collection[str]) -> SpendRows:
        count = len(self.start)
        hosts = self.hosts if with_host else None
        held = frozenset(held)
        return SpendRows(
            start=self.start,
            model_key=_keys(self.source["model"], hosts) if keyed else [None] * count,
            group_key=_keys(self.source["model_group"], hosts) if keyed else [None] * count,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            identity=self.identity,
            available=~np.fromiter(map(held.__contains__, self.source["request_id"]), dtype=bool, count=count)
            if held else np.ones(count, dtype=bool),
        )


def _keys(names: Sequence[str | None], hosts: Sequence[str | None] | None) -> list[str | None]:
    """Each name's model key (qualified by its host, when given), worked out once per distinct value."""
    if hosts is None:
        table = {name: model_key(name) for name in dict.fromkeys(names)}
        return list(map(table.__getitem__, names))
    pairs = list(zip(names, hosts, strict=True))
    qualified = {pair: _keyed(model_key(pair[0]), pair[1]) for pair in dict.fromkeys(pairs)}
    return list(map(qualified.__getitem__, pairs))


def _keyed(key: str | None, host: str | None) -> str | None:
    """The key, qualified by the host the call went to when hosts must agree."""
    if key is None or host is None:
        return key
    return f"{key}@{host}"


@functools.lru_cache(maxsize=1024)
def _host(api_base: str | None) -> str | None:
    if not api_base:
        return None
    return (urlsplit(api_base if "://" in api_base else f"//{api_base}").hostname or "").lower() or None


def _counts(values: Sequence[int | None]) -> np.ndarray:
    """Token counts as int64, -1 where unknown (exact: counts stay far below 2**53)."""
    counts = numbers(values)
    return np.where(np.isnan(counts), -1, counts).astype(np.int64)
