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

    The reference's ``generateSubsetMinimal``: covers are taken largest first;
    each yielded set exceeds ``k`` only because of its last, smallest cover.
    """
    d: dict[int, list] = {}
    for v in sorted(covers, key=_key):
        d.setdefault(len(v), []).append(v)

    def rec(d, gap, cur):
        if not d:
            return
        d = {dim: list(vs) for dim, vs in d.items()}
        cur = set(cur)
        top = max(d)
        v = d[top].pop()
        if not d[top]:
            del d[top]
        if d:
            yield from rec(d, gap, cur)
        if not any(v & g for g in cur):
            cur.add(v)
            gap -= top
        if gap >= 0 and d:
            yield from rec(d, gap, cur)
        if gap < 0:
            yield cur

    yield from rec(d, k, set())


def _splits(before: frozenset, after: frozenset) -> bool:
    """True when ``after`` refines ``before`` and divides some cluster of ``before`` in two or more."""
    if after == before:
        return False
    if not all(any(N <= old for old in before) for N in after):
        return False
    return any(sum(1 for N in after if N <= old and N != old) >= 2 for old in before)
