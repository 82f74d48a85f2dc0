"""Pair captured calls with LiteLLM spend rows, one to one.

1. By identity. LiteLLM's request_id is the upstream response id, which the gateway passes
   to the client, so a call's response id finds its row; so does the call's
   x-litellm-call-id, as the row's litellm_call_id or request_id (LiteLLM's own lookup
   accepts either). Response ids claim first, call ids then claim from the rows left; a
   row two calls claim goes to the earlier call.
2. By likeness, for the calls and rows left: same model key, start times at most
   `time_s` apart, prompt and completion tokens close (a relative tolerance, looser for
   estimated tokens, never tighter than TOKEN_SLACK). A call without tokens, or not marked
   `likeness`, is paired by identity only. A pair costs
       |gap in time| / time_s + each token gap / the gap allowed     (each term <= 1).
   The candidate pairs form a graph whose connected components are independent, so the
   best assignment of the whole (most pairs, then least cost) is the union of the best of
   each component. Almost every component is one call and one row; a star (one call or one
   row) takes its cheapest edge; the others go to an exact solver (analytics.assignment).
   A component of more than BLOCK calls and more than BLOCK rows (a long burst of look-alike
   calls) is solved BLOCK calls at a time in time order: the only place the result can fall
   short of the optimum, and it is logged.

Candidates come from one sort and two binary searches (numpy): rows sorted by (model key,
time), each call looks up its key's rows within the tolerance. Time and memory grow as
n log n plus the number of candidate pairs, which stays proportional to n as long as the
calls per model and tolerance window do not grow with n.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from analytics.assignment import best_pairs

log = logging.getLogger("offgate.reconcile")

TOKEN_SLACK = 2  # token counts this close always agree (tokenizers differ by a token or two)
BLOCK = 64
PAIRS_PER_CHUNK = 4_000_000  # candidate pairs built at once, to bound memory
_KEY_SHIFT = 41  # composite sort key: model key code above, milliseconds (69 years) below


class MatchedBy(IntEnum):
    RESPONSE_ID = 1
    LITELLM_CALL_ID = 2
    LIKENESS = 3

    @property
    def label(self) -> str:
        return {1: "response_id", 2: "litellm_call_id", 3: "time_model_tokens"}[self.value]


@dataclass(frozen=True)
class Tolerances:
    time_s: float
    tokens: float
    estimated_tokens: float


@dataclass
class Calls:
    """The calls to pair, in time order. Token counts are -1 when unknown."""

    ts: np.ndarray  # float64 epoch seconds
    model_key: Sequence[str | None]
    prompt_tokens: np.ndarray  # int64
    completion_tokens: np.ndarray  # int64
    estimated: np.ndarray  # bool
    likeness: np.ndarray  # bool: may be paired by likeness
    response_id: Sequence[str | None]
    litellm_call_id: Sequence[str | None]


class IdentityIndex:
    """Spend rows by request_id and by litellm_call_id (the first row, if several share one),
    each built when first needed. Keyed by text, looked up with a call's id or None."""

    def __init__(self, request_id: Sequence[str], litellm_call_id: Sequence[str | None]) -> None:
        self._request_id = request_id
        self._litellm_call_id = litellm_call_id

    @functools.cached_property
    def by_request_id(self) -> dict[str | None, int]:
        return dict(zip(self._request_id, range(len(self._request_id)), strict=True))

    @functools.cached_property
    def by_call_id(self) -> dict[str | None, int]:
        # Filled from the end, so that the first row of a shared call id is the one kept.
        rows = zip(reversed(self._litellm_call_id), range(len(self._litellm_call_id) - 1, -1, -1), strict=True)
        return {call_id: row for call_id, row in rows if call_id}


@dataclass
class SpendRows:
    """The rows to pair with. A row answers to its model's key and to its model group's."""

    start: np.ndarray  # float64 epoch seconds
    model_key: Sequence[str | None]
    group_key: Sequence[str | None]
    prompt_tokens: np.ndarray  # int64
    completion_tokens: np.ndarray  # int64
    identity: IdentityIndex
    available: np.ndarray  # bool: False for rows that calls outside this run hold


@dataclass
class Pairs:
    call: np.ndarray  # index into Calls
    row: np.ndarray  # index into SpendRows
    matched_by: np.ndarray  # MatchedBy values


def pair(calls: Calls, rows: SpendRows, tolerances: Tolerances) -> Pairs:
    identity = _pair_by_identity(calls, rows)
    paired_calls = np.zeros(len(calls.ts), dtype=bool)
    paired_calls[identity.call] = True
    taken_rows = ~rows.available
    taken_rows[identity.row] = True
    free_calls = ~paired_calls & calls.likeness & (calls.prompt_tokens >= 0)
    edges = _candidates(calls, rows, free_calls, ~taken_rows, tolerances)
    like_call, like_row = _assign(*edges, calls.ts)
    return Pairs(
        call=np.concatenate([identity.call, like_call]),
        row=np.concatenate([identity.row, like_row]),
        matched_by=np.concatenate([identity.matched_by, np.full(len(like_call), MatchedBy.LIKENESS, np.int8)]),
    )


