"""Graph algorithms of :mod:`crl.graphs`: CPDAGs, Meek's rules, orders, closure.

The public functions are re-exported by :mod:`crl.graphs`; import them from
there. The matrix kernels work on numpy boolean matrices indexed by node
position with the toolkit orientation: ``D[i, j]`` is a directed edge
``i -> j``; ``U`` is symmetric, ``U[i, j] = U[j, i]`` an undirected edge
``i --- j``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import networkx as nx
import numpy as np

from crl._graph_marks import (
    bool_matrices,
    check_graph,
    check_matrix,
    copy_nodes,
    directed_input,
    directed_part,
    raise_if_cyclic,
    require_directed_only,
)
from crl.exceptions import CyclicGraphError
from crl.validation import check_int

__all__ = [
    "dag_to_cpdag",
    "meek_orient",
    "transitive_closure",
    "transitive_reduction",
    "topological_order",
    "topological_orders",
    "is_acyclic",
    "check_acyclic",
]


def v_structure_edges(D: np.ndarray) -> np.ndarray:
    """Directed edges of ``D`` that take part in an unshielded collider.

    Returns a boolean matrix ``C`` with ``C[a, c]`` true when ``a -> c <- b``
    for some ``b`` not adjacent to ``a``.
    """
    D = np.asarray(D, dtype=bool)
    adj = D | D.T
    C = np.zeros_like(D)
    for c in range(D.shape[0]):
        parents = np.flatnonzero(D[:, c])
        for k, a in enumerate(parents):
            for b in parents[k + 1 :]:
                if not adj[a, b]:
                    C[a, c] = C[b, c] = True
    return C


def _meek_orients(D, U, adj, a, b) -> bool:
    """Whether one of Meek's rules R1-R4 orients the undirected edge a --- b into a -> b."""
    # R1: c -> a --- b with c, b not adjacent.
    if np.any(D[:, a] & ~adj[:, b]):
        return True
    # R2: a -> c -> b.
    if np.any(D[a, :] & D[:, b]):
        return True
    # R3: a --- c -> b and a --- d -> b with c, d not adjacent.
    mids = np.flatnonzero(U[a, :] & D[:, b])
    if mids.size >= 2 and np.any(~adj[np.ix_(mids, mids)] & ~np.eye(mids.size, dtype=bool)):
        return True
    # R4: a adj c, c -> d -> b, a adj d, c and b not adjacent.
    starts = adj[a, :] & ~adj[:, b]
    starts[b] = False
    ends = D[:, b] & adj[a, :]
    return bool(starts.any() and ends.any() and np.any(D[np.ix_(starts, ends)]))


