"""Random generators of the three RLCD graph families, rejection-sampled against the conditions.

Random generators name their nodes through random permutations, so names and
node order carry no causal information.
"""

from __future__ import annotations

from itertools import combinations

import networkx as nx

from crl.exceptions import ValidationError
from crl.validation import check_float, check_int, check_random_state
from simulators.partial import (
    build_latent_dag,
)
from simulators.rlcd_conditions import check_rlcd_conditions

__all__ = ["random_latent_tree", "random_measurement_model", "random_general_latent_graph"]

# ---------------------------------------------------------------------------
# random generators
# ---------------------------------------------------------------------------


class _Draft:
    """A graph under construction with provisional names, relabelled at random at the end."""

    def __init__(self):
        self.latent: list[str] = []
        self.observed: list[str] = []
        self.edges: set[tuple[str, str]] = set()

    def new_latent(self) -> str:
        self.latent.append(f"l{len(self.latent)}")
        return self.latent[-1]

    def new_observed(self) -> str:
        self.observed.append(f"x{len(self.observed)}")
        return self.observed[-1]

    def add(self, u: str, v: str) -> None:
        self.edges.add((u, v))

    def digraph(self) -> nx.DiGraph:
        G = nx.DiGraph()
        G.add_nodes_from(self.latent + self.observed)
        G.add_edges_from(self.edges)
        return G

    def finish(self, rng, family: str, name: str) -> nx.DiGraph:
        obs = {
            v: f"X{k + 1}"
            for v, k in zip(self.observed, rng.permutation(len(self.observed)), strict=True)
        }
        lat = {
            v: f"L{k + 1}"
            for v, k in zip(self.latent, rng.permutation(len(self.latent)), strict=True)
        }
        names = {**obs, **lat}
        edges = [(names[u], names[v]) for u, v in self.edges]
        G = build_latent_dag(edges, lat.values(), obs.values(), family=family, name=name)
        return G


def _check_count_range(value, name: str, minimum: int) -> tuple[int, int]:
    try:
        low, high = value
    except (TypeError, ValueError):
        raise ValidationError(
            f"{name}: expected a pair of ints (low, high), got {value!r}"
        ) from None
    low = check_int(low, f"{name}[0]", minimum=minimum)
    high = check_int(high, f"{name}[1]", minimum=low)
    return low, high


def _pick(rng, items):
    items = list(items)
    return items[int(rng.integers(len(items)))]


def _reject(generator: str, max_tries: int, violations) -> None:
    raise ValidationError(
        f"max_tries: expected a draw of {generator} satisfying check_rlcd_conditions within "
        f"{max_tries} tries, got none (last violations: {list(violations)[:3]}); "
        "raise max_tries or give more indicators per latent"
    )


def _common(n_latents, max_tries, random_state, minimum_latents: int = 1):
    if n_latents is not None:
        n_latents = check_int(n_latents, "n_latents", minimum=minimum_latents)
    max_tries = check_int(max_tries, "max_tries", minimum=1)
    return n_latents, max_tries, check_random_state(random_state)


