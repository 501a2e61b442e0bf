"""Random DAGs and edge weights.

Adjacency convention everywhere: ``A[i, j] != 0`` means an edge ``i -> j``.
Node indices are a random permutation of a causal order, so the index order
never leaks the causal order (``permute=False`` keeps a topological order
for tests and fixtures).
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError
from crl.graphs import check_acyclic, topological_order
from crl.validation import check_choice, check_int, check_interval, check_random_state, check_square

__all__ = ["random_dag", "sample_weights", "causal_order", "check_dag", "permute_graph"]


def _n_edges(n_nodes, n_edges, expected_degree, edge_prob, rng) -> int:
    max_edges = n_nodes * (n_nodes - 1) // 2
    given = [x is not None for x in (n_edges, expected_degree, edge_prob)]
    if sum(given) > 1:
        raise ValidationError("random_dag: give at most one of n_edges, expected_degree, edge_prob")
    if n_edges is not None:
        return check_int(n_edges, "n_edges", minimum=0, maximum=max_edges)
    if expected_degree is not None:
        # mean total degree (in + out) is 2m/n
        deg = float(expected_degree)
        if not np.isfinite(deg) or deg < 0 or deg > n_nodes - 1:
            raise ValidationError(
                f"expected_degree: expected a number in [0, {n_nodes - 1}], got {expected_degree}"
            )
        edge_prob = deg / (n_nodes - 1) if n_nodes > 1 else 0.0
    if edge_prob is None:
        edge_prob = min(1.0, 2.0 / max(n_nodes - 1, 1))  # expected degree 2 by default
    if not 0.0 <= float(edge_prob) <= 1.0:
        raise ValidationError(f"edge_prob: expected a probability in [0, 1], got {edge_prob}")
    return int(rng.binomial(max_edges, float(edge_prob)))


def random_dag(
    n_nodes: int,
    *,
    n_edges: int | None = None,
    expected_degree: float | None = None,
    edge_prob: float | None = None,
    kind: str = "er",
    permute: bool = True,
    random_state=None,
) -> np.ndarray:
    """Draw a random DAG as a binary adjacency matrix.

    Parameters
    ----------
    n_nodes : int
        Number of nodes, >= 1.
    n_edges : int, optional
        Exact number of edges (at most ``n_nodes (n_nodes - 1) / 2``).
    expected_degree : float, optional
        Expected mean total degree ``2 m / n``; the edge count is then binomial.
    edge_prob : float, optional
        Probability of each of the ``n (n - 1) / 2`` possible edges (ER only
        in spirit; for ``kind="sf"`` it sets the edge count).
        Give at most one of the three; by default the expected degree is 2.
    kind : {"er", "sf"}
        ``"er"``: Erdős–Rényi, the edges are a uniform subset of the pairs of
        a random causal order. ``"sf"``: scale-free by preferential
        attachment: nodes arrive in causal order and pick parents with
        probability proportional to (out-degree + 1), giving hubs with many
        children.
    permute : bool
        Shuffle node indices so that index order is not a causal order.
    random_state : None, int or Generator

    Returns
    -------
    A : ndarray of shape (n_nodes, n_nodes), int
        ``A[i, j] = 1`` iff ``i -> j``.
    """
    n_nodes = check_int(n_nodes, "n_nodes", minimum=1)
    check_choice(kind, "kind", ("er", "sf"))
    rng = check_random_state(random_state)
    m = _n_edges(n_nodes, n_edges, expected_degree, edge_prob, rng)
    A = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    if kind == "er":
        rows, cols = np.triu_indices(n_nodes, k=1)
        chosen = rng.choice(rows.size, size=m, replace=False)
        A[rows[chosen], cols[chosen]] = 1
    else:
        # Spread m parents over nodes 1..n-1 as evenly as the cap "at most t parents" allows.
        caps = np.arange(n_nodes)
        parents = np.zeros(n_nodes, dtype=np.int64)
        remaining = m
        while remaining > 0:
            open_nodes = np.flatnonzero(parents < caps)
            take = open_nodes[: remaining] if remaining < open_nodes.size else open_nodes
            parents[take] += 1
            remaining -= take.size
        out_degree = np.zeros(n_nodes)
        for t in range(1, n_nodes):
            if parents[t] == 0:
                continue
            w = out_degree[:t] + 1.0
            pa = rng.choice(t, size=parents[t], replace=False, p=w / w.sum())
            A[pa, t] = 1
            out_degree[pa] += 1
    if permute:
        A = permute_graph(A, rng.permutation(n_nodes))
    return A


def permute_graph(A: np.ndarray, perm) -> np.ndarray:
    """Relabel nodes: node ``i`` of ``A`` becomes node ``perm[i]`` of the result."""
    A = np.asarray(A)
    perm = np.asarray(perm)
    out = np.zeros_like(A)
    out[np.ix_(perm, perm)] = A
    return out


def sample_weights(A, weight_range=(0.5, 2.0), random_state=None) -> np.ndarray:
    """Give each edge of ``A`` a weight drawn from ±U(low, high) (random sign).

    Parameters
    ----------
    A : ndarray of shape (d, d)
        Binary adjacency, ``A[i, j] != 0`` iff ``i -> j``.
    weight_range : (low, high), 0 < low <= high
        Magnitudes are bounded away from zero by ``low``.

    Returns
    -------
    W : ndarray of shape (d, d)
        ``W[i, j]`` is the coefficient of ``i`` in the equation of ``j``.
    """
    A = check_square(A, "A")
    low, high = check_interval(weight_range, "weight_range", positive=True)
    rng = check_random_state(random_state)
    mag = rng.uniform(low, high, A.shape)
    sign = rng.choice([-1.0, 1.0], A.shape)
    return (A != 0) * mag * sign


def check_dag(A, name: str = "graph") -> np.ndarray:
    """Return ``A`` as a square float array, raising :class:`CyclicGraphError` if it has a cycle."""
    A = check_square(A, name)
    check_acyclic(A, name)
    return A


def causal_order(A) -> np.ndarray:
    """A topological order of the DAG ``A`` (smallest index first among ready nodes)."""
    return np.asarray(topological_order(check_dag(A, "A")), dtype=np.int64)
