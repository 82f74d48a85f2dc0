"""The exact solver for one component: a maximum matching of least cost, held to brute force."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.assignment import MAX_EDGE_COST, best_pairs


def brute_force(rows: int, costs: dict[tuple[int, int], float]) -> tuple[int, float]:
    """(most pairs, least cost among those) over every matching."""

    def best(row: int, used: frozenset[int]) -> tuple[int, float]:
        if row == rows:
            return 0, 0.0
        found = best(row + 1, used)  # leave the row unpaired
        for (r, column), cost in costs.items():
            if r == row and column not in used:
                size, total = best(row + 1, used | {column})
                if (size + 1, -(total + cost)) > (found[0], -found[1]):
                    found = (size + 1, total + cost)
        return found

    return best(0, frozenset())


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int, float]]]:
    rows, columns = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    cells = st.tuples(st.integers(0, rows - 1), st.integers(0, columns - 1))
    chosen = draw(st.lists(cells, unique=True, max_size=rows * columns))
    weights = st.floats(0, MAX_EDGE_COST, allow_nan=False).map(lambda x: round(x, 3))
    return rows, columns, [(r, c, draw(weights)) for r, c in chosen]


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_best_pairs_is_a_maximum_matching_of_least_cost(graph):
    rows, columns, edges = graph
    pairs = best_pairs(rows, columns, edges)
    costs = {(r, c): cost for r, c, cost in edges}
    assert all(pair in costs for pair in pairs)
    assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
    most, least = brute_force(rows, costs)
    assert len(pairs) == most
    assert sum(costs[pair] for pair in pairs) == pytest.approx(least, abs=1e-9)


def test_cardinality_comes_before_cost():
    # Pairing row 0 with column 0 is cheapest alone, but leaves row 1 without a column.
    edges = [(0, 0, 0.0), (0, 1, 3.0), (1, 0, 3.0)]
    assert best_pairs(2, 2, edges) == [(0, 1), (1, 0)]


def test_more_rows_than_columns_and_no_edges():
    assert best_pairs(3, 1, [(2, 0, 1.0), (1, 0, 0.5)]) == [(1, 0)]
    assert best_pairs(2, 2, []) == []
