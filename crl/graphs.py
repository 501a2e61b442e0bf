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
  ``"o->"``) are stored once, pointing at the arrowhead (the stored edge
  ``u -> v`` with mark ``"o->"`` means ``u o-> v``). An edge without a
  ``mark`` attribute counts as ``"-->"``; a node without ``latent`` as observed.
- Latency is a node attribute only; it is never inferred from node names.

causal-learn is imported lazily (only by :func:`to_causallearn`),
so ``import crl.graphs`` stays light.
"""

from __future__ import annotations

import itertools
import numbers

import networkx as nx
import numpy as np

from crl._graph_algos import (
    check_acyclic,
    dag_to_cpdag,
    is_acyclic,
    meek_orient,
    topological_order,
    topological_orders,
    transitive_closure,
    transitive_reduction,
)
from crl._graph_marks import (
    CL_CIRCLE,
    CL_CODE_NAMES,
    CL_TAIL,
    ENDPOINTS_TO_MARK,
    GRAPH_KINDS,
    MARK_TO_ENDPOINTS,
    MARKS,
    SYMMETRIC_MARKS,
    check_graph,
    directed_part,
    kind_for_marks,
    mark_of,
    raise_if_cyclic,
)
from crl.exceptions import CyclicGraphError, GraphTypeError, ValidationError
from crl.validation import check_choice, check_square

__all__ = [
    "GRAPH_KINDS",
    "MARKS",
    "from_adjacency",
    "to_adjacency",
    "from_lingam_B",
    "add_marked_edge",
    "marked_edges",
    "latent_nodes",
    "observed_nodes",
    "latent_names",
    "skeleton",
    "graph_kind",
    "from_causallearn",
    "to_causallearn",
    "dag_to_cpdag",
    "meek_orient",
    "transitive_closure",
    "transitive_reduction",
    "topological_order",
    "topological_orders",
    "is_acyclic",
    "check_acyclic",
]


_KIND_MARKS = {
    "dag": {"-->"},
    "latent_dag": {"-->"},
    "cpdag": {"-->", "---"},
    "latent_cpdag": {"-->", "---"},
    "pag": set(MARKS),
}


# ---------------------------------------------------------------------------
# adjacency matrices


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
        Which nodes are hidden; default none. A set must name nodes of the graph.
    kind : str
        One of :data:`GRAPH_KINDS`.
    orientation : {"source_row", "target_row"}
    weighted : bool
        Store ``A``'s entries as the edge attribute ``weight`` (in the
        ``source_row`` orientation, the entry of ``A`` for ``u -> v``).

    Returns
    -------
    networkx.DiGraph
        ``d`` nodes with ``latent`` flags, edges with ``mark`` (and ``weight``),
        ``G.graph["kind"] == kind``.

    Raises
    ------
    ValidationError
        Wrong shape, non-finite entries, bad ``nodes`` or ``latent``.
    GraphTypeError
        An undirected pair for a kind that is not a CPDAG.
    CyclicGraphError
        A self-loop, or a directed cycle for the DAG kinds.
    """
    A = check_square(A, "A")
    check_choice(kind, "kind", GRAPH_KINDS)
    check_choice(orientation, "orientation", ("source_row", "target_row"))
    if orientation == "target_row":
        A = A.T
    d = A.shape[0]
    nodes = list(range(d)) if nodes is None else list(nodes)
    if len(nodes) != d or len(set(nodes)) != d:
        raise ValidationError(
            f"nodes: expected {d} distinct names, got {len(nodes)} ({len(set(nodes))} distinct)"
        )
    if latent is None:
        flags = [False] * d
    elif isinstance(latent, (set, frozenset)):
        unknown = [v for v in latent if v not in set(nodes)]
        if unknown:
            raise ValidationError(
                f"latent: expected a set of node names from `nodes`, got unknown names {unknown!r}"
            )
        flags = [v in latent for v in nodes]
    else:
        flags = [bool(x) for x in latent]
        if len(flags) != d:
            raise ValidationError(f"latent: expected {d} flags, got {len(flags)}")
    G = nx.DiGraph(kind=kind)
    for v, f in zip(nodes, flags, strict=True):
        G.add_node(v, latent=f)
    nz = A != 0
    if np.any(np.diag(nz)):
        raise CyclicGraphError(
            f"A: expected no self-loops, got loops at {np.flatnonzero(np.diag(nz)).tolist()}"
        )
    for i, j in zip(*np.nonzero(nz), strict=True):
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
    if kind in ("dag", "latent_dag"):
        raise_if_cyclic(G, "A")
    return G


