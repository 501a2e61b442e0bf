"""Phase 3 of RLCD (refinement) and the end of the search in one group (private).

:class:`GroupSearch` extends the cluster search of :mod:`crl.rank._search`
with the refinement of Alg. 5 (delete a hidden cover and its hidden
neighbours, search again, keep the rerun only when it splits clusters), the
finishing step (leftover observed covers attached to dependent hidden covers;
leftover hidden covers linked by undirected edges, never by the arbitrary
arrows of the released code) and the edge list of the result.
"""

from __future__ import annotations

import copy
import logging

from crl.rank._covers import _key, _splits, _vars
from crl.rank._search import ClusterSearch

__all__ = ["GroupSearch"]

logger = logging.getLogger(__name__)


class GroupSearch(ClusterSearch):
    """Phases 2–3 and the finishing step over one group (see :class:`~crl.rank._search.ClusterSearch`)."""

    def latent_covers(self) -> list:
        """Atomic covers with at least one hidden member, in discovery order."""
        return [P for P in self.ld if self._is_atomic(P) and not self.is_obs(P)]

    def _neighbour_covers(self, V) -> set:
        """Hidden-member covers adjacent to ``V``: its parents and its cover children."""
        out = set()
        for P, e in self.ld.items():
            if P == V:
                out |= {C for C in e["children"] if not self.is_obs(C)}
            elif V in e["children"] or (not self._is_atomic(P) and V < P):
                if not self.is_obs(P):
                    out |= {S for S in e["subcovers"] if not self.is_obs(S)} if not self._is_atomic(P) else {P}
        return {c for c in out if c != V}

    def _remove_covers(self, covers):
        """Delete covers (and covers containing their members); their children become active again."""
        gone = _vars(covers)
        for P in list(self.ld):
            if P in covers or (P & gone and not self.is_obs(P)):
                del self.ld[P]
                self.atomic.pop(P, None)
        for e in self.ld.values():
            e["children"] = {C for C in e["children"] if not (C & gone)}
            e["subcovers"] = {S for S in e["subcovers"] if not (S & gone)}
        for P in [P for P, e in self.ld.items() if not e["children"]]:
            del self.ld[P]
            self.atomic.pop(P, None)
        self.origin = {pc: o for pc, o in self.origin.items() if pc[0] in self.ld and pc[1] in self.ld[pc[0]]["children"]}
        self._touch()
        self.update_active()
        self.update_nonsink()

    _STATE = ("ld", "atomic", "origin", "leaf", "Xns", "nonsink_active", "active", "cna")

    def _snapshot(self) -> dict:
        snap = {name: copy.deepcopy(getattr(self, name)) for name in self._STATE}
        return snap

    def _restore(self, snap: dict) -> None:
        for name, value in snap.items():
            setattr(self, name, copy.deepcopy(value))
        self._touch()

    def signature(self) -> frozenset:
        """The observed variables each hidden cover explains (its observed members and observed children)."""
        out = set()
        for P in self.latent_covers():
            kids = {v for C in self.ld[P]["children"] if self.is_obs(C) for v in C}
            out.add(frozenset(kids | {v for v in P if v in self.obs_set}))
        return frozenset(out)

    def refine(self):
        """Phase 3 (Alg. 5): for each atomic hidden cover, delete it and its hidden neighbours, search again.

        A rerun is kept only when it *splits* clusters: every set of observed
        variables explained by a hidden cover after the rerun
        (:meth:`signature`) lies inside one explained before, and some
        cluster from before is divided among two or more new ones — the
        oversized clusters that finite-sample errors cause, which is what the
        phase is for. Any other change is discarded: a rerun from a partial
        state has less context than the first pass and, even with exact rank
        tests, can re-derive links between hidden covers differently
        (rerunning the diamond of ``mm_a`` gives a non-equivalent graph).
        Returns the number of reruns kept.

        Most reruns rebuild the covers they deleted and then search every k
        in vain, as the pass before them did. :meth:`find_clusters` memoises
        rounds that found nothing, keyed on the exact state, so such a rerun
        repeats none of them; the state is reachable again because a rerun
        hands the deleted covers' hidden ids out again, lowest first, before
        fresh ones. Hidden ids order the search's tie-breaks, so on rare draws
        a kept rerun differs from one with fresh ids (benchmarks/RESULTS.md).
        A rerun also stops as soon as a hidden cover explains a set that lies in
        no cluster from before: the sets of :meth:`signature` only grow while
        the search runs (covers gain children and are never removed), so such
        a rerun cannot split and would be discarded anyway.
        """
        kept = 0
        done = set()
        queue = list(self.latent_covers())
        while queue:
            V = queue.pop(0)
            if V not in self.ld or V in done:
                continue
            done.add(V)
            before, snap = self.signature(), self._snapshot()
            drop = {V} | self._neighbour_covers(V)
            self._free_ids = sorted(v for v in _vars(drop) if v >= self.n_obs)
            self._remove_covers(drop)
            survivors = set(self.ld)

            def strays(before=before):
                # explained sets only grow during a search, so one outside every old cluster rules out a split
                return not all(any(N <= old for old in before) for N in self.signature())

            try:
                self.find_clusters(stop=strays)
            finally:
                self._free_ids = []
            after = self.signature()
            if not _splits(before, after):
                self._restore(snap)
                continue
            kept += 1
            logger.debug("refinement of %s kept: clusters %s -> %s", sorted(V), sorted(map(sorted, before)),
                         sorted(map(sorted, after)))
            # covers rediscovered by this rerun count as refined (as in Hier. rank)
            done |= set(self.latent_covers()) - survivors
        self.refined = done
        return kept

    def finish(self):
        """Attach leftover observed covers to dependent hidden covers; link leftover hidden covers by ``---``."""
        self.update_active(finish=True)
        if len(self.active) == 1:
            return
        self.update_active(finish=False)
        remain = sorted(self.active, key=_key)
        lat = [c for c in remain if not self.is_obs(c) and self._is_atomic(c)]
        obsc = [c for c in remain if self.is_obs(c)]
        if obsc:
            for oc in obsc:
                to_add = {lc for lc in lat if not self.test_rank({oc}, {lc}, 0, [])[0]}
                if to_add:
                    self.add_or_update(oc, to_add, origin="finish")
                    self.update_active()
            return
        self.update_active(finish=True)
        lat = [c for c in sorted(self.active, key=_key) if not self.is_obs(c)]
        if len(lat) >= 2:
            if len(lat) > 2:
                logger.info(
                    "%d hidden covers remain unconnected at the end of the search; they are linked in an "
                    "arbitrary chain of undirected edges (the reference code chains them L_i -> L_i+1)", len(lat)
                )
            for a, b in zip(lat[:-1], lat[1:]):
                self.add_or_update(a, {b}, origin="chain")
                self.update_active()

    def edges(self) -> list:
        """``(u, v, origin)`` for every member ``u`` of a parent cover and every member ``v`` of its child covers."""
        out = {}
        for P, e in self.ld.items():
            for C in e["children"]:
                o = self.origin.get((P, C), "cluster")
                for u in sorted(P):
                    for v in sorted(C):
                        if u != v and (u, v) not in out:
                            out[(u, v)] = o
        return [(u, v, o) for (u, v), o in out.items()]