def random_latent_tree(
    n_latents: int | None = None,
    *,
    n_indicators=(3, 4),
    n_observed_leaves: int | None = None,
    x_to_latent_prob: float = 0.25,
    max_tries: int = 100,
    random_state=None,
) -> nx.DiGraph:
    """A random latent tree (every node has at most one parent).

    Draw: a random recursive tree over the latents; each latent gets
    ``n_indicators`` observed children (uniform count); each latent → latent
    edge is, with probability ``x_to_latent_prob``, routed through one of the
    parent's indicators instead (``L → X → L'``, as in ``tree_b``); finally
    ``n_observed_leaves`` new observed nodes hang below random observed nodes
    (X → X edges, as in ``tree_a``). Draws failing
    :func:`check_rlcd_conditions` are rejected. Defaults average about 4
    latents and 15 observed nodes.

    Parameters
    ----------
    n_latents : int >= 1, optional
        Number of latents; default uniform on {3, 4, 5} per draw.
    n_indicators : (low, high)
        Range of the number of indicators per latent.
    n_observed_leaves : int >= 0, optional
        Extra observed leaves; default uniform on {0, 1, 2}.
    x_to_latent_prob : float in [0, 1]
        Probability that a latent edge goes through an observed variable.
    max_tries : int
        Rejection-sampling budget.
    random_state : None, int or Generator

    Returns
    -------
    networkx.DiGraph
        Unweighted latent DAG with ``graph["family"] = "tree"``.

    Raises
    ------
    ValidationError
        On bad arguments, or when no draw passes within ``max_tries``.
    """
    n_latents, max_tries, rng = _common(n_latents, max_tries, random_state)
    lo, hi = _check_count_range(n_indicators, "n_indicators", 1)
    if n_observed_leaves is not None:
        n_observed_leaves = check_int(n_observed_leaves, "n_observed_leaves", minimum=0)
    prob = check_float(x_to_latent_prob, "x_to_latent_prob", minimum=0.0, maximum=1.0)
    violations: list[str] = []
    for _ in range(max_tries):
        m = n_latents if n_latents is not None else int(rng.integers(3, 6))
        leaves = n_observed_leaves if n_observed_leaves is not None else int(rng.integers(0, 3))
        d = _Draft()
        L = [d.new_latent() for _ in range(m)]
        ind = {v: [d.new_observed() for _ in range(int(rng.integers(lo, hi + 1)))] for v in L}
        for v, w in ind.items():
            for x in w:
                d.add(v, x)
        for i in range(1, m):
            parent = L[int(rng.integers(i))]
            src = _pick(rng, ind[parent]) if rng.random() < prob else parent
            d.add(src, L[i])
        for _ in range(leaves):
            src = _pick(rng, d.observed)
            d.add(src, d.new_observed())
        G = d.finish(rng, "tree", "random_latent_tree")
        violations = check_rlcd_conditions(G)
        if not violations:
            return G
    _reject("random_latent_tree", max_tries, violations)


def _no_common_neighbour(D: nx.DiGraph, a, b) -> bool:
    U = D.to_undirected(as_view=True)
    return not U.has_edge(a, b) and not (set(U[a]) & set(U[b]))


