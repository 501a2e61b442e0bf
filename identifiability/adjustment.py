"""Structural intervention distance (SID) and adjustment identification distance (AID).

:func:`sid` uses ``gadjid`` when installed and otherwise a pure-Python
d-separation implementation; :func:`aid` needs ``gadjid``. Graph arguments
follow the conventions of the :mod:`identifiability.graph_metrics` docstring
(which re-exports both functions).
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

from crl.exceptions import GraphTypeError, ValidationError
from crl.graphs import check_acyclic, dag_to_cpdag
from crl.validation import check_choice, check_int
from identifiability._endpoints import (
    NONE,
    TAIL,
    _endpoints_from_matrix,
    _require_dag,
    align_endpoints,
    directed_matrix,
)

__all__ = ["sid", "aid"]

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