def to_adjacency(G, nodelist=None, *, weight: str | None = None) -> np.ndarray:
    """Adjacency matrix of a graph.

    Parameters
    ----------
    G : networkx.DiGraph
        A marked graph (any kind).
    nodelist : sequence of nodes, optional
        Row/column order; default ``list(G.nodes)``. A subset gives the
        induced subgraph.
    weight : str, optional
        ``None`` gives a binary matrix; otherwise the named edge attribute
        (every edge must carry it, as a real number).

    Returns
    -------
    ndarray of shape (d, d), float
        ``A[i, j] != 0`` means the stored edge ``i -> j``: for ``"-->"`` and
        ``"o->"`` only the arrowhead direction is set; ``"---"``, ``"<->"``
        and ``"o-o"`` give symmetric entries. Marks themselves are not kept
        (use :func:`to_causallearn` for a lossless encoding).
    """
    check_graph(G, "G")
    nodes = list(G.nodes) if nodelist is None else list(nodelist)
    missing = [v for v in nodes if v not in G]
    if missing or len(set(nodes)) != len(nodes):
        got = (
            f"unknown nodes {missing!r}"
            if missing
            else f"{len(nodes) - len(set(nodes))} duplicates"
        )
        raise ValidationError(f"nodelist: expected distinct nodes of G, got {got}")
    pos = {v: k for k, v in enumerate(nodes)}
    A = np.zeros((len(nodes), len(nodes)))
    for u, v, data in G.edges(data=True):
        if u not in pos or v not in pos:
            continue
        if weight is None:
            value = 1.0
        else:
            value = data.get(weight)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise ValidationError(
                    f"weight: expected every edge to carry a real-valued attribute {weight!r}, "
                    f"got {value!r} on edge ({u!r}, {v!r}); pass weight=None for a binary matrix"
                )
        A[pos[u], pos[v]] = float(value)
    return A


def from_lingam_B(B, nodes=None, **kw) -> nx.DiGraph:
    """Build a graph from a LiNGAM-style coefficient matrix.

    Parameters
    ----------
    B : ndarray of shape (d, d)
        Structural-equation rows: ``x = B x + e``, so ``B[i, j] != 0`` means
        ``j -> i`` (the transpose of the toolkit convention).
    nodes : sequence of hashable, optional
        Node names in matrix order; default ``0..d-1``.
    **kw
        Passed to :func:`from_adjacency` (``latent``, ``kind``, ``weighted``);
        ``orientation`` is fixed to ``"target_row"``.

    Returns
    -------
    networkx.DiGraph
        Edge ``j -> i`` carries ``weight = B[i, j]``.
    """
    if "orientation" in kw:
        raise ValidationError(
            f"orientation: from_lingam_B fixes it to 'target_row', got {kw['orientation']!r}; "
            "use from_adjacency to choose"
        )
    return from_adjacency(B, nodes, orientation="target_row", **kw)


# ---------------------------------------------------------------------------
# marks, nodes, kinds