def _pair_by_identity(calls: Calls, rows: SpendRows) -> Pairs:
    """Response ids claim their rows first, then call ids claim from what is left; when
    several calls claim one row, the earliest call gets it."""
    identity = rows.identity
    usable = rows.available.copy()
    found = []
    claims = [(MatchedBy.RESPONSE_ID, identity.by_request_id, calls.response_id)]
    if any(calls.litellm_call_id):
        claims += [(MatchedBy.LITELLM_CALL_ID, identity.by_call_id, calls.litellm_call_id),
                   (MatchedBy.LITELLM_CALL_ID, identity.by_request_id, calls.litellm_call_id)]
    unpaired = np.ones(len(calls.ts), dtype=bool)
    for how, index, ids in claims:
        row = _look_up(index, ids)
        claiming = np.nonzero(unpaired & (row >= 0))[0]
        claiming = claiming[usable[row[claiming]]]
        taken, first = np.unique(row[claiming], return_index=True)  # calls are in time order
        winners = claiming[first]
        usable[taken] = False
        unpaired[winners] = False
        found.append((winners, taken, np.full(len(winners), how, dtype=np.int8)))
    call, row, how = (np.concatenate(column) for column in zip(*found, strict=True))
    order = np.argsort(call, kind="stable")
    return Pairs(call[order], row[order], how[order])


def _look_up(index: dict[str | None, int], ids: Sequence[str | None]) -> np.ndarray:
    """The row each id names, -1 for none."""
    rows = np.array(list(map(index.get, ids)), dtype=np.float64).reshape(len(ids))
    return np.where(np.isnan(rows), -1, rows).astype(np.int64)


def _candidates(calls: Calls, rows: SpendRows, free_calls: np.ndarray, free_rows: np.ndarray,
                tolerances: Tolerances) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(call, row, cost) of every pair alike enough, built a chunk of calls at a time."""
    if not free_calls.any() or not free_rows.any():
        return _no_edges()
    codes: dict[str | None, int] = {None: -1}
    candidates = np.nonzero(free_calls)[0]
    candidate_code = _encode([calls.model_key[i] for i in candidates.tolist()], codes)
    call_index = candidates[candidate_code >= 0]
    call_code = candidate_code[candidate_code >= 0]
    model_code, group_code = _encode(rows.model_key, codes), _encode(rows.group_key, codes)
    by_model = free_rows & (model_code >= 0)
    by_group = free_rows & (group_code >= 0) & (group_code != model_code)
    entry_row = np.concatenate([np.nonzero(by_model)[0], np.nonzero(by_group)[0]])
    entry_code = np.concatenate([model_code[by_model], group_code[by_group]])
    if not len(call_index) or not len(entry_row):
        return _no_edges()

    window_ms = int(round(tolerances.time_s * 1000))
    origin = min(calls.ts[call_index].min(), rows.start[entry_row].min()) - tolerances.time_s - 1

    def composite(code: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        return (code << _KEY_SHIFT) + np.round((seconds - origin) * 1000).astype(np.int64)

    entry_key = composite(entry_code, rows.start[entry_row])
    order = np.argsort(entry_key, kind="stable")
    entry_key, entry_row = entry_key[order], entry_row[order]
    call_key = composite(call_code, calls.ts[call_index])
    low = np.searchsorted(entry_key, call_key - window_ms, side="left")
    high = np.searchsorted(entry_key, call_key + window_ms, side="right")
    counts = high - low

    found = []
    cumulative = np.cumsum(counts)
    begin = 0
    while begin < len(counts):
        before = int(cumulative[begin - 1]) if begin else 0
        end = max(int(np.searchsorted(cumulative, before + PAIRS_PER_CHUNK, side="right")), begin + 1)
        part = counts[begin:end]
        total = int(part.sum())
        if total:
            call = np.repeat(call_index[begin:end], part)
            offset = np.arange(total) - np.repeat(np.cumsum(part) - part, part)
            row = entry_row[np.repeat(low[begin:end], part) + offset]
            found.append(_alike(calls, rows, call, row, tolerances))
        begin = end
    if not found:
        return _no_edges()
    return tuple(np.concatenate(column) for column in zip(*found, strict=True))  # type: ignore[return-value]


def _alike(calls: Calls, rows: SpendRows, call: np.ndarray, row: np.ndarray,
           tolerances: Tolerances) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs whose tokens agree, with their cost."""
    tolerance = np.where(calls.estimated[call], tolerances.estimated_tokens, tolerances.tokens)
    cost = np.minimum(np.abs(calls.ts[call] - rows.start[row]) / tolerances.time_s, 1.0)
    agree = np.ones(len(call), dtype=bool)
    for ours, theirs in ((calls.prompt_tokens, rows.prompt_tokens), (calls.completion_tokens, rows.completion_tokens)):
        mine, logged = ours[call], theirs[row]
        known = mine >= 0
        gap = np.abs(mine - logged)
        allowed = np.maximum(TOKEN_SLACK, tolerance * np.maximum(mine, logged))
        agree &= ~known | (gap <= allowed)
        cost += np.where(known, np.minimum(gap / allowed, 1.0), 0.0)
    return call[agree], row[agree], cost[agree]


