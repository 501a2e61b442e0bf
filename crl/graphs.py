"""Graph types and conversions: networkx, adjacency matrices, causal-learn.

Conventions (fixed for the whole toolkit)
-----------------------------------------
- Adjacency ``A[i, j] != 0`` means an edge ``i -> j`` (networkx convention).
- Graphs are :class:`networkx.DiGraph`. Nodes carry ``latent: bool``; the
  graph carries ``G.graph["kind"]`` in :data:`GRAPH_KINDS`.
- Edges carry ``mark`` in :data:`MARKS` and optionally ``weight``.
  Symmetric marks (``"---"``, ``"<->"``, ``"o-o"``) are stored as two
  DiGraph edges ``u -> v`` and ``v -> u`` with the same mark, so adjacency
  matrices of undirected edges are symmetric; asymmetric marks (``"-->"``,
  ``"o->"``) are stored once, pointing at the arrowhead.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from crl.exceptions import CyclicGraphError, GraphTypeError, ValidationError
from crl.validation import check_choice, check_square

__all__ = ["GRAPH_KINDS", "MARKS", "from_adjacency"]

GRAPH_KINDS = ("dag", "cpdag", "pag", "latent_dag", "latent_cpdag")
MARKS = ("-->", "---", "<->", "o->", "o-o")


def from_adjacency(
    A,
    nodes=None,
    *,
    latent=None,
    kind: str = "dag",
    orientation: str = "source_row",
    weighted: bool = True,
) -> nx.DiGraph:
    """Build a graph from an adjacency matrix.

    Parameters
    ----------
    A : ndarray of shape (d, d)
        With ``orientation="source_row"`` (the toolkit convention)
        ``A[i, j] != 0`` means ``i -> j``; with ``"target_row"`` (LiNGAM's B,
        structural-equation rows) it means ``j -> i``. A pair with both
        entries non-zero becomes an undirected edge ``---`` (allowed only for
        CPDAG kinds).
    nodes : sequence of hashable, optional
        Node names in matrix order; default ``0..d-1``.
    latent : sequence of bool or set of node names, optional
        Which nodes are hidden; default none.
    kind : str
        One of :data:`GRAPH_KINDS`.
    orientation : {"source_row", "target_row"}
    weighted : bool
        Store ``A``'s entries as the edge attribute ``weight``.

    Returns
    -------
    networkx.DiGraph
    """
    A = check_square(A, "A")
    check_choice(kind, "kind", GRAPH_KINDS)
    check_choice(orientation, "orientation", ("source_row", "target_row"))
    if orientation == "target_row":
        A = A.T
    d = A.shape[0]
    nodes = list(range(d)) if nodes is None else list(nodes)
    if len(nodes) != d or len(set(nodes)) != d:
        raise ValidationError(f"nodes: expected {d} distinct names, got {len(nodes)} ({len(set(nodes))} distinct)")
    if latent is None:
        flags = [False] * d
    elif isinstance(latent, (set, frozenset)):
        flags = [v in latent for v in nodes]
    else:
        flags = [bool(x) for x in latent]
        if len(flags) != d:
            raise ValidationError(f"latent: expected {d} flags, got {len(flags)}")
    G = nx.DiGraph(kind=kind)
    for v, f in zip(nodes, flags):
        G.add_node(v, latent=f)
    nz = A != 0
    if np.any(np.diag(nz)):
        raise CyclicGraphError(f"A: expected no self-loops, got loops at {np.flatnonzero(np.diag(nz)).tolist()}")
    for i, j in zip(*np.nonzero(nz)):
        both = nz[j, i]
        if both and kind not in ("cpdag", "latent_cpdag"):
            raise GraphTypeError(
                f"A: entries ({i}, {j}) and ({j}, {i}) are both non-zero, which is an undirected "
                f"edge; expected kind 'cpdag' or 'latent_cpdag', got {kind!r}"
            )
        attrs = {"mark": "---" if both else "-->"}
        if weighted:
            attrs["weight"] = float(A[i, j])
        G.add_edge(nodes[i], nodes[j], **attrs)
    if kind in ("dag", "latent_dag") and not nx.is_directed_acyclic_graph(G):
        raise CyclicGraphError(f"A: expected a DAG, got a directed cycle {nx.find_cycle(G)}")
    return G
