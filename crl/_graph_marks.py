"""Private helpers of :mod:`crl.graphs`: mark tables and checks of marked graphs.

A marked graph is a :class:`networkx.DiGraph` following the conventions in
:mod:`crl.graphs` (edge attribute ``mark``, default ``"-->"``; symmetric marks
stored in both directions). Errors name the argument given as ``name``.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from crl.exceptions import CyclicGraphError, GraphTypeError
from crl.validation import check_square

GRAPH_KINDS = ("dag", "cpdag", "pag", "latent_dag", "latent_cpdag")
MARKS = ("-->", "---", "<->", "o->", "o-o")

#: Edge marks whose two ends look alike; stored as two DiGraph edges.
SYMMETRIC_MARKS = frozenset({"---", "<->", "o-o"})

# causal-learn endpoint codes (causallearn.graph.Endpoint): the entry
# ``graph[a, b]`` of a GeneralGraph is the endpoint *at node a* of the edge
# a *-* b. E.g. graph[j, i] = 1 (ARROW at j) and graph[i, j] = -1 (TAIL at i)
# is i --> j.
CL_TAIL, CL_NULL, CL_ARROW, CL_CIRCLE = -1, 0, 1, 2
CL_CODE_NAMES = {
    -1: "TAIL",
    0: "NULL",
    1: "ARROW",
    2: "CIRCLE",
    3: "STAR",
    4: "TAIL_AND_ARROW",
    5: "ARROW_AND_ARROW",
}

#: mark of an edge u -> v  ->  (endpoint at u, endpoint at v), as causal-learn codes.
MARK_TO_ENDPOINTS = {
    "-->": (CL_TAIL, CL_ARROW),
    "---": (CL_TAIL, CL_TAIL),
    "<->": (CL_ARROW, CL_ARROW),
    "o->": (CL_CIRCLE, CL_ARROW),
    "o-o": (CL_CIRCLE, CL_CIRCLE),
}

#: (endpoint at i, endpoint at j) -> (mark, reversed?) where reversed means
#: the stored edge points j -> i.
ENDPOINTS_TO_MARK = {
    (CL_TAIL, CL_ARROW): ("-->", False),
    (CL_ARROW, CL_TAIL): ("-->", True),
    (CL_TAIL, CL_TAIL): ("---", False),
    (CL_ARROW, CL_ARROW): ("<->", False),
    (CL_CIRCLE, CL_ARROW): ("o->", False),
    (CL_ARROW, CL_CIRCLE): ("o->", True),
    (CL_CIRCLE, CL_CIRCLE): ("o-o", False),
}


def kind_for_marks(marks, latent: bool) -> str:
    """The graph kind of a decoded graph with edge ``marks`` and, if ``latent``, hidden nodes."""
    if set(marks) & {"<->", "o->", "o-o"}:
        return "pag"
    if "---" in marks:
        return "latent_cpdag" if latent else "cpdag"
    return "latent_dag" if latent else "dag"


def mark_of(data) -> str:
    return data.get("mark", "-->")


def check_graph(G, name: str) -> nx.DiGraph:
    """Check that ``G`` is a well-formed marked DiGraph (see module docstring)."""
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        raise GraphTypeError(f"{name}: expected a networkx.DiGraph, got {type(G).__name__}")
    for u, v, data in G.edges(data=True):
        mark = mark_of(data)
        if mark not in MARKS:
            raise GraphTypeError(
                f"{name}: expected edge marks in {list(MARKS)}, got {mark!r} on edge ({u!r}, {v!r})"
            )
        if u == v:
            if mark != "-->":
                raise GraphTypeError(
                    f"{name}: expected no self-loop with mark {mark!r}, got one at {u!r}"
                )
            continue
        back = G.get_edge_data(v, u)
        if mark in SYMMETRIC_MARKS:
            if back is None or mark_of(back) != mark:
                got = "no reverse edge" if back is None else f"reverse mark {mark_of(back)!r}"
                raise GraphTypeError(
                    f"{name}: expected symmetric mark {mark!r} on ({u!r}, {v!r}) to be stored in both "
                    f"directions with the same mark, got {got}"
                )
        elif back is not None and not (mark == "-->" and mark_of(back) == "-->"):
            raise GraphTypeError(
                f"{name}: expected one edge between {u!r} and {v!r}, got {mark!r} and reverse {mark_of(back)!r}"
            )
    return G


def directed_part(G: nx.DiGraph) -> nx.DiGraph:
    """The nodes of ``G`` with only its ``-->`` edges."""
    D = nx.DiGraph()
    D.add_nodes_from(G.nodes)
    D.add_edges_from((u, v) for u, v, data in G.edges(data=True) if mark_of(data) == "-->")
    return D


def directed_input(G, name: str) -> tuple[nx.DiGraph, bool]:
    """(directed part, was_array) of an adjacency matrix or a marked DiGraph.

    For a matrix every non-zero ``A[i, j]`` is a directed edge ``i -> j``.
    """
    if isinstance(G, nx.Graph):
        return directed_part(check_graph(G, name)), False
    A = check_matrix(G, name)
    D = nx.DiGraph()
    D.add_nodes_from(range(A.shape[0]))
    D.add_edges_from(zip(*(idx.tolist() for idx in np.nonzero(A)), strict=True))
    return D, True


def check_matrix(A, name: str) -> np.ndarray:
    if isinstance(A, (nx.Graph, str, bytes)) or A is None:
        raise GraphTypeError(
            f"{name}: expected a networkx.DiGraph or a square adjacency ndarray, got {type(A).__name__}"
        )
    return check_square(A, name)


def require_directed_only(G: nx.DiGraph, name: str) -> None:
    for u, v, data in G.edges(data=True):
        if mark_of(data) != "-->":
            raise GraphTypeError(
                f"{name}: expected a DAG (only '-->' edges), got mark {mark_of(data)!r} on edge ({u!r}, {v!r})"
            )


def _cycle_text(cycle) -> str:
    nodes = [cycle[0][0]] + [v for _, v in cycle]
    return " -> ".join(repr(v) for v in nodes)


def raise_if_cyclic(D: nx.DiGraph, name: str) -> None:
    try:
        cycle = nx.find_cycle(D)
    except nx.NetworkXNoCycle:
        return
    raise CyclicGraphError(
        f"{name}: expected an acyclic graph, got the directed cycle {_cycle_text(cycle)}"
    )


def copy_nodes(G: nx.DiGraph, kind: str | None = None) -> nx.DiGraph:
    H = nx.DiGraph()
    H.graph.update(G.graph)
    if kind is not None:
        H.graph["kind"] = kind
    H.add_nodes_from((v, dict(data)) for v, data in G.nodes(data=True))
    return H


def bool_matrices(G: nx.DiGraph, nodes: list, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(D, U) of a graph with only ``-->`` and ``---`` marks, indexed like ``nodes``."""
    pos = {v: k for k, v in enumerate(nodes)}
    d = len(nodes)
    D = np.zeros((d, d), dtype=bool)
    U = np.zeros((d, d), dtype=bool)
    for u, v, data in G.edges(data=True):
        mark = mark_of(data)
        if mark == "-->":
            D[pos[u], pos[v]] = True
        elif mark == "---":
            U[pos[u], pos[v]] = True
        else:
            raise GraphTypeError(
                f"{name}: expected a partially directed graph (marks '-->' and '---'), "
                f"got mark {mark!r} on edge ({u!r}, {v!r})"
            )
    return D, U
