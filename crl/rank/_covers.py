"""Sets of covers: the small set algebra of the RLCD cluster search (private).

A *cover* is a frozenset of variable ids (observed ids ``< n_obs``, hidden
ids above). These helpers mirror the reference implementation's
``Cover``/``misc`` functions on frozensets.
"""

from __future__ import annotations

__all__ = ["_key", "_vars", "_setlen", "_set_difference", "_dedup", "_minimal_subsets", "_splits"]


def _key(cover) -> tuple:
    return tuple(sorted(cover))


def _vars(covers) -> frozenset:
    return frozenset().union(*covers)


def _setlen(covers) -> int:
    return len(_vars(covers))


def _set_difference(As, Bs) -> set:
    """Covers of ``As`` that are not in ``Bs`` and share no variable with any cover of ``Bs``."""
    bv = _vars(Bs)
    return {A for A in As if A not in Bs and not (A & bv)}


def _dedup(Vs) -> set:
    """Drop covers that are strict subsets of another cover of ``Vs``."""
    Vs = set(Vs)
    return {V for V in Vs if not any(V < W for W in Vs)}


def _minimal_subsets(covers, k: int):
    """Sets of pairwise disjoint covers with total size > ``k``, minimal in the last (smallest) cover.

    The reference's ``generateSubsetMinimal``: covers are taken largest first
    (ties by descending sorted members); each set exceeds ``k`` only
    because of its last, smallest cover. The same sets in the same order as
    the reference, duplicates included (they decide which candidate the
    search tests first), as a list of fresh ``set`` objects.
    """
    order = sorted(covers, key=lambda c: (len(c), _key(c)), reverse=True)
    n = len(order)
    out = []

    def rec(i, gap, cur, cur_vars):
        # the reference copies its remaining-cover table per call; an index into ``order`` is the same walk.
        # A list, not nested generators: each item would pass through every level of the recursion.
        v = order[i]
        rest = i + 1 < n
        if rest:
            rec(i + 1, gap, cur, cur_vars)
        if not (v & cur_vars):
            cur, cur_vars, gap = cur + (v,), cur_vars | v, gap - len(v)
        if gap >= 0 and rest:
            rec(i + 1, gap, cur, cur_vars)
        if gap < 0:
            out.append(set(cur))

    if n:
        rec(0, k, (), frozenset())
    return out


def _splits(before: frozenset, after: frozenset) -> bool:
    """True when ``after`` refines ``before`` and divides some cluster of ``before`` in two or more."""
    if after == before:
        return False
    if not all(any(N <= old for old in before) for N in after):
        return False
    return any(sum(1 for N in after if N <= old and N != old) >= 2 for old in before)
