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

    4. **Colliders** (Condition 2): for two disjoint, non-adjacent atomic
       covers ``V1`` and ``V2`` (the candidate covers of check 3 and every
       observed node on its own) with common children ``C`` (every node
       outside ``V1 ∪ V2`` with a parent in each), a violation is a set ``A``
       that d-separates ``V1`` from ``V2`` with ``|C| + |A| < |V1| + |V2|``
       when a latent is among ``V1 ∪ V2 ∪ C ∪ A``. ``A`` ranges over
       subsets of the ancestors of ``V1 ∪ V2`` (a smallest separator lies
       there), so a violation means the *smallest* separator is too small.
       Why: ``(A, C)`` then t-separates the measures of ``V1 ∪ V2`` from the
       rest, a rank deficiency below ``|V1| + |V2|`` that the search reads
       as one spurious cover.

    Not checked: that a latent pure child is itself an atomic cover beyond
    its own entry in check 3, the "no split into two atomic covers" clause of
    Def. 5, and rank faithfulness. The oracle acceptance test of rlcd.md
    §6.2 is the check of those.

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
    out.extend(_collider_violations(G))
    return out


def _smallest_separator(G: nx.DiGraph, V1: set, V2: set, below: int):
    """A set of fewer than ``below`` nodes that d-separates ``V1`` from ``V2``, smallest first, or None.

    Candidates are the ancestors of ``V1 ∪ V2`` (a d-separator, when one
    exists, can be found among them); graphs of the RLCD families are small,
    so the subsets are enumerated by size.
    """
    both = V1 | V2
    cands = sorted(set().union(*(nx.ancestors(G, v) for v in both)) - both, key=_natural_key)
    for size in range(min(below, len(cands) + 1)):
        for A in combinations(cands, size):
            if nx.is_d_separator(G, V1, V2, set(A)):
                return set(A)
    return None


def _collider_violations(G: nx.DiGraph) -> list[str]:
    """Condition 2 (colliders between atomic covers), see :func:`check_rlcd_conditions`."""
    covers = [frozenset(c) for c in _covers(G)]
    covers += [frozenset({v}) for v in sorted(G, key=_natural_key) if not _is_latent(G, v)]
    covers = list(dict.fromkeys(covers))
    U = G.to_undirected(as_view=True)
    out = []
    for V1, V2 in combinations(covers, 2):
        if V1 & V2 or any(U.has_edge(a, b) for a in V1 for b in V2):
            continue
        both = V1 | V2
        ch1 = set().union(*(G.successors(v) for v in V1))
        ch2 = set().union(*(G.successors(v) for v in V2))
        C = (ch1 & ch2) - both
        if not C:
            continue
        below = len(both) - len(C)  # |A| must reach this
        if below <= 0:
            continue
        A = _smallest_separator(G, set(V1), set(V2), below)
        if A is None:
            continue
        if not any(_is_latent(G, v) for v in both | C | A):
            continue
        out.append(
            f"collider(s) {_fmt(C)} between covers {_fmt(V1)} and {_fmt(V2)} with separator {_fmt(A)}: "
            f"|C| + |A| = {len(C) + len(A)} < |V1| + |V2| = {len(both)} (Condition 2)"
        )
    return out
