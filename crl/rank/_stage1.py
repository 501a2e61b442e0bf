"""Phase 1 of RLCD and the partition into groups (private).

- :func:`pc_skeleton`: PC's adjacency search (order-independent "stable"
  variant) where each test ``x ⊥ y | S`` is the rank test
  ``rank(Σ[{x} ∪ S, {y} ∪ S]) <= |S|`` (RLCD Lemma 10, Alg. 2). The tests of
  one level are evaluated in one batch; separating sets are kept for the
  v-structures of the final graph.
- :func:`ges_skeleton`: the skeleton of causal-learn's GES (BIC score on the
  correlation matrix), the option of the released code.
- :func:`partition`: maximal cliques of size >= ``threshold``, merged when they
  share >= 2 nodes (Alg. 1, lines 2–3); groups with fewer than ``min_size``
  variables are dropped, as in the released code.
"""

from __future__ import annotations

import contextlib
import io
import logging
from itertools import combinations

import networkx as nx
import numpy as np

__all__ = ["pc_skeleton", "ges_skeleton", "complete_skeleton", "partition", "find_sepset"]

logger = logging.getLogger(__name__)

_CHUNK = 50_000  # CI tests per batched evaluation


def complete_skeleton(p: int) -> list[set]:
    """Every pair adjacent (``stage1="all"``)."""
    return [set(range(p)) - {i} for i in range(p)]


def _flush(rank_test, buffer: list, level: int, alpha: float, sepsets: dict) -> int:
    """Evaluate the buffered CI tests in one batch, record the first separating set per pair, empty the buffer."""
    if not buffer:
        return 0
    pv = rank_test.pvalues_batch([[x, *S] for _, x, _, S in buffer], [[y, *S] for _, _, y, S in buffer], level)
    for (pair, _, _, S), pval in zip(buffer, pv):
        if pval >= alpha and pair not in sepsets:
            sepsets[pair] = tuple(S)
    count = len(buffer)
    buffer.clear()
    return count


def pc_skeleton(rank_test, p: int, alpha: float, depth: int | None) -> tuple[list[set], dict, int]:
    """Stable PC adjacency search with rank-based CI tests.

    Parameters
    ----------
    rank_test : RankTest or OracleRankTest
        Its ``pvalues_batch`` gives ``p``-values of ``rank <= |S|``.
    p : int
        Number of variables.
    alpha : float
        Level of every CI test (``x ⊥ y | S`` accepted when ``p >= alpha``).
    depth : int or None
        Largest conditioning set (None: unlimited).

    Returns
    -------
    adj : list of set
        Neighbours of each variable.
    sepsets : dict (i, j) -> tuple
        For ``i < j`` non-adjacent: the conditioning set that separated them.
    n_tests : int
    """
    adj = complete_skeleton(p)
    sepsets: dict = {}
    n_tests = 0
    level = 0
    while True:
        frozen = [set(a) for a in adj]
        buffer: list = []  # (pair, x, y, S), evaluated in batches of _CHUNK tests
        any_test = False
        for x in range(p):
            for y in sorted(frozen[x]):
                others = sorted(frozen[x] - {y})
                if len(others) < level:
                    continue
                pair = (min(x, y), max(x, y))
                if pair in sepsets:  # separated earlier in this level: PC tests no further sets
                    continue
                for S in combinations(others, level):
                    buffer.append((pair, x, y, S))
                    any_test = True
                    if len(buffer) >= _CHUNK:
                        n_tests += _flush(rank_test, buffer, level, alpha, sepsets)
        n_tests += _flush(rank_test, buffer, level, alpha, sepsets)
        if not any_test:
            break
        for (i, j) in sepsets:
            adj[i].discard(j)
            adj[j].discard(i)
        level += 1
        if depth is not None and level > depth:
            break
        if all(len(a) - 1 < level for a in adj):
            break
    return adj, sepsets, n_tests


def ges_skeleton(S: np.ndarray, n: int, lambda_value: float) -> list[set]:
    """Skeleton of causal-learn's GES (BIC with penalty ``lambda_value``) on the correlation matrix."""
    from causallearn.search.ScoreBased.GES import ges

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        record = ges(None, score_func="local_score_BIC", cov=S, n=n, lambda_value=lambda_value)
    if buffer.getvalue():
        logger.debug("GES printed:\n%s", buffer.getvalue())
    G = np.asarray(record["G"].graph)
    A = (G != 0) | (G.T != 0)
    np.fill_diagonal(A, False)
    return [set(np.flatnonzero(A[i]).tolist()) for i in range(A.shape[0])]


def find_sepset(rank_test, a: int, b: int, candidates, alpha: float, depth: int | None):
    """First ``S`` (by size) of ``candidates`` with ``a ⊥ b | S`` not rejected, or None."""
    cands = sorted(set(candidates) - {a, b})
    top = len(cands) if depth is None else min(depth, len(cands))
    for level in range(top + 1):
        subsets = list(combinations(cands, level))
        if not subsets:
            continue
        pv = rank_test.pvalues_batch([[a, *S] for S in subsets], [[b, *S] for S in subsets], level)
        for S, pval in zip(subsets, pv):
            if pval >= alpha:
                return tuple(S)
    return None


class _DSU:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, i):
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i, j):
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def partition(adj: list[set], threshold: int = 3, min_size: int = 4) -> list[list[int]]:
    """Groups of variables to search separately: merged maximal cliques (Alg. 1, lines 2–3).

    Parameters
    ----------
    adj : list of set
        Skeleton.
    threshold : int
        Smallest clique kept (``partition_threshold``).
    min_size : int
        Smallest group kept.

    Returns
    -------
    list of sorted lists of int
        Sorted by their smallest member.
    """
    G = nx.Graph()
    G.add_nodes_from(range(len(adj)))
    G.add_edges_from((i, j) for i, a in enumerate(adj) for j in a if i < j)
    cliques = sorted((tuple(sorted(c)) for c in nx.find_cliques(G)), key=lambda c: c)
    cliques = [set(c) for c in cliques if len(c) >= threshold]
    dsu = _DSU(len(cliques))
    for i, j in combinations(range(len(cliques)), 2):
        if len(cliques[i] & cliques[j]) >= 2:
            dsu.union(i, j)
    groups: dict[int, set] = {}
    for i, c in enumerate(cliques):
        groups.setdefault(dsu.find(i), set()).update(c)
    out = [sorted(g) for g in groups.values() if len(g) >= min_size]
    return sorted(out)
