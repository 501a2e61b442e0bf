"""Graph metrics: SHD over pair states, skeleton/arrowhead/directed rates, SID, null baselines.

Conventions (evaluation.md §2)
------------------------------
- Every graph argument is either an adjacency matrix of shape (d, d) (numpy
  array, or a pandas DataFrame whose column names become node names) or a
  marked :class:`networkx.DiGraph` (the :mod:`crl.graphs` conventions).
- Matrices: ``A[i, j] != 0`` means ``i -> j``; a symmetric pair
  (``A[i, j] != 0`` and ``A[j, i] != 0``) is an undirected edge ``i --- j``.
  The same holds for a DiGraph that stores ``u -> v`` and ``v -> u`` both
  with mark ``"-->"`` (e.g. built by ``nx.from_numpy_array`` from a CPDAG).
- Nodes are matched by **name**, never by position; a matrix names its nodes
  ``0..d-1``. A node present in only one graph is allowed when it is isolated
  there (it is padded as an isolated node into the other); two matrices must
  have the same shape.
- Each unordered pair of nodes is in one state: absent, ``i -> j``,
  ``j -> i``, undirected, or (PAGs) ``<->``, ``o->``, ``<-o``, ``o-o``.
- Rates follow §2.2: precision is 1 when nothing was predicted, recall is 1
  when the truth is empty; ``flags`` says when either convention was used.
  Every rate lies in [0, 1].

:func:`sid` and :func:`aid` live in :mod:`identifiability.adjustment` and the
input handling (endpoint matrices, alignment, pair costs, rates) in
:mod:`identifiability._endpoints`; both are re-exported here.
"""

from __future__ import annotations

import numpy as np

from crl.graphs import transitive_closure, transitive_reduction
from crl.validation import check_choice, check_float, check_int, check_random_state

# Every name of _endpoints stays importable from here: identifiability.latent_graphs and
# identifiability.ordering import the shared helpers from this module.
from identifiability._endpoints import (
    _MARK_ENDS,  # noqa: F401
    ARROW,
    CIRCLE,  # noqa: F401
    NONE,
    TAIL,  # noqa: F401
    _cpdag_endpoints,
    _directed_counts,
    _endpoints_from_matrix,
    _require_dag,
    _shd_endpoints,
    _skeleton_counts,
    align_endpoints,
    directed_matrix,  # noqa: F401
    graph_endpoints,
    pair_cost,  # noqa: F401
    rates,
)
from identifiability.adjustment import aid, sid

__all__ = [
    "shd",
    "skeleton_scores",
    "skeleton_f1",
    "arrowhead_scores",
    "directed_scores",
    "sid",
    "aid",
    "shd_tc",
    "shd_tr",
    "random_graph_baseline",
]


# ---------------------------------------------------------------------------
# SHD and rates


def shd(true_adj, est_adj, *, compare: str = "dag", reversal_cost: float = 1) -> float:
    """Structural Hamming distance over pair states.

    Parameters
    ----------
    true_adj, est_adj : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        ``A[i, j] != 0`` means ``i -> j``; a symmetric pair is ``i --- j``.
        Graphs are matched by node name (isolated nodes padded) and may carry
        any marks of :data:`crl.graphs.MARKS` (PAG states count as states).
    compare : {"dag", "cpdag"}
        ``"dag"`` compares the graphs as given (whatever their marks);
        ``"cpdag"`` first replaces both by their CPDAGs
        (:func:`crl.graphs.dag_to_cpdag`), so both must be DAGs.
    reversal_cost : float, default 1
        Cost of a directed edge reversed. 1 as in pcalg, causal-learn,
        gCastle and pgmpy; 2 reproduces cdt (sum of absolute differences of
        the adjacency matrices).

    Returns
    -------
    float
        Sum over unordered pairs of: 1 for a missing or extra adjacency,
        ``reversal_cost`` for a reversed directed edge, 1 for any other mark
        difference (directed vs undirected, ``<->`` vs ``-->``, circles).

    Raises
    ------
    ValidationError
        Mismatched shapes or node sets, NaN entries, a negative cost.
    GraphTypeError
        Malformed graphs; with ``compare="cpdag"`` a graph that is not a DAG.

    Examples
    --------
    >>> import numpy as np
    >>> T = np.array([[0, 1], [0, 0]]); E = T.T
    >>> shd(T, E), shd(T, E, reversal_cost=2)
    (1.0, 2.0)
    """
    check_choice(compare, "compare", ("dag", "cpdag"))
    reversal_cost = check_float(reversal_cost, "reversal_cost", minimum=0)
    nodes, Et, Ee = align_endpoints(true_adj, est_adj, ("true_adj", "est_adj"))
    if compare == "cpdag":
        Et = _cpdag_endpoints(Et, nodes, "true_adj")
        Ee = _cpdag_endpoints(Ee, nodes, "est_adj")
    return _shd_endpoints(Et, Ee, reversal_cost)


