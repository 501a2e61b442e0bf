"""Merge-and-orient step of RLCD (Alg. 1, lines 7–8; App. D.5) (private).

The arrows of the cluster search (cover → children) are a by-product of the
construction, not identified orientations. The output keeps only what the
Markov equivalence class identifies from the evidence at hand:

1. **v-structures among observed pairs** from the separating sets: for a
   triple ``a – c – b`` with ``a``, ``b`` observed and non-adjacent, ``c``
   is a collider iff ``c`` is not in the set that separated ``a`` and ``b``
   (Phase 1, or a rank-based search for ``stage1="all"``/``"ges"``).
2. **v-structures at children of multi-member covers**: when the search made
   ``c`` a child of two non-adjacent members ``a``, ``b`` of one cover (a
   cover with several hidden members, or a non-atomic cover such as the
   parents of a collider latent) in the same group, ``c`` is a collider —
   unless ``c`` is an observed variable shared by several groups, which
   Phase 1 shows to separate them and which therefore cannot be a collider
   between their members (inside its group a parent of a cover is
   indistinguishable from a child), or unless ``c`` alone t-separates the
   measured children of ``a`` and ``b`` with those of ``c`` split over both
   sides (``rank(Σ[M_a ∪ M_c', M_b ∪ M_c'']) <= 1`` is not rejected): then
   ``c`` is their common cause. The cluster search
   cannot tell the top of a diamond ``a ← c → b`` from its bottom
   ``a → c ← b`` (both are deficient sets below ``{a, b}``); this test can.
3. Conflicting v-structures are dropped; Meek's rules R1–R4 complete the class.
"""

from __future__ import annotations

import logging
from itertools import combinations

import networkx as nx

from crl._graph_marks import directed_part, raise_if_cyclic
from crl.exceptions import CyclicGraphError
from crl.graphs import add_marked_edge, meek_orient

__all__ = ["orient", "merge_and_orient"]

logger = logging.getLogger(__name__)


def _colliders(adj, is_obs, sepset_of, strong, bridges, separates, use_strong=True):
    arrows = set()
    for c in sorted(adj):
        for a, b in combinations(sorted(adj[c]), 2):
            if b in adj[a]:
                continue
            decided = False
            if is_obs(a) and is_obs(b):
                S = sepset_of(a, b)
                if S is not None:
                    decided = True
                    if c not in S:
                        arrows |= {(a, c), (b, c)}
            if decided or not use_strong or c in bridges:
                continue
            ga, gb = strong.get((a, c)), strong.get((b, c))
            if ga is not None and gb is not None and ga & gb and not separates(a, b, c):
                arrows |= {(a, c), (b, c)}
    conflicts = {(u, v) for (u, v) in arrows if (v, u) in arrows}
    if conflicts:
        logger.info("dropping %d conflicting v-structure arrows", len(conflicts))
    return arrows - conflicts


def orient(adj, is_obs, sepset_of, strong, bridges, separates=lambda a, b, c: False) -> nx.DiGraph:
    """CPDAG over integer nodes: v-structures (rules 1–2 above), then Meek's rules.

    Parameters
    ----------
    adj : dict int -> set of int
        Final skeleton.
    is_obs : callable int -> bool
    sepset_of : callable (a, b) -> tuple or None
        Separating set of two observed nodes, None when unknown.
    strong : dict (parent, child) -> frozenset of group indices
        Cover arrows made by the cluster search, with the groups that made them.
    bridges : set of int
        Observed nodes that belong to several groups.
    separates : callable (a, b, c) -> bool
        True when a rank test shows that ``c`` alone t-separates the measures
        of ``a`` and ``b`` (then ``c`` is their common cause, not a collider).

    Returns
    -------
    networkx.DiGraph
        Integer nodes, marks ``-->``/``---``.
    """
    for use_strong in (True, False):
        arrows = _colliders(adj, is_obs, sepset_of, strong, bridges, separates, use_strong)
        G = nx.DiGraph(kind="latent_cpdag")
        G.add_nodes_from(sorted(adj), latent=False)
        for u in sorted(adj):
            for v in sorted(adj[u]):
                if u >= v:
                    continue
                if (u, v) in arrows:
                    add_marked_edge(G, u, v, "-->")
                elif (v, u) in arrows:
                    add_marked_edge(G, v, u, "-->")
                else:
                    add_marked_edge(G, u, v, "---")
        try:
            H = meek_orient(G)
            raise_if_cyclic(directed_part(H), "graph")
            return H
        except CyclicGraphError:
            logger.info(
                "the v-structures close a directed cycle; %s",
                "retrying without the cover-based ones" if use_strong else "leaving every edge undirected",
            )
    G = nx.DiGraph(kind="latent_cpdag")
    G.add_nodes_from(sorted(adj), latent=False)
    for u in sorted(adj):
        for v in sorted(adj[u]):
            if u < v:
                add_marked_edge(G, u, v, "---")
    return G