def _assign(call: np.ndarray, row: np.ndarray, cost: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best one-to-one choice among candidate pairs, component by component."""
    if not len(call):
        return call, row
    call_degree = np.bincount(call)
    row_degree = np.bincount(row)
    alone = (call_degree[call] == 1) & (row_degree[row] == 1)
    chosen_call, chosen_row = [call[alone]], [row[alone]]
    call, row, cost = call[~alone], row[~alone], cost[~alone]
    for members in _components(call, row):
        picked = _best_in_component(call[members], row[members], cost[members], ts)
        chosen_call.append(picked[0])
        chosen_row.append(picked[1])
    return np.concatenate(chosen_call), np.concatenate(chosen_row)


def _components(call: np.ndarray, row: np.ndarray) -> list[np.ndarray]:
    """The edge indices of each connected component (union-find over the edges' nodes)."""
    nodes, node_of_edge = np.unique(np.concatenate([call * 2, row * 2 + 1]), return_inverse=True)
    left, right = node_of_edge[: len(call)].tolist(), node_of_edge[len(call):].tolist()
    parent = list(range(len(nodes)))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in zip(left, right, strict=True):
        first, second = root(a), root(b)
        if first != second:
            parent[max(first, second)] = min(first, second)
    component = np.array([root(node) for node in left], dtype=np.int64)
    order = np.argsort(component, kind="stable")
    boundaries = np.nonzero(np.diff(component[order]))[0] + 1
    return np.split(order, boundaries)


def _best_in_component(call: np.ndarray, row: np.ndarray, cost: np.ndarray,
                       ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    calls = np.unique(call)
    rows = np.unique(row)
    if len(calls) == 1 or len(rows) == 1:  # a star: its cheapest edge
        best = int(np.argmin(cost))
        return call[best : best + 1], row[best : best + 1]
    if len(calls) <= BLOCK or len(rows) <= BLOCK:
        return _solve(call, row, cost)
    log.info("reconcile: %d look-alike calls and %d spend rows within the tolerance of each other; "
             "pairing them %d calls at a time", len(calls), len(rows), BLOCK)
    by_time = calls[np.argsort(ts[calls], kind="stable")]
    block_of_call = np.empty(len(calls), dtype=np.int64)
    block_of_call[np.searchsorted(calls, by_time)] = np.arange(len(calls)) // BLOCK
    edge_block = block_of_call[np.searchsorted(calls, call)]
    row_taken = np.zeros(len(rows), dtype=bool)
    edge_row = np.searchsorted(rows, row)
    chosen_call, chosen_row = [], []
    for block in range(int(edge_block.max()) + 1):
        keep = (edge_block == block) & ~row_taken[edge_row]
        if keep.any():
            picked_call, picked_row = _solve(call[keep], row[keep], cost[keep])
            row_taken[np.searchsorted(rows, picked_row)] = True
            chosen_call.append(picked_call)
            chosen_row.append(picked_row)
    return np.concatenate(chosen_call), np.concatenate(chosen_row)


def _solve(call: np.ndarray, row: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact best pairing of these edges."""
    calls, call_local = np.unique(call, return_inverse=True)
    rows, row_local = np.unique(row, return_inverse=True)
    edges = list(zip(call_local.tolist(), row_local.tolist(), cost.tolist(), strict=True))
    pairs = best_pairs(len(calls), len(rows), edges)
    return calls[[p[0] for p in pairs]], rows[[p[1] for p in pairs]]


def _encode(names: Sequence[str | None], codes: dict[str | None, int]) -> np.ndarray:
    """Each name's number, shared through `codes` (which maps None to -1)."""
    for name in dict.fromkeys(names):
        if name not in codes:
            codes[name] = len(codes) - 1
    return np.fromiter(map(codes.__getitem__, names), dtype=np.int64, count=len(names))


def _no_edges() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0)
