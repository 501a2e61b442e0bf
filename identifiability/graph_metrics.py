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
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

from crl.exceptions import GraphTypeError, ValidationError
from crl.graphs import (
    check_acyclic,
    dag_to_cpdag,
    marked_edges,
    transitive_closure,
    transitive_reduction,
)
from crl.validation import check_choice, check_float, check_int, check_random_state, check_square

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
# SID


def _sid_python(Dt: np.ndarray, De: np.ndarray) -> int:
    """SID count of DAG ``De`` against DAG ``Dt`` (Peters & Bühlmann, parent adjustment).

    For each ordered pair (i, j), i != j, with Z = Pa_est(i): if j is in Z the
    estimate claims no effect, correct iff j is not a descendant of i in the
    truth; otherwise Z must satisfy the adjustment criterion for (i, j) in
    the truth (no node of Z in the forbidden set, and Z d-separates i and j
    in the proper back-door graph).
    """
    d = Dt.shape[0]
    G = nx.DiGraph()
    G.add_nodes_from(range(d))
    G.add_edges_from(zip(*(x.tolist() for x in np.nonzero(Dt))))
    desc = [nx.descendants(G, i) for i in range(d)]
    anc = [nx.ancestors(G, j) for j in range(d)]
    mistakes = 0
    for i in range(d):
        Z = set(np.flatnonzero(De[:, i]).tolist())
        for j in range(d):
            if j == i:
                continue
            if j in Z:
                mistakes += j in desc[i]
                continue
            if j in desc[i]:
                causal = desc[i] & (anc[j] | {j})  # nodes on proper causal paths, minus i
                forbidden = set().union(*(desc[w] | {w} for w in causal))
                if Z & forbidden:
                    mistakes += 1
                    continue
                H = G.copy()
                H.remove_edges_from([(i, c) for c in G.successors(i) if c in causal])
            else:
                H = G
            if not nx.is_d_separator(H, {i}, {j}, Z):
                mistakes += 1
    return mistakes


def _component_orientations(U_edges: list, adj: np.ndarray, limit: int, name: str) -> list:
    """All acyclic orientations of one undirected chain component without v-structures."""
    out = []
    nodes = sorted({v for e in U_edges for v in e})
    parents = {v: [] for v in nodes}

    def creates_v(a, c):
        return any(not adj[a, b] for b in parents[c] if b != a)

    def rec(k):
        if len(out) > limit:
            return
        if k == len(U_edges):
            H = nx.DiGraph()
            H.add_nodes_from(nodes)
            H.add_edges_from((p, c) for c in nodes for p in parents[c])
            if nx.is_directed_acyclic_graph(H):
                out.append([(p, c) for c in nodes for p in parents[c]])
            return
        u, v = U_edges[k]
        for a, c in ((u, v), (v, u)):
            if not creates_v(a, c):
                parents[c].append(a)
                rec(k + 1)
                parents[c].pop()

    rec(0)
    if len(out) > limit:
        raise ValidationError(
            f"{name}: expected a CPDAG with at most max_extensions={limit} DAG extensions, got more; "
            "raise max_extensions or use aid() which accepts CPDAGs"
        )
    return out


def _dag_extensions(E: np.ndarray, nodes: list, name: str, limit: int) -> list[np.ndarray]:
    D = directed_matrix(E)
    U = (E == TAIL) & (E.T == TAIL)
    other = (E != NONE) & ~D & ~D.T & ~U
    if np.any(other):
        i, j = (int(x[0]) for x in np.nonzero(other))
        raise GraphTypeError(
            f"{name}: expected a DAG or CPDAG (marks '-->' and '---'), got a PAG mark between "
            f"{nodes[i]!r} and {nodes[j]!r}"
        )
    check_acyclic(D.astype(float), name)
    if not np.any(U):
        return [D]
    adj = E != NONE
    Ug = nx.Graph()
    Ug.add_edges_from(zip(*(x.tolist() for x in np.nonzero(np.triu(U)))))
    per_component = []
    total = 1
    for comp in nx.connected_components(Ug):
        edges = sorted(tuple(sorted(e)) for e in Ug.subgraph(comp).edges)
        orients = _component_orientations(edges, adj, limit, name)
        total *= len(orients)
        if total > limit:
            raise ValidationError(
                f"{name}: expected a CPDAG with at most max_extensions={limit} DAG extensions, "
                f"got more; raise max_extensions or use aid() which accepts CPDAGs"
            )
        per_component.append(orients)
    dags = []
    for combo in itertools.product(*per_component):
        M = D.copy()
        for orient in combo:
            for p, c in orient:
                M[p, c] = True
        dags.append(M)
    first = _endpoints_from_matrix(dag_to_cpdag(dags[0].astype(float)))
    if not np.array_equal(first, E):
        raise GraphTypeError(
            f"{name}: expected a CPDAG (the essential graph of its DAGs), got a partially directed "
            "graph whose undirected edges are not all reversible"
        )
    return dags


def _gadjid():
    try:
        import gadjid
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return gadjid