def random_measurement_model(
    n_latents: int | None = None,
    *,
    n_indicators=(3, 4),
    latent_edge_prob: float = 0.3,
    n_impurities: int | None = None,
    max_tries: int = 100,
    random_state=None,
) -> nx.DiGraph:
    """A random latent measurement model with a triangle-free latent DAG.

    Draw: a random recursive tree over the latents (in a random causal
    order, so the latent graph is connected), plus each further latent pair
    with probability ``latent_edge_prob`` when the edge closes no triangle;
    ``n_indicators`` pure indicators per latent; then ``n_impurities``
    impurities, each one of (uniformly): a cross-loading (a new indicator of
    two non-adjacent latents, as X11 in ``mm_b``), a child of an indicator
    (X3 → X10 in ``mm_b``), or an edge between indicators of two different
    latents. Draws failing :func:`check_rlcd_conditions` are rejected.
    Defaults average about 4 latents and 15 observed nodes.

    Parameters
    ----------
    n_latents : int >= 1, optional
        Default uniform on {3, 4, 5} per draw.
    n_indicators : (low, high)
        Range of the number of pure indicators per latent.
    latent_edge_prob : float in [0, 1]
        Probability of each extra (triangle-free) latent edge.
    n_impurities : int >= 0, optional
        Default uniform on {1, 2}.
    max_tries : int
    random_state : None, int or Generator

    Returns
    -------
    networkx.DiGraph
        Unweighted latent DAG with ``graph["family"] = "measurement"``.
    """
    n_latents, max_tries, rng = _common(n_latents, max_tries, random_state)
    lo, hi = _check_count_range(n_indicators, "n_indicators", 1)
    prob = check_float(latent_edge_prob, "latent_edge_prob", minimum=0.0, maximum=1.0)
    if n_impurities is not None:
        n_impurities = check_int(n_impurities, "n_impurities", minimum=0)
    violations: list[str] = []
    for _ in range(max_tries):
        m = n_latents if n_latents is not None else int(rng.integers(3, 6))
        n_imp = n_impurities if n_impurities is not None else int(rng.integers(1, 3))
        d = _Draft()
        L = [d.new_latent() for _ in range(m)]
        for i in range(1, m):
            d.add(L[int(rng.integers(i))], L[i])
        pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
        for k in rng.permutation(len(pairs)):
            i, j = pairs[k]
            if rng.random() < prob and _no_common_neighbour(d.digraph(), L[i], L[j]):
                d.add(L[i], L[j])
        ind = {v: [d.new_observed() for _ in range(int(rng.integers(lo, hi + 1)))] for v in L}
        for v, w in ind.items():
            for x in w:
                d.add(v, x)
        for _ in range(n_imp):
            kind = ("cross_loading", "indicator_child", "cross_edge")[int(rng.integers(3))]
            D = d.digraph()
            free = [
                (a, b)
                for a, b in combinations(L, 2)
                if not D.has_edge(a, b) and not D.has_edge(b, a)
            ]
            if kind == "cross_loading" and free:
                a, b = _pick(rng, free)
                x = d.new_observed()
                d.add(a, x)
                d.add(b, x)
            elif kind == "cross_edge" and m >= 2:
                a, b = (L[k] for k in rng.choice(m, size=2, replace=False))
                xa, xb = _pick(rng, ind[a]), _pick(rng, ind[b])
                if not nx.has_path(D, xb, xa):
                    d.add(xa, xb)
            else:
                d.add(_pick(rng, d.observed), d.new_observed())
        G = d.finish(rng, "measurement", "random_measurement_model")
        violations = check_rlcd_conditions(G)
        if not violations:
            return G
    _reject("random_measurement_model", max_tries, violations)