def skeleton_scores(true, est) -> dict:
    """Precision, recall and F1 over unordered adjacencies (marks ignored).

    Parameters
    ----------
    true, est : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        ``A[i, j] != 0`` means ``i -> j``; a symmetric pair is ``i --- j``.
        Matched by node name.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (floats in [0, 1]); ``tp``, ``fp``,
        ``fn`` (ints, counted over unordered pairs); ``flags`` = dict with
        ``empty_prediction`` (no estimated adjacency: precision set to 1) and
        ``empty_truth`` (no true adjacency: recall set to 1).
    """
    _, Et, Ee = align_endpoints(true, est)
    return rates(*_skeleton_counts(Et, Ee))


def skeleton_f1(true, est) -> float:
    """Skeleton F1 (see :func:`skeleton_scores`), a float in [0, 1]."""
    return skeleton_scores(true, est)["f1"]


def arrowhead_scores(true, est, *, common_only: bool = False) -> dict:
    """Precision, recall and F1 over arrowhead endpoints (causal-learn's ArrowConfusion).

    Each ordered pair ``(i, j)`` with an arrowhead at ``j`` on the edge
    ``i *-> j`` is one item: ``i -> j`` has one arrowhead, ``i <-> j`` two,
    ``i --- j`` none.

    Parameters
    ----------
    true, est : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        ``A[i, j] != 0`` means ``i -> j``; a symmetric pair is ``i --- j``.
        Matched by node name.
    common_only : bool
        Count only pairs adjacent in both graphs.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn``, ``flags``
        (as in :func:`skeleton_scores`).
    """
    _, Et, Ee = align_endpoints(true, est)
    At, Ae = Et == ARROW, Ee == ARROW
    if common_only:
        both = (Et != NONE) & (Ee != NONE)
        At, Ae = At & both, Ae & both
    return rates(np.sum(At & Ae), np.sum(Ae & ~At), np.sum(At & ~Ae))


def directed_scores(true, est) -> dict:
    """Precision, recall and F1 over directed edges.

    A TP is an estimated ``i -> j`` where the truth has ``i -> j``. An
    undirected (or ``<->``, circle) estimate on a true directed edge is a
    false negative here, never a TP; nothing is symmetrised.

    Parameters
    ----------
    true, est : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        ``A[i, j] != 0`` means ``i -> j``; a symmetric pair is ``i --- j``.
        Matched by node name.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``tp``, ``fp``, ``fn``, ``flags``
        (as in :func:`skeleton_scores`), over ordered directed edges.
    """
    _, Et, Ee = align_endpoints(true, est)
    return rates(*_directed_counts(Et, Ee))


def _closure_shd(true, est, transform, reversal_cost) -> float:
    reversal_cost = check_float(reversal_cost, "reversal_cost", minimum=0)
    nodes, Et, Ee = align_endpoints(true, est)
    Dt = _require_dag(Et, nodes, "true")
    De = _require_dag(Ee, nodes, "est")
    Tt = _endpoints_from_matrix(transform(Dt.astype(float)))
    Te = _endpoints_from_matrix(transform(De.astype(float)))
    return _shd_endpoints(Tt, Te, reversal_cost)


def shd_tc(true, est, *, reversal_cost: float = 1) -> float:
    """SHD between the transitive closures of two DAGs (ancestor relations).

    Parameters
    ----------
    true, est : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        DAGs, ``A[i, j] != 0`` means ``i -> j``; matched by node name.
    reversal_cost : float, default 1

    Returns
    -------
    float
        ``shd(tc(true), tc(est))`` with :func:`crl.graphs.transitive_closure`.
    """
    return _closure_shd(true, est, transitive_closure, reversal_cost)