def add_marked_edge(G: nx.DiGraph, u, v, mark: str, **attrs) -> None:
    """Add (or replace) the edge between ``u`` and ``v`` with mark ``mark``, in place.

    Any edge already joining ``u`` and ``v`` (in either direction) is removed
    first. Symmetric marks store both ``u -> v`` and ``v -> u`` (same
    attributes); ``"-->"`` and ``"o->"`` store ``u -> v`` only. Missing nodes
    are added as observed (``latent=False``).

    Parameters
    ----------
    G : networkx.DiGraph
    u, v : hashable
        Endpoints; ``mark`` reads from ``u`` to ``v`` (``"o->"``: ``u o-> v``).
    mark : str
        One of :data:`MARKS`.
    **attrs
        Further edge attributes, e.g. ``weight``.
    """
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        raise GraphTypeError(f"G: expected a networkx.DiGraph, got {type(G).__name__}")
    check_choice(mark, "mark", MARKS)
    if u == v:
        raise GraphTypeError(f"u, v: expected two different nodes, got {u!r} twice")
    if "mark" in attrs:
        raise ValidationError("attrs: expected no 'mark' keyword (pass it as `mark`), got one")
    for w in (u, v):
        if w not in G:
            G.add_node(w, latent=False)
    for a, b in ((u, v), (v, u)):
        if G.has_edge(a, b):
            G.remove_edge(a, b)
    G.add_edge(u, v, mark=mark, **attrs)
    if mark in SYMMETRIC_MARKS:
        G.add_edge(v, u, mark=mark, **attrs)


def marked_edges(G: nx.DiGraph) -> list[tuple]:
    """Every adjacency of ``G`` once, as ``(u, v, mark)``.

    Parameters
    ----------
    G : networkx.DiGraph

    Returns
    -------
    list of (u, v, mark)
        For ``"-->"`` and ``"o->"`` the stored direction; for symmetric marks
        ``u`` is the node that comes first in ``G.nodes``. Sorted by the
        positions of the two nodes in ``G.nodes``.
    """
    check_graph(G, "G")
    pos = {v: k for k, v in enumerate(G.nodes)}
    out = []
    for u, v, data in G.edges(data=True):
        mark = mark_of(data)
        if mark in SYMMETRIC_MARKS and pos[u] > pos[v]:
            continue
        out.append((u, v, mark))
    out.sort(key=lambda e: (min(pos[e[0]], pos[e[1]]), max(pos[e[0]], pos[e[1]]), pos[e[0]]))
    return out


def latent_nodes(G: nx.DiGraph) -> list:
    """Hidden nodes of ``G``.

    Parameters
    ----------
    G : networkx graph

    Returns
    -------
    list
        Nodes whose attribute ``latent`` is true, in ``G.nodes`` order.
    """
    if not isinstance(G, nx.Graph):
        raise GraphTypeError(f"G: expected a networkx graph, got {type(G).__name__}")
    return [v for v, f in G.nodes(data="latent", default=False) if f]


def observed_nodes(G: nx.DiGraph) -> list:
    """Observed nodes of ``G``.

    Parameters
    ----------
    G : networkx graph

    Returns
    -------
    list
        Nodes whose attribute ``latent`` is false or missing, in ``G.nodes`` order.
    """
    if not isinstance(G, nx.Graph):
        raise GraphTypeError(f"G: expected a networkx graph, got {type(G).__name__}")
    return [v for v, f in G.nodes(data="latent", default=False) if not f]


def latent_names(m: int, observed) -> list[str]:
    """Names ``L1..Lm`` for ``m`` hidden nodes, prefixed with ``_`` until none equals an observed name."""
    taken = {str(v) for v in observed}
    prefix = "L"
    while any(f"{prefix}{k + 1}" in taken for k in range(m)):
        prefix = "_" + prefix
    return [f"{prefix}{k + 1}" for k in range(m)]


def skeleton(G: nx.DiGraph) -> nx.Graph:
    """Undirected skeleton: same nodes (with their attributes), one edge per adjacency.

    Returns
    -------
    networkx.Graph
        Edges carry no attributes.
    """
    check_graph(G, "G")
    S = nx.Graph()
    S.add_nodes_from((v, dict(data)) for v, data in G.nodes(data=True))
    S.add_edges_from((u, v) for u, v in G.edges if u != v)
    return S


