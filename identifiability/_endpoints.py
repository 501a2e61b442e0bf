"""Graph input handling shared by the graph metrics: endpoint matrices, alignment, pair costs, rates.

Used by :mod:`identifiability.graph_metrics` (which re-exports every name
here), :mod:`identifiability.adjustment`, :mod:`identifiability.latent_graphs` and
:mod:`identifiability.ordering`. The conventions (orientation, node matching
by name, pair states, rate conventions) are those of the
:mod:`identifiability.graph_metrics` docstring.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from crl.exceptions import GraphTypeError, ValidationError
from crl.graphs import check_acyclic, dag_to_cpdag, marked_edges
from crl.validation import check_square

__all__ = [
    "NONE",
    "TAIL",
    "ARROW",
    "CIRCLE",
    "graph_endpoints",
    "align_endpoints",
    "directed_matrix",
    "pair_cost",
    "rates",
]

# Endpoint codes. ``E[i, j]`` is the endpoint *at node j* of the edge between i and j.
NONE, TAIL, ARROW, CIRCLE = 0, 1, 2, 3
#: mark of a stored edge u -> v  ->  (endpoint at u, endpoint at v)
_MARK_ENDS = {
    "-->": (TAIL, ARROW),
    "---": (TAIL, TAIL),
    "<->": (ARROW, ARROW),
    "o->": (CIRCLE, ARROW),
    "o-o": (CIRCLE, CIRCLE),
}


# ---------------------------------------------------------------------------
# input handling (shared with identifiability.latent_graphs)


def _endpoints_from_matrix(A: np.ndarray) -> np.ndarray:
    nz = A != 0
    E = np.zeros(A.shape, dtype=np.int8)
    both = nz & nz.T
    one = nz & ~nz.T
    E[one] = ARROW
    E[one.T] = TAIL
    E[both] = TAIL
    return E


def graph_endpoints(G, name: str) -> tuple[list, np.ndarray]:
    """Node names and endpoint matrix of a graph argument.

    Parameters
    ----------
    G : ndarray of shape (d, d), pandas.DataFrame or networkx.DiGraph
        See the module docstring.
    name : str
        Argument name for error messages.

    Returns
    -------
    nodes : list
        Node names (``0..d-1`` for an ndarray, the columns of a DataFrame,
        ``G.nodes`` order for a graph).
    E : int8 ndarray of shape (d, d)
        ``E[i, j]`` is the endpoint at ``j`` of the edge between ``i`` and
        ``j``: 0 none, 1 tail, 2 arrowhead, 3 circle. ``i -> j`` is
        ``E[i, j] = 2, E[j, i] = 1``.
    """
    if isinstance(G, nx.Graph):
        if not isinstance(G, nx.DiGraph) or G.is_multigraph():
            raise GraphTypeError(f"{name}: expected a networkx.DiGraph, got {type(G).__name__}")
        nodes = list(G.nodes)
        pos = {v: k for k, v in enumerate(nodes)}
        E = np.zeros((len(nodes), len(nodes)), dtype=np.int8)
        for u, v, mark in marked_edges(G):
            if u == v:
                raise GraphTypeError(f"{name}: expected no self-loops, got one at {u!r}")
            i, j = pos[u], pos[v]
            eu, ev = _MARK_ENDS[mark]
            if mark == "-->" and E[i, j] != NONE:  # u -> v and v -> u: undirected
                eu = ev = TAIL
            E[j, i], E[i, j] = eu, ev
        return nodes, E
    if isinstance(G, (str, bytes)) or G is None:
        raise GraphTypeError(
            f"{name}: expected a square adjacency matrix or a networkx.DiGraph, got {type(G).__name__}"
        )
    nodes = list(G.columns) if hasattr(G, "columns") else None
    A = check_square(G, name)
    if nodes is None:
        nodes = list(range(A.shape[0]))
    elif len(set(nodes)) != len(nodes):
        raise ValidationError(f"{name}: expected distinct column names, got {nodes!r}")
    if np.any(np.diag(A) != 0):
        loops = [nodes[k] for k in np.flatnonzero(np.diag(A) != 0)]
        raise GraphTypeError(
            f"{name}: expected no self-loops (zero diagonal), got loops at {loops!r}"
        )
    return nodes, _endpoints_from_matrix(A)


def align_endpoints(true, est, names=("true", "est")) -> tuple[list, np.ndarray, np.ndarray]:
    """Endpoint matrices of two graphs over one node order (matched by name).

    Returns
    -------
    nodes : list
        The true graph's nodes, then nodes found only in the estimate.
    Et, Ee : int8 ndarrays of shape (n, n)
        Endpoint matrices (see :func:`graph_endpoints`) over ``nodes``.

    Raises
    ------
    ValidationError
        Two matrices of different shapes, or a node missing from one graph
        while it has edges in the other.
    """
    nt, Et = graph_endpoints(true, names[0])
    ne, Ee = graph_endpoints(est, names[1])
    if not isinstance(true, nx.Graph) and not isinstance(est, nx.Graph) and Et.shape != Ee.shape:
        raise ValidationError(
            f"{names[1]}: expected an adjacency matrix of shape {Et.shape} like {names[0]}, "
            f"got shape {Ee.shape}"
        )
    if nt == ne:
        return nt, Et, Ee
    st, se = set(nt), set(ne)
    only_e = [v for v in ne if v not in st]
    bad_t = [v for k, v in enumerate(nt) if v not in se and np.any(Et[k] != 0)]
    bad_e = [v for k, v in enumerate(ne) if v not in st and np.any(Ee[k] != 0)]
    if bad_t or bad_e:
        raise ValidationError(
            f"{names[0]}, {names[1]}: expected the same node names up to isolated nodes, got "
            f"non-isolated nodes missing from {names[1]}: {bad_t!r}; missing from {names[0]}: {bad_e!r}"
        )
    nodes = nt + only_e
    n = len(nodes)
    pos = {v: k for k, v in enumerate(nodes)}

    def place(names_, E):
        out = np.zeros((n, n), dtype=np.int8)
        idx = [pos[v] for v in names_]
        out[np.ix_(idx, idx)] = E
        return out

    return nodes, place(nt, Et), place(ne, Ee)


def directed_matrix(E: np.ndarray) -> np.ndarray:
    """Boolean ``D[i, j]``: the pair is exactly ``i -> j``."""
    return (E == ARROW) & (E.T == TAIL)


def _require_dag(E: np.ndarray, nodes: list, name: str) -> np.ndarray:
    """Directed matrix of ``E``; raise unless every edge is ``-->`` and acyclic."""
    D = directed_matrix(E)
    other = (E != NONE) & ~D & ~D.T
    if np.any(other):
        i, j = (int(x[0]) for x in np.nonzero(other))
        raise GraphTypeError(
            f"{name}: expected a DAG (directed edges only), got a non-directed edge between "
            f"{nodes[i]!r} and {nodes[j]!r}"
        )
    check_acyclic(D.astype(float), name)
    return D


def _cpdag_endpoints(E: np.ndarray, nodes: list, name: str) -> np.ndarray:
    D = _require_dag(E, nodes, name)
    return _endpoints_from_matrix(dag_to_cpdag(D.astype(float)))


def pair_cost(at, bt, ae, be, reversal_cost: float) -> np.ndarray:
    """SHD cost of each pair from its endpoints (``a`` at the later node, ``b`` at the earlier).

    0 for equal states, 1 for a missing or extra adjacency, ``reversal_cost``
    for a directed edge reversed, 1 for any other mark difference
    (directed vs undirected, PAG marks).
    """
    pt, pe = at != NONE, ae != NONE
    same = (at == ae) & (bt == be)
    directed_t = ((at == ARROW) & (bt == TAIL)) | ((at == TAIL) & (bt == ARROW))
    reversed_ = directed_t & (ae == bt) & (be == at)
    cost = np.where(pt != pe, 1.0, np.where(same, 0.0, np.where(reversed_, reversal_cost, 1.0)))
    return np.where(~pt & ~pe, 0.0, cost)


def rates(tp: int, fp: int, fn: int) -> dict:
    """Precision, recall, F1 with the empty-denominator conventions of evaluation.md §2.2."""
    tp, fp, fn = int(tp), int(fp), int(fn)
    empty_prediction, empty_truth = tp + fp == 0, tp + fn == 0
    precision = 1.0 if empty_prediction else tp / (tp + fp)
    recall = 1.0 if empty_truth else tp / (tp + fn)
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "flags": {"empty_prediction": empty_prediction, "empty_truth": empty_truth},
    }


def _shd_endpoints(Et, Ee, reversal_cost) -> float:
    iu = np.triu_indices(Et.shape[0], k=1)
    cost = pair_cost(Et[iu], Et.T[iu], Ee[iu], Ee.T[iu], reversal_cost)
    return float(cost.sum())


def _skeleton_counts(Et, Ee) -> tuple[int, int, int]:
    iu = np.triu_indices(Et.shape[0], k=1)
    st, se = Et[iu] != NONE, Ee[iu] != NONE
    return int(np.sum(st & se)), int(np.sum(se & ~st)), int(np.sum(st & ~se))


def _directed_counts(Et, Ee) -> tuple[int, int, int]:
    Dt, De = directed_matrix(Et), directed_matrix(Ee)
    return int(np.sum(Dt & De)), int(np.sum(De & ~Dt)), int(np.sum(Dt & ~De))
