"""Pairing calls with spend rows: identity first, then likeness, one to one, optimal."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.matching import BLOCK, Calls, IdentityIndex, MatchedBy, SpendRows, Tolerances, pair

TOLERANCES = Tolerances(time_s=10.0, tokens=0.05, estimated_tokens=0.25)


def calls(*specs: dict) -> Calls:
    """Calls from dicts: t, model, prompt, completion (None: unknown), estimated, likeness, ids."""
    return Calls(
        ts=np.array([s.get("t", 0.0) for s in specs], dtype=np.float64),
        model_key=[s.get("model", "gpt-4o-mini") for s in specs],
        prompt_tokens=np.array([-1 if s.get("prompt", 100) is None else s.get("prompt", 100) for s in specs],
                               dtype=np.int64),
        completion_tokens=np.array([-1 if s.get("completion", 10) is None else s.get("completion", 10)
                                    for s in specs], dtype=np.int64),
        estimated=np.array([s.get("estimated", False) for s in specs], dtype=bool),
        likeness=np.array([s.get("likeness", True) for s in specs], dtype=bool),
        response_id=[s.get("response_id") for s in specs],
        litellm_call_id=[s.get("call_id") for s in specs],
    )


def rows(*specs: dict) -> SpendRows:
    """Spend rows from dicts: t, model, group, prompt, completion, request_id, call_id, available."""
    return SpendRows(
        start=np.array([s.get("t", 0.0) for s in specs], dtype=np.float64),
        model_key=[s.get("model", "gpt-4o-mini") for s in specs],
        group_key=[s.get("group") for s in specs],
        prompt_tokens=np.array([s.get("prompt", 100) for s in specs], dtype=np.int64),
        completion_tokens=np.array([s.get("completion", 10) for s in specs], dtype=np.int64),
        identity=IdentityIndex([s.get("request_id", f"row-{n}") for n, s in enumerate(specs)],
                               [s.get("call_id") for s in specs]),
        available=np.array([s.get("available", True) for s in specs], dtype=bool),
    )


def paired(result) -> dict[int, tuple[int, str]]:
    return {int(c): (int(r), MatchedBy(int(h)).label) for c, r, h in
            zip(result.call, result.row, result.matched_by, strict=True)}


def test_identity_wins_over_a_closer_look_alike():
    result = pair(calls({"t": 0, "response_id": "chatcmpl-b"}),
                  rows({"t": 0, "request_id": "chatcmpl-a"}, {"t": 9, "request_id": "chatcmpl-b"}), TOLERANCES)
    assert paired(result) == {0: (1, "response_id")}


def test_litellm_call_id_finds_the_row_by_its_call_id_or_its_request_id():
    result = pair(calls({"call_id": "call-1", "model": "other"}, {"call_id": "call-2", "model": "other"}),
                  rows({"call_id": "call-1"}, {"request_id": "call-2"}), TOLERANCES)
    assert paired(result) == {0: (0, "litellm_call_id"), 1: (1, "litellm_call_id")}


def test_a_row_is_held_once_even_when_two_calls_name_it():
    result = pair(calls({"response_id": "x"}, {"t": 1, "response_id": "x", "prompt": 500}),
                  rows({"request_id": "x"}), TOLERANCES)
    assert paired(result) == {0: (0, "response_id")}


def test_likeness_needs_model_time_and_tokens_to_agree():
    spend = rows({"t": 100, "prompt": 1000, "completion": 100})
    assert paired(pair(calls({"t": 90, "prompt": 1050, "completion": 95}), spend, TOLERANCES)) == {
        0: (0, "time_model_tokens")}  # 10 s apart, tokens 5% (of the larger) apart: inside
    for far in ({"t": 89.9}, {"model": "gpt-4o"}, {"prompt": 1053}, {"completion": 89}):
        assert paired(pair(calls({"t": 100, "prompt": 1000, "completion": 100, **far}), spend, TOLERANCES)) == {}


def test_estimated_tokens_get_the_looser_tolerance_and_tiny_counts_a_slack():
    spend = rows({"prompt": 1000, "completion": 100}, {"prompt": 3, "completion": 1})
    result = pair(calls({"prompt": 1240, "completion": 80, "estimated": True}, {"prompt": 5, "completion": 3}),
                  spend, TOLERANCES)
    assert paired(result) == {0: (0, "time_model_tokens"), 1: (1, "time_model_tokens")}
    assert paired(pair(calls({"prompt": 1240, "completion": 80}), spend, TOLERANCES)) == {}


def test_a_row_answers_to_its_model_group_too():
    result = pair(calls({"model": "fast-model"}), rows({"model": "gpt-4o-mini", "group": "fast-model"}), TOLERANCES)
    assert paired(result) == {0: (0, "time_model_tokens")}


def test_calls_without_tokens_or_likeness_pair_only_by_identity():
    result = pair(calls({"prompt": None, "completion": None}, {"likeness": False}, {"likeness": False,
                                                                                  "response_id": "row-1"}),
                  rows({}, {}), TOLERANCES)
    assert paired(result) == {2: (1, "response_id")}


def test_rows_held_elsewhere_are_not_paired():
    result = pair(calls({"response_id": "row-0"}, {}), rows({"available": False}), TOLERANCES)
    assert paired(result) == {}


def test_the_assignment_is_maximal_not_greedy():
    # Call 1 is as close to row 0 as call 0 is; only call 0 -> row 0, call 1 -> row 1 pairs both.
    result = pair(calls({"t": 0}, {"t": 2}), rows({"t": 1}, {"t": 3}), Tolerances(2.0, 0.05, 0.25))
    assert paired(result) == {0: (0, "time_model_tokens"), 1: (1, "time_model_tokens")}


def test_among_maximal_assignments_the_closest():
    result = pair(calls({"t": 0}), rows({"t": -9}, {"t": 1}), TOLERANCES)
    assert paired(result) == {0: (1, "time_model_tokens")}


def test_a_burst_larger_than_a_block_pairs_every_call_with_its_own_row():
    count = 3 * BLOCK + 5
    result = pair(calls(*({"t": 0.05 * i} for i in range(count))),
                  rows(*({"t": 0.05 * i + 0.01} for i in range(count))), TOLERANCES)
    assert paired(result) == {i: (i, "time_model_tokens") for i in range(count)}


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    moments = st.floats(0, 40, allow_nan=False)
    models = st.sampled_from(["a", "b"])
    tokens = st.integers(0, 60)
    made_calls = draw(st.lists(st.fixed_dictionaries(
        {"t": moments, "model": models, "prompt": tokens, "completion": tokens, "estimated": st.booleans()}),
        max_size=12))
    made_rows = draw(st.lists(st.fixed_dictionaries(
        {"t": moments, "model": models, "prompt": tokens, "completion": tokens}), max_size=12))
    return made_calls, made_rows


def alike(call: dict, row: dict, tolerances: Tolerances) -> bool:
    share = tolerances.estimated_tokens if call["estimated"] else tolerances.tokens
    return (call["model"] == row["model"] and abs(call["t"] - row["t"]) <= tolerances.time_s
            and all(abs(call[n] - row[n]) <= max(2, share * max(call[n], row[n])) for n in ("prompt", "completion")))


@settings(max_examples=300, deadline=None)
@given(instances())
def test_pairs_are_alike_one_to_one_and_nothing_alike_is_left_over(instance):
    made_calls, made_rows = instance
    tolerances = Tolerances(5.0, 0.1, 0.3)
    result = paired(pair(calls(*made_calls), rows(*made_rows), tolerances))
    assert len({r for r, _ in result.values()}) == len(result)
    assert all(alike(made_calls[c], made_rows[r], tolerances) for c, (r, _) in result.items())
    left_rows = set(range(len(made_rows))) - {r for r, _ in result.values()}
    for c in set(range(len(made_calls))) - set(result):
        assert not any(alike(made_calls[c], made_rows[r], tolerances) for r in left_rows)