def graph_kind(G: nx.DiGraph) -> str:
    """The stored kind ``G.graph["kind"]``, checked against the graph.

    Checks that the kind is one of :data:`GRAPH_KINDS`, that every edge mark
    is allowed for it (DAG kinds: ``"-->"``; CPDAG kinds: ``"-->"``,
    ``"---"``; ``"pag"``: all) and that the directed part of a DAG or CPDAG
    kind is acyclic.

    Raises
    ------
    GraphTypeError
        No or unknown kind, or a mark the kind does not allow.
    CyclicGraphError
        A directed cycle in a DAG/CPDAG kind.
    """
    check_graph(G, "G")
    kind = G.graph.get("kind")
    if kind not in GRAPH_KINDS:
        raise GraphTypeError(f"G: expected G.graph['kind'] in {list(GRAPH_KINDS)}, got {kind!r}")
    for u, v, data in G.edges(data=True):
        if mark_of(data) not in _KIND_MARKS[kind]:
            raise GraphTypeError(
                f"G: expected marks {sorted(_KIND_MARKS[kind])} for kind {kind!r}, "
                f"got {mark_of(data)!r} on edge ({u!r}, {v!r})"
            )
    if kind != "pag":
        raise_if_cyclic(directed_part(G), "G")
    return kind


# ---------------------------------------------------------------------------
# causal-learn


def _unwrap_causallearn(obj):
    """The GeneralGraph inside what a causal-learn search returns, or None."""

    def is_general(g):
        return hasattr(g, "graph") and hasattr(g, "get_nodes") and hasattr(g, "node_map")

    if is_general(obj):
        return obj
    if is_general(getattr(obj, "G", None)):  # CausalGraph from pc
        return obj.G
    if isinstance(obj, dict) and is_general(obj.get("G")):  # GES record
        return obj["G"]
    if isinstance(obj, (tuple, list)) and obj and is_general(obj[0]):  # fci / GIN tuple
        return obj[0]
    return None


def from_causallearn(obj, *, node_names=None) -> nx.DiGraph:
    """Convert a causal-learn result to a marked graph.

    Parameters
    ----------
    obj : causal-learn result or ndarray
        A ``CausalGraph`` (``pc``; its ``.G`` is used), a ``GeneralGraph``
        (or ``Dag``), a GES record dict (``record["G"]``), a tuple whose first
        item is a GeneralGraph (``fci``'s ``(G, edges)``, ``GIN``'s
        ``(G, causal_order)``), or a raw endpoint matrix of shape (d, d) in
        the ``GeneralGraph.graph`` encoding: ``graph[a, b]`` is the endpoint
        at node ``a`` of the edge between ``a`` and ``b`` (-1 tail, 1 arrow,
        2 circle, 0 no edge), so ``graph[j, i] == 1`` and ``graph[i, j] == -1``
        mean ``i --> j``.
    node_names : sequence of hashable, optional
        Names for the nodes in causal-learn's order; default the causal-learn
        node names (for a raw matrix, ``0..d-1``).

    Returns
    -------
    networkx.DiGraph
        Nodes with ``latent=True`` exactly for causal-learn nodes of type
        ``NodeType.LATENT`` (names are never used). Kind: ``"pag"`` if any
        circle or bidirected edge; else ``"cpdag"``/``"latent_cpdag"`` if any
        undirected edge; else ``"dag"``/``"latent_dag"``.

    Raises
    ------
    GraphTypeError
        Unsupported input, or endpoints the toolkit cannot represent
        (several edges between one pair, tail-circle edges, star endpoints).
    """
    graph = _unwrap_causallearn(obj)
    if graph is not None:
        cl_nodes = list(graph.get_nodes())
        index = [graph.node_map[n] for n in cl_nodes]
        M = np.asarray(graph.graph)[np.ix_(index, index)]
        names = [n.get_name() for n in cl_nodes]
        flags = [getattr(n.get_node_type(), "name", None) == "LATENT" for n in cl_nodes]
    elif isinstance(obj, np.ndarray):
        M = check_square(obj, "obj")
        names = list(range(M.shape[0]))
        flags = [False] * M.shape[0]
    else:
        raise GraphTypeError(
            "obj: expected a causal-learn CausalGraph, GeneralGraph, GES record dict, "
            f"(GeneralGraph, ...) tuple or endpoint ndarray, got {type(obj).__name__}"
        )
    d = M.shape[0]
    bad = ~np.isin(M, list(CL_CODE_NAMES))
    if M.shape != (d, d) or np.any(bad):
        got = (
            f"shape {M.shape}"
            if M.shape != (d, d)
            else f"values {sorted(set(M[bad].tolist()))[:5]}"
        )
        raise GraphTypeError(
            f"obj: expected a square endpoint matrix with codes in {sorted(CL_CODE_NAMES)}, got {got}"
        )
    M = M.astype(int)
    if node_names is not None:
        names = list(node_names)
        if len(names) != d or len(set(names)) != d:
            raise ValidationError(
                f"node_names: expected {d} distinct names, got {len(names)} ({len(set(names))} distinct)"
            )
    G = nx.DiGraph()
    G.add_nodes_from((v, {"latent": f}) for v, f in zip(names, flags, strict=True))
    marks = set()
    for i, j in itertools.combinations(range(d), 2):
        key = (int(M[i, j]), int(M[j, i]))
        if key == (0, 0):
            continue
        if key not in ENDPOINTS_TO_MARK:
            raise GraphTypeError(
                f"obj: expected an edge with one of the marks {list(MARK_TO_ENDPOINTS)} between "
                f"{names[i]!r} and {names[j]!r}, got endpoints {CL_CODE_NAMES[key[0]]} at {names[i]!r} "
                f"and {CL_CODE_NAMES[key[1]]} at {names[j]!r}"
                + (" (a tail-circle edge, which the toolkit's marks cannot represent)"
                   if sorted(key) == [CL_TAIL, CL_CIRCLE] else "")
            )
        mark, flipped = ENDPOINTS_TO_MARK[key]
        u, v = (names[j], names[i]) if flipped else (names[i], names[j])
        add_marked_edge(G, u, v, mark)
        marks.add(mark)
    G.graph["kind"] = kind_for_marks(marks, any(flags))
    return G


