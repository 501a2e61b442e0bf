"""Phase 2 of RLCD inside one group of observed variables (private).

The cluster search (Alg. 3 of Dong et al., ICLR 2024); the structure queries
and candidate filters it inherits are in :mod:`crl.rank._structure`, the
refinement (Alg. 5) and the finishing step in :mod:`crl.rank._refine`. The
bookkeeping follows the authors' released code (``LatentGroups`` /
``findClusters`` of the reference implementation), which
recovers the six fixtures of rlcd.md §6.2 exactly with an oracle rank test;
it is re-implemented here on integer variable ids and frozensets with
deterministic iteration orders, memoised structural queries and a shared rank
test cache.

Vocabulary
----------
- A *cover* is a frozenset of variable ids; observed ids are ``< n_obs`` and
  hidden ids are allocated from ``n_obs`` upwards. A singleton of an observed
  id is that variable's own cover.
- ``ld`` maps each parent cover to ``{"children", "subcovers", "fake"}``
  (the reference's ``latentDict``); a cover is *atomic* unless its members
  split into atomic sub-covers.
- The *active set* holds the covers that take part in the next tests; the
  *non-sink* set the observed variables that may still be observed members
  of a new cover (``𝒳`` of the paper).
"""

from __future__ import annotations

import logging
from itertools import chain, combinations

from crl.rank._covers import _dedup, _key, _minimal_subsets, _set_difference, _setlen, _vars
from crl.rank._structure import CoverStructure, _mask

__all__ = ["ClusterSearch"]

logger = logging.getLogger(__name__)