def random_general_latent_graph(
    n_latents: int | None = None,
    *,
    n_indicators=(3, 4),
    n_two_latent_covers: int | None = None,
    x_to_latent_prob: float = 0.5,
    observed_root_prob: float = 0.5,
    n_x_edges: int | None = None,
    max_tries: int = 100,
    random_state=None,
) -> nx.DiGraph:
    """A random general latent graph: observed causes of latents, X–X edges, 2-latent covers.

    Draw: the latents are grouped into *units*, ``n_two_latent_covers`` pairs
    (two non-adjacent latents with the same parents and children, an atomic
    cover with k = 2, as {L3, L4} in ``gen_a``) and single latents. With
    probability ``observed_root_prob`` an observed root is added (X1 in
    ``gen_a``). Units form a random recursive tree whose root hangs below
    the observed root when there is one; every later unit picks its parent
    among the earlier units and the observed root. A unit → unit edge is,
    with probability ``x_to_latent_prob``, routed through one indicator of
    the parent unit (X → L edges, as X7 → {L3, L4}); otherwise every member
    of the parent points to every member of the child. Single latents get
    ``n_indicators`` indicators, pairs ``n_indicators[1] + 1`` shared ones.
    Finally ``n_x_edges`` X → X edges: each is (with probability 1/2) an
    edge between two observed nodes with no common neighbour, in the
    direction that keeps the graph acyclic (X9 → X11 in ``gen_b``), or a new
    observed child of an observed node (chains X2 → X8 → X9). Draws failing
    :func:`check_rlcd_conditions` are rejected, Condition 2 included: an X → X
    edge into a child of a 2-latent cover from a node that one variable
    separates from the cover is the usual culprit (about a third of the
    draws with the defaults). Defaults average about 4 latents and 15
    observed nodes.

    Parameters
    ----------
    n_latents : int >= 1, optional
        Default uniform on {3, 4, 5} per draw.
    n_indicators : (low, high)
        Range of the number of indicators of a single latent.
    n_two_latent_covers : int >= 0, optional
        Number of 2-latent covers (``2 * n_two_latent_covers <= n_latents``);
        default 1 when there are at least 3 latents, else 0.
    x_to_latent_prob : float in [0, 1]
    observed_root_prob : float in [0, 1]
    n_x_edges : int >= 0, optional
        Default uniform on {2, 3, 4}.
    max_tries : int
    random_state : None, int or Generator

    Returns
    -------
    networkx.DiGraph
        Unweighted latent DAG with ``graph["family"] = "general"``.
    """
    n_latents, max_tries, rng = _common(n_latents, max_tries, random_state)
    lo, hi = _check_count_range(n_indicators, "n_indicators", 1)
    if n_two_latent_covers is not None:
        n_two_latent_covers = check_int(n_two_latent_covers, "n_two_latent_covers", minimum=0)
        if n_latents is not None and 2 * n_two_latent_covers > n_latents:
            raise ValidationError(
                f"n_two_latent_covers: expected at most n_latents / 2 = {n_latents // 2}, got {n_two_latent_covers}"
            )
    p_x = check_float(x_to_latent_prob, "x_to_latent_prob", minimum=0.0, maximum=1.0)
    p_root = check_float(observed_root_prob, "observed_root_prob", minimum=0.0, maximum=1.0)
    if n_x_edges is not None:
        n_x_edges = check_int(n_x_edges, "n_x_edges", minimum=0)
    violations: list[str] = []
    for _ in range(max_tries):
        m = n_latents if n_latents is not None else int(rng.integers(3, 6))
        c2 = n_two_latent_covers if n_two_latent_covers is not None else (1 if m >= 3 else 0)
        c2 = min(c2, m // 2)
        n_x = n_x_edges if n_x_edges is not None else int(rng.integers(2, 5))
        d = _Draft()
        units = [[d.new_latent(), d.new_latent()] for _ in range(c2)]
        units += [[d.new_latent()] for _ in range(m - 2 * c2)]
        units = [units[k] for k in rng.permutation(len(units))]
        ind = {}
        for k, unit in enumerate(units):
            count = hi + 1 if len(unit) == 2 else int(rng.integers(lo, hi + 1))
            ind[k] = [d.new_observed() for _ in range(count)]
            for v in unit:
                for x in ind[k]:
                    d.add(v, x)
        root = d.new_observed() if rng.random() < p_root else None
        for k, unit in enumerate(units):
            options = list(range(k)) + ([-1] if root is not None else [])
            if not options:
                continue
            parent = _pick(rng, options)
            if parent == -1:
                sources = [root]
            elif rng.random() < p_x:
                sources = [_pick(rng, ind[parent])]
            else:
                sources = units[parent]
            for s in sources:
                for v in unit:
                    d.add(s, v)
        for _ in range(n_x):
            added = False
            if rng.random() < 0.5:
                D = d.digraph()
                for _attempt in range(20):
                    a, b = (
                        d.observed[k] for k in rng.choice(len(d.observed), size=2, replace=False)
                    )
                    if _no_common_neighbour(D, a, b):
                        a, b = (b, a) if nx.has_path(D, b, a) else (a, b)
                        d.add(a, b)
                        added = True
                        break
            if not added:
                d.add(_pick(rng, d.observed), d.new_observed())
        G = d.finish(rng, "general", "random_general_latent_graph")
        violations = check_rlcd_conditions(G)
        if not violations:
            return G
    _reject("random_general_latent_graph", max_tries, violations)


_GENERATORS = {
    "tree": random_latent_tree,
    "measurement": random_measurement_model,
    "general": random_general_latent_graph,
}