def sid(
    true_dag, est, *, max_extensions: int = 1000, backend: str = "auto", max_nodes: int = 60
) -> dict:
    """Structural intervention distance (Peters & Bühlmann 2015).

    Counts the ordered pairs ``(i, j)``, ``i != j``, for which adjusting for
    the estimated parents ``Pa_est(i)`` gives a wrong ``p(x_j | do(x_i))``
    under the true DAG. Range 0 … p(p−1); asymmetric in its arguments.

    Parameters
    ----------
    true_dag : ndarray of shape (p, p), DataFrame or networkx.DiGraph
        The true DAG; ``A[i, j] != 0`` means ``i -> j``.
    est : ndarray of shape (p, p), DataFrame or networkx.DiGraph
        A DAG, or a CPDAG (symmetric pairs / ``"---"`` marks) whose DAG
        extensions are enumerated for lower and upper bounds. Matched to
        ``true_dag`` by node name.
    max_extensions : int
        Refuse CPDAGs with more DAG extensions than this (use :func:`aid`).
    backend : {"auto", "gadjid", "python"}
        ``gadjid.sid`` (Rust, ``edge_direction="from row to column"``) when
        installed; ``"python"`` is an in-process d-separation implementation
        limited to ``max_nodes`` nodes.
    max_nodes : int
        Node-count guard of the Python backend.

    Returns
    -------
    dict
        ``sid_lower``, ``sid_upper`` (counts, as floats) and
        ``sid_lower_normalised``, ``sid_upper_normalised`` (divided by
        p(p−1), 0 when p < 2); ``n_extensions`` (1 for a DAG estimate);
        ``estimate_kind`` ("dag" or "cpdag"); ``backend``. For a DAG
        estimate also ``sid`` and ``sid_normalised`` (equal to both bounds).

    Examples
    --------
    True ``0 -> 1``; the empty estimate gets ``p(x0 | do(x1))`` wrong:

    >>> import numpy as np
    >>> sid(np.array([[0, 1], [0, 0]]), np.zeros((2, 2)))["sid"]
    1.0
    """
    check_choice(backend, "backend", ("auto", "gadjid", "python"))
    max_extensions = check_int(max_extensions, "max_extensions", minimum=1)
    max_nodes = check_int(max_nodes, "max_nodes", minimum=1)
    nodes, Et, Ee = align_endpoints(true_dag, est, ("true_dag", "est"))
    Dt = _require_dag(Et, nodes, "true_dag")
    dags = _dag_extensions(Ee, nodes, "est", max_extensions)
    p = len(nodes)
    gadjid = None if backend == "python" else _gadjid()
    if backend == "gadjid" and gadjid is None:
        raise ImportError("sid: backend='gadjid' needs the gadjid package (pip install gadjid)")
    if gadjid is None and p > max_nodes:
        raise ValidationError(
            f"true_dag: expected at most max_nodes={max_nodes} nodes for the Python SID, got {p}; "
            "install gadjid"
        )
    counts = []
    for De in dags:
        if p < 2:
            count = 0
        elif gadjid is not None:
            _, count = gadjid.sid(
                Dt.astype(np.int8), De.astype(np.int8), edge_direction="from row to column"
            )
        else:
            count = _sid_python(Dt, De)
        counts.append(int(count))
    denom = p * (p - 1)
    lo, hi = float(min(counts)), float(max(counts))
    out = {
        "sid_lower": lo,
        "sid_upper": hi,
        "sid_lower_normalised": lo / denom if denom else 0.0,
        "sid_upper_normalised": hi / denom if denom else 0.0,
        "n_extensions": len(dags),
        "estimate_kind": "cpdag" if np.any((Ee == TAIL) & (Ee.T == TAIL)) else "dag",
        "backend": "gadjid" if gadjid is not None else "python",
    }
    if out["estimate_kind"] == "dag":
        out["sid"] = lo
        out["sid_normalised"] = out["sid_lower_normalised"]
    return out


def aid(true, est, *, variant: str = "ancestor") -> dict:
    """Adjustment identification distance (Henckel, Würtzen, Weichwald 2024) via gadjid.

    Parameters
    ----------
    true, est : ndarray of shape (p, p), DataFrame or networkx.DiGraph
        DAGs or CPDAGs; ``A[i, j] != 0`` means ``i -> j``, a symmetric pair
        is undirected. Matched by node name. A partially directed graph that
        is not a CPDAG is not detected here (gadjid assumes a valid CPDAG).
    variant : {"ancestor", "oset", "parent"}
        Adjustment strategy inferred in ``est``.

    Returns
    -------
    dict
        ``aid`` (count, float), ``aid_normalised`` (count / p(p−1), 0 when
        p < 2), ``variant``.

    Raises
    ------
    ImportError
        gadjid is not installed.
    """
    check_choice(variant, "variant", ("ancestor", "oset", "parent"))
    gadjid = _gadjid()
    if gadjid is None:
        raise ImportError("aid: needs the gadjid package (pip install gadjid)")
    nodes, Et, Ee = align_endpoints(true, est)
    mats = []
    for E, name in ((Et, "true"), (Ee, "est")):
        D = directed_matrix(E)
        U = (E == TAIL) & (E.T == TAIL)
        if np.any((E != NONE) & ~D & ~D.T & ~U):
            raise GraphTypeError(
                f"{name}: expected a DAG or CPDAG (marks '-->' and '---'), got PAG marks"
            )
        check_acyclic(D.astype(float), name)
        mats.append((D.astype(np.int8) + 2 * np.triu(U).astype(np.int8)).astype(np.int8))
    p = len(nodes)
    if p < 2:
        return {"aid": 0.0, "aid_normalised": 0.0, "variant": variant}
    fn = {"ancestor": gadjid.ancestor_aid, "oset": gadjid.oset_aid, "parent": gadjid.parent_aid}[
        variant
    ]
    norm, count = fn(mats[0], mats[1], edge_direction="from row to column")
    return {"aid": float(count), "aid_normalised": float(norm), "variant": variant}


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