def merge_and_orient(p, adj, sepsets, groups, rank_test, sepset_search=None):
    """Replace each group's X–X edges by its search result, then orient (rules 1–3 above).

    Parameters
    ----------
    p : int
        Number of observed variables (ids ``0..p-1``; hidden ids are larger).
    adj : list of set
        Phase-1 skeleton over the observed variables.
    sepsets : dict (i, j) -> tuple
        Phase-1 separating sets (``i < j``).
    groups : list of (observed ids, edges)
        Per group: its observed variables and the ``(u, v, origin)`` edges of
        its search (origin ``"cluster"`` for cover arrows).
    rank_test : RankTest or OracleRankTest
    sepset_search : callable (a, b, candidates) -> tuple or None, optional
        Searches a separating set of two observed variables that Phase 1 did
        not separate (for ``stage1="all"``/``"ges"``, which record none).

    Returns
    -------
    cpdag : networkx.DiGraph
        Over integer ids.
    hidden : list of int
        The hidden ids in use, sorted.
    """
    nb = {i: set(adj[i]) for i in range(p)}
    strong: dict = {}
    membership: dict = {}
    observed_children: dict = {}
    for gi, (obs, _edges) in enumerate(groups):
        for x in obs:
            membership.setdefault(x, set()).add(gi)
            nb[x] -= set(obs)
    for gi, (_obs, edges) in enumerate(groups):
        for u, v, origin in edges:
            nb.setdefault(u, set()).add(v)
            nb.setdefault(v, set()).add(u)
            if origin == "cluster":
                strong.setdefault((u, v), set()).add(gi)
            if u >= p and v < p:
                observed_children.setdefault(u, set()).add(v)
    strong = {k: frozenset(v) for k, v in strong.items()}
    bridges = {x for x, gs in membership.items() if len(gs) > 1}
    cache: dict = {}

    def sepset_of(a, b):
        key = (min(a, b), max(a, b))
        if key in sepsets:
            return sepsets[key]
        if sepset_search is None:
            return None
        if key not in cache:
            cache[key] = sepset_search(a, b, {w for w in nb[a] | nb[b] if w < p})
        return cache[key]

    def measures(v):
        return {v} if v < p else observed_children.get(v, set())

    def separates(a, b, c):
        # c's measured children split over both sides: rank <= 1 iff c alone t-separates them
        ma, mb, mc = measures(a), measures(b), measures(c)
        Ma, Mb, Mc = sorted(ma - mb - mc), sorted(mb - ma - mc), sorted(mc - ma - mb)
        if not Ma or not Mb or len(Mc) < 2:
            return False
        h = len(Mc) // 2
        return bool(rank_test.test(Ma + Mc[:h], Mb + Mc[h:], 1))

    cp = orient(nb, lambda v: v < p, sepset_of, strong, bridges, separates)
    return cp, sorted(v for v in nb if v >= p)
