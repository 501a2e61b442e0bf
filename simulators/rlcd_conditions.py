"""Programmatic checks of RLCD's graphical conditions (Dong et al., ICLR 2024; rlcd.md §1)."""

from __future__ import annotations

from itertools import combinations

import networkx as nx

from simulators.partial import (
    _check_latent_graph,
    _is_latent,
    _natural_key,
)

__all__ = ["check_rlcd_conditions"]

# ---------------------------------------------------------------------------
# conditions
# ---------------------------------------------------------------------------


def _fmt(nodes) -> str:
    return "{" + ", ".join(str(v) for v in sorted(nodes, key=_natural_key)) + "}"


def _covers(G: nx.DiGraph) -> list[list]:
    """Candidate atomic covers: latents grouped by identical non-empty child sets.

    An observed node with exactly the child set of such a group joins it as an
    observed member. A latent without children is a cover on its own.
    """
    groups: dict = {}
    for v in sorted(G, key=_natural_key):
        if _is_latent(G, v):
            ch = frozenset(G.successors(v))
            groups.setdefault(ch if ch else ("childless", v), []).append(v)
    for v in sorted(G, key=_natural_key):
        if not _is_latent(G, v):
            ch = frozenset(G.successors(v))
            if ch and ch in groups:
                groups[ch].append(v)
    return list(groups.values())


def check_rlcd_conditions(G: nx.DiGraph) -> list[str]:
    """Programmatic approximation of RLCD's graphical conditions (rlcd.md §1).

    Checked, in this order:

    1. **No triangle contains a latent** (Condition 1): for every hidden node,
       no two of its neighbours (in the skeleton) are adjacent.
    2. **Every latent has an observed descendant.**
    3. **Per-cover counts of Def. 5.** Candidate covers are the hidden nodes
       grouped by identical (non-empty) child sets, plus any observed node
       with exactly that child set (an observed member); a childless latent is
       its own cover. For a cover ``V`` of ``k`` nodes, ``t`` of them
       observed, with ``need = k + 1 - t``:

       - *pure children*: children ``c`` of ``V`` with ``pa(c) ⊆ V``; at least
         ``need`` are required;
       - *neighbours*: ``(pa(V) ∪ ch(V)) ∖ V``; at least ``2 * need`` are
         required (``need`` pure children plus ``need`` further neighbours).

    Not checked: that a latent pure child is itself an atomic cover beyond
    its own entry in check 3, the "no split into two atomic covers" clause of
    Def. 5, Condition 2 (colliders), and rank faithfulness. The oracle
    acceptance test of rlcd.md §6.2 is the check of those.

    Parameters
    ----------
    G : networkx.DiGraph
        A DAG; hidden nodes carry ``latent=True``.

    Returns
    -------
    list of str
        One readable message per violation; empty when all checks pass.

    Raises
    ------
    CyclicGraphError
        If ``G`` has a directed cycle.
    """
    _check_latent_graph(G, "G")
    U = G.to_undirected(as_view=True)
    latents = [v for v in sorted(G, key=_natural_key) if _is_latent(G, v)]
    out: list[str] = []
    seen = set()
    for v in latents:
        for a, b in combinations(sorted(U[v], key=_natural_key), 2):
            tri = frozenset((v, a, b))
            if U.has_edge(a, b) and tri not in seen:
                seen.add(tri)
                out.append(f"triangle {_fmt(tri)} contains latent {v} (Condition 1)")
    for v in latents:
        if not any(not _is_latent(G, w) for w in nx.descendants(G, v)):
            out.append(f"latent {v} has no observed descendant")
    for cover in _covers(G):
        members = set(cover)
        k, t = len(cover), sum(1 for v in cover if not _is_latent(G, v))
        need = k + 1 - t
        parents = set().union(*(G.predecessors(v) for v in cover)) - members
        children = set().union(*(G.successors(v) for v in cover)) - members
        pure = {c for c in children if set(G.predecessors(c)) <= members}
        neighbours = parents | children
        if len(pure) < need:
            out.append(
                f"cover {_fmt(cover)} (k={k}, t={t}): expected at least {need} pure children, "
                f"got {len(pure)} {_fmt(pure)} (Def. 5)"
            )
        if len(neighbours) < 2 * need:
            out.append(
                f"cover {_fmt(cover)} (k={k}, t={t}): expected at least {2 * need} neighbours "
                f"({need} pure children + {need} further), got {len(neighbours)} {_fmt(neighbours)} (Def. 5)"
            )
    return out
