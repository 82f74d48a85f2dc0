"""The best one-to-one pairing of a small bipartite graph: the most pairs, and among those
the least total cost.

A dense Hungarian algorithm (Kuhn-Munkres with potentials, shortest augmenting paths,
O(rows^2 x columns)); each step's scan over the columns is one numpy operation. A pair that
is not an edge costs BIG, chosen above the cost of any set of real edges (every edge costs
at most MAX_EDGE_COST), so an optimum uses as few non-edges as possible, which is the same
as as many edges as possible; the non-edges are then dropped.
"""

from __future__ import annotations

import numpy as np

MAX_EDGE_COST = 3.0


def best_pairs(rows: int, columns: int, edges: list[tuple[int, int, float]]) -> list[tuple[int, int]]:
    """(row, column) pairs of a maximum matching of least cost; `edges` are (row, column,
    cost) with 0 <= cost <= MAX_EDGE_COST."""
    big = MAX_EDGE_COST * (min(rows, columns) + 1) + 1.0
    cost = np.full((rows, columns), big)
    for row, column, value in edges:
        cost[row, column] = min(cost[row, column], value)
    transposed = rows > columns
    assigned = _hungarian(cost.T if transposed else cost)
    pairs = [(column, row) if transposed else (row, column) for row, column in assigned]
    return sorted((row, column) for row, column in pairs if cost[row, column] < big)


def _hungarian(cost: np.ndarray) -> list[tuple[int, int]]:
    """Assign every row of an n x m cost matrix (n <= m) to its own column at least cost."""
    n, m = cost.shape
    u = np.zeros(n + 1)  # row potentials (1-based; 0 is the virtual start)
    v = np.zeros(m + 1)  # column potentials
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: the row holding column j, 0 if free
    way = np.zeros(m + 1, dtype=np.int64)  # the previous column on the augmenting path
    for row in range(1, n + 1):
        owner[0] = row
        column = 0
        slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[column] = True
            current = owner[column]
            free = ~used
            free[0] = False
            reduced = np.full(m + 1, np.inf)
            reduced[1:] = cost[current - 1] - u[current] - v[1:]
            better = free & (reduced < slack)
            slack[better] = reduced[better]
            way[better] = column
            candidates = np.where(free, slack, np.inf)
            nearest = int(np.argmin(candidates))
            delta = candidates[nearest]
            u[owner[used]] += delta
            v[used] -= delta
            slack[free] -= delta
            column = nearest
            if owner[column] == 0:
                break
        while column:  # flip the augmenting path
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    return [(int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j]]