def shd_tr(true, est, *, reversal_cost: float = 1) -> float:
    """SHD between the transitive reductions of two DAGs.

    Parameters
    ----------
    true, est : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        DAGs, ``A[i, j] != 0`` means ``i -> j``; matched by node name.
    reversal_cost : float, default 1

    Returns
    -------
    float
        ``shd(tr(true), tr(est))`` with :func:`crl.graphs.transitive_reduction`.
    """
    return _closure_shd(true, est, transitive_reduction, reversal_cost)


# ---------------------------------------------------------------------------
# null baseline


def _quantiles(x) -> tuple[float, float, float]:
    q10, q50, q90 = np.quantile(np.asarray(x, dtype=float), [0.1, 0.5, 0.9])
    return float(q50), float(q10), float(q90)


def random_graph_baseline(
    true_adj,
    *,
    n_draws: int = 100,
    random_state=0,
    compare: str = "dag",
    reversal_cost: float = 1,
) -> dict:
    """Null baselines for graph scores: the empty graph and density-matched random DAGs.

    Parameters
    ----------
    true_adj : ndarray of shape (d, d), DataFrame or networkx.DiGraph
        The truth; ``A[i, j] != 0`` means ``i -> j``, a symmetric pair is
        undirected (any marks for a graph).
    n_draws : int
        Number of random DAGs. Each has exactly as many adjacencies as the
        truth, placed uniformly among the d(d−1)/2 pairs and oriented along a
        uniformly random node order.
    random_state : int, Generator or None
    compare, reversal_cost
        Passed to :func:`shd` (``compare="cpdag"`` needs a DAG truth).

    Returns
    -------
    dict
        ``empty_shd``, ``empty_skeleton_f1``, ``empty_directed_f1``,
        ``empty_arrowhead_f1``; ``random_shd``, ``random_skeleton_f1``,
        ``random_directed_f1``, ``random_arrowhead_f1`` (medians over draws)
        with ``_q10`` and ``_q90`` variants (10% and 90% quantiles);
        ``n_edges`` (true adjacencies), ``n_draws``, ``compare``,
        ``reversal_cost``.
    """
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    check_choice(compare, "compare", ("dag", "cpdag"))
    reversal_cost = check_float(reversal_cost, "reversal_cost", minimum=0)
    rng = check_random_state(random_state)
    nodes, Et = graph_endpoints(true_adj, "true_adj")
    d = len(nodes)
    if compare == "cpdag":
        Et = _cpdag_endpoints(Et, nodes, "true_adj")
    iu = np.triu_indices(d, k=1)
    k = int(np.sum(Et[iu] != NONE))

    def scores(Ee):
        Ec = _cpdag_endpoints(Ee, nodes, "est") if compare == "cpdag" else Ee
        At, Ae = Et == ARROW, Ec == ARROW
        return (
            _shd_endpoints(Et, Ec, reversal_cost),
            rates(*_skeleton_counts(Et, Ec))["f1"],
            rates(*_directed_counts(Et, Ec))["f1"],
            rates(np.sum(At & Ae), np.sum(Ae & ~At), np.sum(At & ~Ae))["f1"],
        )

    names = ("shd", "skeleton_f1", "directed_f1", "arrowhead_f1")
    out = {f"empty_{n}": float(v) for n, v in zip(names, scores(np.zeros_like(Et)))}
    draws = []
    for _ in range(n_draws):
        order = rng.permutation(d)
        chosen = rng.choice(len(iu[0]), size=k, replace=False) if k else np.zeros(0, dtype=int)
        A = np.zeros((d, d))
        A[order[iu[0][chosen]], order[iu[1][chosen]]] = 1.0  # earlier in `order` -> later
        draws.append(scores(_endpoints_from_matrix(A)))
    draws = np.asarray(draws, dtype=float)
    for c, n in enumerate(names):
        med, q10, q90 = _quantiles(draws[:, c])
        out[f"random_{n}"], out[f"random_{n}_q10"], out[f"random_{n}_q90"] = med, q10, q90
    out.update(n_edges=k, n_draws=n_draws, compare=compare, reversal_cost=reversal_cost)
    return out