def to_causallearn(G: nx.DiGraph):
    """Convert a marked graph to a causal-learn ``GeneralGraph``.

    Parameters
    ----------
    G : networkx.DiGraph
        Any kind; node names become ``str(node)`` and must stay distinct.

    Returns
    -------
    causallearn.graph.GeneralGraph.GeneralGraph
        One ``GraphNode`` per node in ``G.nodes`` order (type
        ``NodeType.LATENT`` for latent nodes, ``MEASURED`` otherwise) and one
        edge per adjacency with the endpoints of its mark (``"-->"``: tail,
        arrow; ``"o->"``: circle, arrow; ...). Flagged as a PAG for kind
        ``"pag"`` and as a pattern for CPDAG kinds.

    Raises
    ------
    GraphTypeError
        Self-loops or two directed edges between one pair (a 2-cycle).
    ValidationError
        Node names that collide under ``str``.
    """
    from causallearn.graph.Edge import Edge
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.graph.NodeType import NodeType

    check_graph(G, "G")
    names = [str(v) for v in G.nodes]
    if len(set(names)) != len(names):
        dup = sorted({s for s in names if names.count(s) > 1})
        raise ValidationError(
            f"G: expected node names distinct under str(), got duplicates {dup!r}"
        )
    cl_nodes = {}
    for v, f in G.nodes(data="latent", default=False):
        node = GraphNode(str(v))
        node.set_node_type(NodeType.LATENT if f else NodeType.MEASURED)
        cl_nodes[v] = node
    out = GeneralGraph(list(cl_nodes.values()))
    for u, v, mark in marked_edges(G):
        if u == v:
            raise GraphTypeError(
                f"G: expected no self-loops (causal-learn has none), got one at {u!r}"
            )
        eu, ev = MARK_TO_ENDPOINTS[mark]
        if out.add_edge(Edge(cl_nodes[u], cl_nodes[v], Endpoint(eu), Endpoint(ev))) is False:
            raise GraphTypeError(
                f"G: expected at most one edge between {u!r} and {v!r} for causal-learn, got two"
            )
    kind = G.graph.get("kind")
    out.set_pag(kind == "pag")
    out.set_pattern(kind in ("cpdag", "latent_cpdag"))
    return out