def meek_closure(D: np.ndarray, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply Meek's rules R1-R4 until none applies.

    Parameters
    ----------
    D : bool ndarray of shape (d, d)
        Directed edges, ``D[i, j]`` means ``i -> j``.
    U : bool ndarray of shape (d, d)
        Undirected edges, symmetric.

    Returns
    -------
    D, U : new bool arrays of shape (d, d) after orientation.
    """
    D = np.array(D, dtype=bool)
    U = np.array(U, dtype=bool)
    adj = D | D.T | U  # adjacency does not change while orienting
    pairs = [
        (int(a), int(b))
        for i, j in zip(*np.nonzero(np.triu(U)), strict=True)
        for a, b in ((i, j), (j, i))
    ]
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            if U[a, b] and _meek_orients(D, U, adj, a, b):
                D[a, b] = True
                U[a, b] = U[b, a] = False
                changed = True
    return D, U


def dag_to_cpdag_matrices(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CPDAG of the DAG ``D``: keep v-structure edges, undirect the rest, close under Meek."""
    D = np.asarray(D, dtype=bool)
    C = v_structure_edges(D)
    rest = D & ~C
    return meek_closure(C, rest | rest.T)


# ---------------------------------------------------------------------------
# equivalence classes


def dag_to_cpdag(G):
    """CPDAG (essential graph) of a DAG: v-structures plus Meek's rules.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        A DAG; for a matrix ``A[i, j] != 0`` means ``i -> j``.

    Returns
    -------
    networkx.DiGraph or ndarray of shape (d, d)
        Same type as the input. A graph keeps node and edge attributes; a
        reversible edge becomes ``---`` (stored both ways, each copy with the
        original edge's attributes); kind ``"cpdag"`` (``"latent_cpdag"`` if
        any node is latent). A matrix is binary float: ``1`` at ``[i, j]``
        only for a compelled ``i -> j``, symmetric ``1`` for ``i --- j``.

    Raises
    ------
    GraphTypeError
        A graph with marks other than ``"-->"``.
    CyclicGraphError
        A directed cycle.
    """
    if isinstance(G, nx.Graph):
        check_graph(G, "G")
        require_directed_only(G, "G")
        raise_if_cyclic(G, "G")
        nodes = list(G.nodes)
        pos = {v: k for k, v in enumerate(nodes)}
        D, _ = bool_matrices(G, nodes, "G")
        Dc, Uc = dag_to_cpdag_matrices(D)
        latent = any(f for _, f in G.nodes(data="latent", default=False))
        H = copy_nodes(G, kind="latent_cpdag" if latent else "cpdag")
        for u, v, data in G.edges(data=True):
            if Dc[pos[u], pos[v]]:
                H.add_edge(u, v, **{**data, "mark": "-->"})
            else:
                H.add_edge(u, v, **{**data, "mark": "---"})
                H.add_edge(v, u, **{**data, "mark": "---"})
        return H
    D = check_matrix(G, "G") != 0
    raise_if_cyclic(directed_input(D.astype(float), "G")[0], "G")
    Dc, Uc = dag_to_cpdag_matrices(D)
    return (Dc | Uc).astype(float)


def meek_orient(G):
    """Orient a partially directed graph with Meek's rules R1-R4 until none applies.

    R1: ``c -> a --- b``, ``c``, ``b`` not adjacent gives ``a -> b``.
    R2: ``a -> c -> b`` and ``a --- b`` gives ``a -> b``.
    R3: ``a --- c -> b``, ``a --- d -> b``, ``c``, ``d`` not adjacent, ``a --- b`` gives ``a -> b``.
    R4: ``a`` adjacent to ``c`` and ``d``, ``c -> d -> b``, ``c``, ``b`` not adjacent, ``a --- b`` gives ``a -> b``.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        Marks ``"-->"`` and ``"---"`` only. For a matrix ``A[i, j] != 0``
        alone means ``i -> j`` and a symmetric pair means ``i --- j``.

    Returns
    -------
    networkx.DiGraph or ndarray of shape (d, d)
        A new object of the input's type. A graph keeps node, edge (the copy
        ``u -> v`` for a newly oriented ``u -> v``) and graph attributes,
        kind included; a matrix is binary float.

    Raises
    ------
    GraphTypeError
        Other marks (circles, bidirected edges).
    CyclicGraphError
        The directed part has a cycle.
    """
    if isinstance(G, nx.Graph):
        check_graph(G, "G")
        nodes = list(G.nodes)
        pos = {v: k for k, v in enumerate(nodes)}
        D, U = bool_matrices(G, nodes, "G")
        raise_if_cyclic(directed_part(G), "G")
        D2, U2 = meek_closure(D, U)
        H = copy_nodes(G)
        for u, v, data in G.edges(data=True):
            i, j = pos[u], pos[v]
            if D2[i, j]:
                H.add_edge(u, v, **{**data, "mark": "-->"})
            elif U2[i, j]:
                H.add_edge(u, v, **data)
        return H
    nz = check_matrix(G, "G") != 0
    if np.any(np.diag(nz)):
        loops = np.flatnonzero(np.diag(nz)).tolist()
        raise CyclicGraphError(f"G: expected no self-loops, got loops at {loops}")
    U = nz & nz.T
    D = nz & ~U
    raise_if_cyclic(directed_input(D.astype(float), "G")[0], "G")
    D2, U2 = meek_closure(D, U)
    return (D2 | U2).astype(float)


# ---------------------------------------------------------------------------
# orders, closure, reduction


def transitive_closure(G):
    """Transitive closure of a DAG: an edge ``u -> v`` for every directed path.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        A DAG (only ``"-->"`` edges); for a matrix ``A[i, j] != 0`` means ``i -> j``.

    Returns
    -------
    networkx.DiGraph or ndarray of shape (d, d)
        Same type. A graph keeps all attributes; added edges carry
        ``mark="-->"`` only. A matrix is binary float (no self-loops).
    """
    if isinstance(G, nx.Graph):
        check_graph(G, "G")
        require_directed_only(G, "G")
        raise_if_cyclic(G, "G")
        H = nx.transitive_closure_dag(G, topo_order=topological_order(G))
        for _, _, data in H.edges(data=True):
            data.setdefault("mark", "-->")
        return H
    D, _ = directed_input(G, "G")
    raise_if_cyclic(D, "G")
    return nx.to_numpy_array(
        nx.transitive_closure_dag(D), nodelist=range(D.number_of_nodes()), weight=None
    )


def transitive_reduction(G):
    """Transitive reduction of a DAG: the fewest edges with the same reachability.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        A DAG (only ``"-->"`` edges); for a matrix ``A[i, j] != 0`` means ``i -> j``.

    Returns
    -------
    networkx.DiGraph or ndarray of shape (d, d)
        Same type. A graph keeps the attributes of surviving nodes/edges and
        of the graph; a matrix is binary float.
    """
    if isinstance(G, nx.Graph):
        check_graph(G, "G")
        require_directed_only(G, "G")
        raise_if_cyclic(G, "G")
        keep = set(nx.transitive_reduction(G).edges)
        H = G.copy()
        H.remove_edges_from([e for e in G.edges if e not in keep])
        return H
    D, _ = directed_input(G, "G")
    raise_if_cyclic(D, "G")
    return nx.to_numpy_array(
        nx.transitive_reduction(D), nodelist=range(D.number_of_nodes()), weight=None
    )


def is_acyclic(G) -> bool:
    """Whether the directed part of ``G`` has no directed cycle.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        For a graph only ``"-->"`` edges count as directed; for a matrix every
        non-zero ``A[i, j]`` is ``i -> j`` (a symmetric pair is a 2-cycle).

    Returns
    -------
    bool
    """
    D, _ = directed_input(G, "G")
    return nx.is_directed_acyclic_graph(D)


def check_acyclic(G, name: str = "graph") -> None:
    """Raise :class:`CyclicGraphError` naming a directed cycle of ``G``, if any.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        As in :func:`is_acyclic`.
    name : str
        The argument name used in the message.

    Raises
    ------
    CyclicGraphError
        With the cycle spelled out, e.g. ``"truth: expected an acyclic graph,
        got the directed cycle 'a' -> 'b' -> 'a'"``.
    """
    D, _ = directed_input(G, name)
    raise_if_cyclic(D, name)


def topological_order(G) -> list:
    """A deterministic topological order of the directed part of ``G``.

    Among the nodes available at each step the one earliest in ``G.nodes``
    (the lowest index for a matrix) comes first.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        As in :func:`is_acyclic`.

    Returns
    -------
    list
        Node names (matrix indices for an ndarray); every ``u -> v`` has ``u`` before ``v``.
    """
    D, _ = directed_input(G, "G")
    raise_if_cyclic(D, "G")
    pos = {v: k for k, v in enumerate(D.nodes)}
    return list(nx.lexicographical_topological_sort(D, key=pos.__getitem__))


def topological_orders(G, limit: int | None = None) -> Iterator[list]:
    """Iterate over all topological orders of the directed part of ``G``.

    Parameters
    ----------
    G : networkx.DiGraph or ndarray of shape (d, d)
        As in :func:`is_acyclic`; checked for cycles before iteration starts.
    limit : int, optional
        Stop after this many orders (there can be up to ``d!``).

    Returns
    -------
    iterator of list
        Orders as lists of nodes (matrix indices for an ndarray), in
        networkx's ``all_topological_sorts`` sequence.
    """
    D, _ = directed_input(G, "G")
    raise_if_cyclic(D, "G")
    if limit is not None:
        limit = check_int(limit, "limit", minimum=0)
    return (list(order) for order in itertools.islice(nx.all_topological_sorts(D), limit))