class ClusterSearch(CoverStructure):
    """Cluster search (Phase 2) over one group of observed variables.

    Parameters
    ----------
    observed : sequence of int
        Column ids of the group (ids into the rank test's columns).
    adjacency : dict int -> set of int
        Phase-1 neighbours of each group member, inside the group.
    rank_test : RankTest or OracleRankTest
        Shared by every group (its cache too).
    n_obs : int
        Number of observed columns; hidden ids start here.
    allocate : callable () -> int
        Returns a fresh hidden id (shared across groups).
    max_k : int
        Largest cover size searched.
    """

    def __init__(self, observed, adjacency, rank_test, n_obs, allocate, max_k=3, unfold=True, allow_nonleaf=True):
        self.obs = sorted(int(x) for x in observed)
        self.obs_set = frozenset(self.obs)
        self.adj = {x: set(adjacency.get(x, ())) & self.obs_set for x in self.obs}
        self.complete_adj = all(len(self.adj[x]) == len(self.obs) - 1 for x in self.obs)
        self.rt = rank_test
        self.n_obs = n_obs
        self.allocate = allocate
        self.max_k = max_k
        self.unfold = unfold
        self.allow_nonleaf = allow_nonleaf
        self.leaf = {x: None for x in self.obs}
        self.Xns = set(self.obs)
        self.nonsink_active = set(self.obs)
        self.ld: dict = {}
        self.atomic: dict = {}
        self.origin: dict = {}  # (parent cover, child cover) -> "cluster" | "finish" | "chain"
        self.active = {frozenset({x}) for x in self.obs}
        self.cna: set = set()
        self.rank_def: dict = {}
        self.clusters: dict = {}
        self.refined: set = set()
        self._free_ids: list = []  # hidden ids handed out before fresh ones (see GroupSearch.refine)
        self._failed: dict = {}  # (k, active, non-sinks, cna, round state) of a round that found nothing -> terminate
        self._memo: dict = {}
        self._cover_masks: dict = {}  # cover -> bit mask of its variables (does not depend on the state)
        self._memos: dict = {}  # (covers, atomicity) -> the memo of the structure queries in that state

    def release_memos(self) -> None:
        """Drop the search's memo tables (the covers stay); queries after it recompute what they need."""
        self._memo, self._memos, self._failed, self._cover_masks = {}, {}, {}, {}

    # ------------------------------------------------------------------ rank tests

    def test_rank(self, As, Bs, k, nonsinks):
        """(not rejected, smallest non-rejected rank) of ``rank(meas(As) ∪ 𝒳, meas(Bs) ∪ 𝒳) <= k``."""
        return self._test_rank(As, Bs, k, _mask(nonsinks))

    def _test_rank(self, As, Bs, k, ns_mask: int, b_mask=None):
        # tests k, then descends: one look-up for the whole descent; b_mask, when known, is measured_mask(Bs)
        b_mask = self.measured_mask(Bs) if b_mask is None else b_mask
        rk = self.rt.rank_masks(self.measured_mask(As) | ns_mask, b_mask | ns_mask, k)
        return (False, None) if rk > k else (True, rk)

    def _passes(self, As, nonsinks) -> bool:
        """The candidate filters that read ``As`` and the non-sinks only (memoised per state of the covers)."""
        key = ("cand", As, nonsinks)
        out = self._memo.get(key)
        if out is None:
            xs = set(nonsinks)
            for c in As:
                if self.is_obs(c):
                    xs |= c
            # the filters are pure, so their order only changes the cost
            out = self._connected(xs) and not (
                self.contains_cluster(As, nonsinks) or self.overlap_pa_ch(As)
                or self.measured_has_nonsinks(As, nonsinks) or self.nonsinks_are_children(As, nonsinks)
            )
            self._memo[key] = out
        return out

    # ------------------------------------------------------------------ one round of tests

    def _search_nonsinks(self, k, nonsinks):
        t = len(nonsinks)
        ns_covers = {frozenset({x}) for x in nonsinks}
        cur_active = set(self.active) - ns_covers
        cur_cna = set(self.cna) - ns_covers
        if k - t > _setlen(cur_active) / 2 - 1:
            return False, True, []
        subsets = _minimal_subsets(cur_active, k - t)
        if k - t != 0:
            for v in sorted(cur_active, key=_key):
                if len(v) >= k - t + 1:
                    for x in _minimal_subsets(cur_active - {v}, 0):
                        x.add(v)
                        subsets.append(x)
        found, res = False, []
        ns_key, ns_mask = tuple(nonsinks), _mask(nonsinks)
        cm = self._cover_masks
        pool = cur_active | cur_cna
        self.vars_mask(pool)  # every cover a B-side can hold now has its mask in cm
        # without non-atomic covers the measured columns of a set are the OR of its covers' (measured_mask):
        # the B-side's are then gathered with it
        mm = self._measured_masks(pool) if self._all_atomic() else None
        for As in reversed(subsets):
            # frozen once: the memoised queries key on it, and a frozenset keeps its hash
            As = frozenset(As)
            if not self._passes(As, ns_key):
                continue
            eff = set(cur_cna)
            if eff:
                for cover in As | ns_covers:
                    eff -= self.descendants_loose(cover)
            # the active covers that share no variable with As (_set_difference, on masks)
            av, bv, Bl, bm = self.vars_mask(As), 0, [], 0
            for B in (cur_active | eff if eff else cur_active):
                m = cm[B]
                if not (m & av) and B not in As:
                    Bl.append(B)
                    bv |= m
                    if mm is not None:
                        bm |= mm[B]
            if bv.bit_count() <= k - t:
                continue
            Bs = frozenset(Bl)
            # both checks only skip the candidate, so the cheap, cached rank test goes first: it rejects
            # nearly every candidate, and the parent cardinality is then computed for the few it accepts
            ok, rk = self._test_rank(As, Bs, k, ns_mask, None if mm is None else bm)
            if not ok or self.parent_cardinality(Bs, bv) <= k - t:
                continue
            # no-collider check (Alg. 4): a proper sub-cluster already deficient means a collider
            collider = False
            for nc in range(1, k - t + 1):
                nsub = k - t + 1 - nc
                for sub in _minimal_subsets(As, nsub - 1):
                    if self._test_rank(sub, Bs, t + nsub - 1, ns_mask)[0]:
                        collider = True
                        break
                if collider:
                    break
            if collider:
                logger.debug("deficient set %s given %s has a collider; skipped", As, nonsinks)
                continue
            res.append((frozenset(As), rk, tuple(nonsinks)))
            found = True
        return found, False, res

    def _find_at_k(self, k):
        terminate, found_def, results = True, False, []
        ns_sorted = sorted(self.nonsink_active, reverse=True)
        for t in range(k, -1, -1):
            for ns in combinations(ns_sorted, t):
                f, term, res = self._search_nonsinks(k, list(ns))
                found_def = found_def or f
                terminate = terminate and term
                results.extend(res)
        for As, rk, ns in results:
            self.rank_def.setdefault(rk, []).append([As, set(ns)])
        if found_def:
            self._determine_clusters()
            if self._confirm_clusters():
                self.update_active()
                self.update_nonsink()
                return True, terminate
        return False, terminate

    def _determine_clusters(self):
        k = min(self.rank_def)
        clusters = self.rank_def.pop(k)
        for c in clusters:
            c.append([c[0]])
        n = len(clusters)
        while True:
            i, j = 0, 1
            while j < len(clusters):
                s1, n1 = clusters[i][0], clusters[i][1]
                s2, n2 = clusters[j][0], clusters[j][1]
                if len(_vars(s1) & _vars(s2)) >= min(len(s1), len(s2)) - 1 and n1 == n2:
                    clusters[i][0] = s1 | s2
                    clusters[i][2] = clusters[i][2] + clusters[j][2]
                    clusters.pop(j)
                if j >= len(clusters) - 1:
                    i += 1
                    j = i + 1
                else:
                    j += 1
            if n == len(clusters):
                break
            n = len(clusters)
        self.clusters[k] = clusters
        self.rank_def = {}

    def _confirm_clusters(self) -> bool:
        k = min(self.clusters)
        success = False
        for Vs, ns, _full in self.clusters.pop(k):
            ok = self._add_cluster(set(Vs), k, sorted(ns))
            if ok:
                for x in self.obs:
                    if x in ns and self.leaf[x] is None:
                        self.leaf[x] = False
                        self.Xns.discard(x)
                for V in Vs:
                    if len(V) == 1:
                        (v,) = V
                        if v in self.leaf and self.leaf[v] is None:
                            self.leaf[v] = True
                            self.Xns.discard(v)
            success = success or ok
        self.clusters = {}
        return success

    def _split_fake(self, Vs) -> set:
        """Measures of ``Vs`` not adjacent (Phase 1) to every other measure: the reference's fake children."""
        meas = [m for m in self.measures(Vs)]
        ids = [min(m) for m in meas]
        fake = set()
        for m, i in zip(meas, ids):
            if not all(j == i or j in self.adj[i] for j in ids):
                fake.add(m)
        return fake

    def _add_cluster(self, Vs, k, nonsinks) -> bool:
        fake = self._split_fake(Vs)
        vv = _vars(Vs)
        for u in nonsinks:
            if _vars(self.parents({frozenset({u})})) & vv:
                logger.debug("rejected cluster %s: non-sink %s is its child", Vs, u)
                return False
        parents = self.parents(Vs)
        gap = k - _setlen(parents)
        if gap < 0:
            logger.debug("rejected cluster %s of rank %d: parents of cardinality %d", Vs, k, _setlen(parents))
            return False
        pvars = _vars(parents)
        additional = [u for u in nonsinks if u not in pvars]
        if gap < len(additional):
            return False
        new = sorted(pvars)
        for j in range(gap):
            new.append(additional[j] if j < len(additional) else self._new_id())
        cover = frozenset(new)
        for sub in self.subcovers(cover):
            if sub in self.ld:
                Vs -= self.ld[sub]["children"]
        for v in new:
            if v in self.obs_set:
                Vs.discard(frozenset({v}))
        Vs = _dedup(Vs)
        return self.add_or_update(cover, Vs, fake=fake, origin="cluster")

    def _new_id(self) -> int:
        return self._free_ids.pop(0) if self._free_ids else self.allocate()

    def add_or_update(self, L, children, fake=frozenset(), origin="cluster") -> bool:
        subs = self.subcovers(L)
        children = set(children)
        for C in children:
            self.origin.setdefault((L, C), origin)
        self._touch()
        if L in self.ld:
            e = self.ld[L]
            if children == e["children"] and subs == e["subcovers"] and set(fake) == e["fake"]:
                return False
            e["children"] |= children
            e["subcovers"] |= subs
            e["fake"] |= set(fake)
            return True
        self.atomic[L] = not self.is_nonatomic(L)
        self.ld[L] = {"children": children, "subcovers": subs, "fake": set(fake)}
        return True

    def update_active(self, finish=False):
        act = {frozenset({x}) for x in self.obs}
        for P in self.ld:
            if finish or self._is_atomic(P):
                act.add(P)
        cna = set()
        for P, e in self.ld.items():
            act = _set_difference(act, e["children"])
            if not self._is_atomic(P):
                cna |= e["children"]
        self.active = _dedup(act)
        self.cna = cna

    def update_nonsink(self):
        self.nonsink_active = set(self.Xns)

    def _leaf_false(self, V) -> bool:
        if len(V) == 1 and min(V) in self.obs_set:
            return self.leaf[min(V)] is False
        return V in self.ld

    def _children_of_all_subsets(self, T) -> set:
        tv = _vars(T)
        out = set()
        for P, e in self.ld.items():
            if P <= tv:
                out |= e["children"]
        return out

    # ------------------------------------------------------------------ phases

    def _round_state(self) -> tuple:
        """What a round of :meth:`find_clusters` reads besides its active sets: covers, atomicity, leaf flags, 𝒳."""
        ld = frozenset(
            (P, frozenset(e["children"]), frozenset(e["subcovers"]), frozenset(e["fake"])) for P, e in self.ld.items()
        )
        return ld, frozenset(self.atomic.items()), tuple(self.leaf.items()), frozenset(self.Xns)

    def find_clusters(self, stop=None):
        """Phase 2 (Alg. 3): grow covers k = 1..max_k, unfolding active latent covers.

        ``stop``, when given, is asked after every round that changed the
        covers; the search ends early when it returns True.
        """
        k = 1
        while True:
            state = self._round_state()
            # the queries read only the covers and their atomicity: a state seen before (refinement reruns
            # rebuild what they deleted) gets its memo back instead of recomputing every filter
            self._memo = self._memos.setdefault(state[:2], self._memo)
            Ls = sorted((V for V in self.active if self._leaf_false(V)), key=_key)
            if self.unfold:
                subsets = list(chain.from_iterable(combinations(Ls, r) for r in range(len(Ls) + 1)))[::-1]
            else:
                subsets = [()]
            act_copy, ns_copy = set(self.active), set(self.nonsink_active)
            found = False
            for T in subsets:
                Vp, Tp = set(act_copy), set(ns_copy)
                for L in T:
                    ch = self.children(L)
                    ms = {frozenset({v}) for v in L if v in self.obs_set}
                    for c in ms:
                        Tp |= c
                    if len(ch) + len(ms) > 1:
                        Vp.discard(L)
                        Vp |= ch
                        Vp |= ms
                Vp |= self._children_of_all_subsets(T)
                for cover in self.active:
                    if len(cover) == 1 and min(cover) in self.obs_set and self.leaf[min(cover)] is not True:
                        Tp |= cover
                self.active = Vp
                self.nonsink_active = Tp if self.allow_nonleaf else set()
                # a round that found nothing changed nothing, so the same inputs find nothing again: several
                # unfoldings T give the same active set, and refinement reruns revisit earlier states
                key = (k, frozenset(Vp), frozenset(self.nonsink_active), frozenset(self.cna), state)
                if key in self._failed:
                    found, terminate = False, self._failed[key]
                else:
                    found, terminate = self._find_at_k(k)
                    if not found:
                        self._failed[key] = terminate
                if found:
                    self.update_active()
                    self.update_nonsink()
                    if stop is not None and stop():
                        return
                if terminate:
                    break
                if found:
                    k = 1
                    break
            if not found:
                k += 1
            if k > self.max_k:
                break
