"""Structure queries of the RLCD cluster search (private).

:class:`CoverStructure` answers the read-only questions the cluster search
(:class:`crl.rank._search.ClusterSearch`) asks about the covers found so far
(children, descendants, parents, measured descendants, atomicity) and holds
the filters that discard hopeless candidates before a rank test (rlcd.md §3,
Phase 2, step 3). It follows the reference implementation's ``LatentGroups``
queries. Results are memoised in ``_memo``, which reads only the covers and
their atomicity: a change of the covers starts a new memo
(:meth:`CoverStructure._touch`), and the cluster search hands a state it has
seen before its old memo back. Variable sets are also kept as bit masks
(bit ``i`` is variable ``i``), the rank tests' keys.

The subclass sets the state it reads: ``obs``, ``obs_set`` and ``adj`` (the
group's observed ids, as a frozenset, and their Phase-1 neighbours),
``n_obs``, ``ld`` (parent cover -> ``{"children", "subcovers", "fake"}``),
``atomic``, ``_memo`` and ``_cover_masks`` (a dict, never cleared).
"""

from __future__ import annotations

from collections import deque

from crl.rank._covers import _dedup, _key, _vars

__all__ = ["CoverStructure"]


def _mask(ids) -> int:
    m = 0
    for i in ids:
        m |= 1 << i
    return m


class CoverStructure:
    """Queries on the covers of one group (base of :class:`~crl.rank._search.ClusterSearch`)."""

    # ------------------------------------------------------------------ structure queries

    def _touch(self):
        # a new dict, not clear(): the cluster search keeps the memo of each state it has seen
        self._memo = {}

    def is_obs(self, cover) -> bool:
        return not cover or max(cover) < self.n_obs

    def children(self, L) -> frozenset:
        """Children of ``L`` and of its sub-covers (the reference's rigorous ``findChildren``)."""
        key = ("ch", L)
        out = self._memo.get(key)
        if out is None:
            acc = set()
            if L in self.ld:
                acc |= self.ld[L]["children"]
                for sub in self.ld[L]["subcovers"]:
                    acc |= self.children(sub)
            out = frozenset(acc)
            self._memo[key] = out
        return out

    def _children_loose(self, L) -> set:
        acc = set()
        for P, e in self.ld.items():
            if P & L:
                acc |= e["children"]
        return acc

    def descendants_loose(self, L) -> frozenset:
        key = ("desc", L)
        out = self._memo.get(key)
        if out is None:
            acc, seen, stack = set(), {L}, [L]
            while stack:
                V = stack.pop()
                for C in self._children_loose(V):
                    acc.add(C)
                    if C not in seen:
                        seen.add(C)
                        stack.append(C)
            out = frozenset(acc)
            self._memo[key] = out
        return out

    def parents(self, Vs) -> set:
        key = ("pa", frozenset(Vs))
        out = self._memo.get(key)
        if out is None:
            Vs = key[1]
            out = frozenset(_dedup({P for P, e in self.ld.items() if Vs & e["children"]}))
            self._memo[key] = out
        return set(out)

    def _cover_info(self) -> tuple:
        """``(L, children(L), |L|, mask of L, mask of the children's variables, atomic)`` per cover of ``ld``, in order.

        The filters below scan every cover for every candidate; reading these
        once per state avoids a memo look-up per cover and per candidate.
        """
        out = self._memo.get("info")
        if out is None:
            out = tuple((L, self.children(L), len(L), _mask(L), _mask(self._children_vars(L)), self._is_atomic(L))
                        for L in self.ld)
            self._memo["info"] = out
        return out

    def _children_vars(self, L) -> frozenset:
        key = ("chv", L)
        out = self._memo.get(key)
        if out is None:
            out = _vars(self.children(L))
            self._memo[key] = out
        return out

    def subcovers(self, L) -> set:
        cands = set(self.ld) | {frozenset({x}) for x in self.obs}
        return {c for c in cands if c < L}

    def _is_atomic(self, c) -> bool:
        return self.atomic.get(c, True)

    def is_nonatomic(self, L) -> bool:
        return _vars(c for c in self.subcovers(L) if self._is_atomic(c)) == L

    def _all_atomic(self) -> bool:
        out = self._memo.get("all_atomic")
        if out is None:
            out = all(atomic for *_, atomic in self._cover_info())
            self._memo["all_atomic"] = out
        return out

    def measures(self, Ls) -> frozenset:
        """Observed covers measuring ``Ls``: observed members and measured descendants (``pickAllMeasures``)."""
        key = ("meas", frozenset(Ls))
        out = self._memo.get(key)
        if out is None:
            if len(key[1]) > 1 and self._all_atomic():
                # without non-atomic covers _pick is a plain search from each cover: a union of memoised parts
                out = frozenset().union(*(self.measures((L,)) for L in key[1]))
            else:
                _, _, meas = self._pick(Ls, set(), set(), set())
                out = frozenset(meas)
            self._memo[key] = out
        return out

    def measured_vars(self, Ls) -> frozenset:
        """The variables of :meth:`measures` (the columns the rank tests use)."""
        key = ("mvars", frozenset(Ls))
        out = self._memo.get(key)
        if out is None:
            if len(key[1]) > 1 and self._all_atomic():
                # the same union as in measures, taken over each cover's variables (memoised per cover)
                out = frozenset().union(*(self.measured_vars((L,)) for L in key[1]))
            else:
                out = _vars(self.measures(key[1]))
            self._memo[key] = out
        return out

    def _measured_masks(self, covers) -> dict:
        """The memo ``{cover: measured_mask((cover,))}``, filled for ``covers``."""
        per = self._memo.get("cmask")
        if per is None:
            per = self._memo["cmask"] = {}
        for L in covers:
            if L not in per:
                per[L] = _mask(self.measured_vars((L,)))
        return per

    def measured_mask(self, Ls) -> int:
        """:meth:`measured_vars` as a bit mask (bit ``i`` is column ``i``): the rank tests' key."""
        if self._all_atomic():
            # as in measured_vars: a union of per-cover parts, here an OR of memoised ints
            per = self._measured_masks(Ls)
            m = 0
            for L in Ls:
                m |= per[L]
            return m
        key = ("mmask", frozenset(Ls))
        out = self._memo.get(key)
        if out is None:
            out = self._memo[key] = self._closure_mask(key[1])
        return out

    def _closure_mask(self, Ls) -> int:
        """:meth:`measured_mask` of a set of covers from the memoised closures of its covers.

        :meth:`_pick` computes the least set closed under two rules: children
        of a visited cover are visited, and a non-atomic cover inside the
        visited variables is expanded into its children. The union of the
        closures of single covers is closed under the first rule; when it
        also leaves no non-atomic cover to expand it is the closure of ``Ls``
        (it contains it and is closed), otherwise the full search runs.
        """
        visited, expanded, meas = 0, set(), 0
        for L in Ls:
            v, e, m = self._closure(L)
            visited |= v
            expanded |= e
            meas |= m
        if any(P not in expanded and not (pmask & ~visited) for P, pmask in self._nonatomic()):
            return _mask(_vars(self.measures(Ls)))
        return meas

    def _closure(self, L) -> tuple:
        """``(visited variables, expanded covers, measured variables)`` of :meth:`_pick` from ``L`` (memoised)."""
        key = ("clos", L)
        out = self._memo.get(key)
        if out is None:
            vA, vNA, meas = self._pick((L,), set(), set(), set())
            out = self._memo[key] = (_mask(_vars(vA)), frozenset(vNA), _mask(_vars(meas)))
        return out

    def _nonatomic(self) -> tuple:
        out = self._memo.get("nonatomic")
        if out is None:
            out = self._memo["nonatomic"] = tuple((P, _mask(P)) for P in self.ld if not self._is_atomic(P))
        return out

    def _pick(self, Ls, vA, vNA, meas):
        vA, vNA, meas = set(vA), set(vNA), set(meas)
        Q = deque()
        for L in sorted(Ls, key=_key):
            if self.is_obs(L):
                meas.add(L)
            else:
                meas |= {frozenset({v}) for v in L if v in self.obs_set}
                Q.append(L)
        seen = set()
        while Q:
            L = Q.popleft()
            vA.add(L)
            if L in seen:
                continue
            seen.add(L)
            for C in self.children(L):
                if self.is_obs(C):
                    meas.add(C)
                else:
                    meas |= {frozenset({v}) for v in C if v in self.obs_set}
                    Q.append(C)
        for cover in list(self.ld):
            if self._is_atomic(cover) or cover in vNA:
                continue
            if cover <= _vars(vA):
                vNA.add(cover)
                Cs = set()
                for C in self.ld[cover]["children"]:
                    if self.is_obs(C):
                        meas.add(C)
                    else:
                        Cs.add(C)
                vA, vNA, meas = self._pick(Cs, vA, vNA, meas)
        return vA, vNA, meas


    # ------------------------------------------------------------------ candidate filters

    def _connected(self, xs) -> bool:
        xs = set(xs)
        if not xs:
            return False
        if self.complete_adj:  # the default complete Phase-1 graph: every non-empty set is connected
            return True
        start = next(iter(xs))
        seen, stack = {start}, [start]
        while stack:
            v = stack.pop()
            for w in self.adj[v] & xs:
                if w not in seen:
                    seen.add(w)
                    stack.append(w)
        return len(seen) == len(xs)

    def vars_mask(self, covers) -> int:
        """Bit mask of the variables of ``covers`` (per-cover masks kept for the whole search)."""
        per = self._cover_masks
        m = 0
        for c in covers:
            v = per.get(c)
            if v is None:
                v = per[c] = _mask(c)
            m |= v
        return m

    def contains_cluster(self, As, nonsinks) -> bool:
        av, ns = self.vars_mask(As), _mask(nonsinks)
        return any((av & chm).bit_count() + (ns & Lm).bit_count() > n for _L, _ch, n, Lm, chm, _at in self._cover_info())

    def overlap_pa_ch(self, As) -> bool:
        for V in As:
            pav = _vars(self.parents({V}))
            if _vars(set(As) - {V}) & pav:
                return True
        return False

    def measured_has_nonsinks(self, As, nonsinks) -> bool:
        ns = set(nonsinks)
        return any(m & ns for m in self.measures(As))

    def nonsinks_are_children(self, As, nonsinks) -> bool:
        av, ns = self.vars_mask(As), _mask(nonsinks)
        return any((av & Lm) and (chm & ns) for _L, _ch, _n, Lm, chm, _at in self._cover_info())

    def parent_cardinality(self, Vs, vars_mask=None) -> int:
        """Size of ``Vs`` after replacing clusters inside it by their atomic parents, recursively.

        ``vars_mask``, when the caller has it, is :meth:`vars_mask` of ``Vs``.
        """
        key = ("pc", frozenset(Vs))
        out = self._memo.get(key)
        if out is None:
            out = self._parent_cardinality(set(Vs), self.vars_mask(Vs) if vars_mask is None else vars_mask)
            self._memo[key] = out
        return out

    def _parent_cardinality(self, Vs, vv) -> int:
        # one pass over the atomic covers per round, until a round no longer shrinks the set
        info = self._cover_info()
        while True:
            k1 = vv.bit_count()
            for L, ch, n, Lm, chm, atomic in info:
                if atomic and (vv & chm).bit_count() + (vv & Lm).bit_count() > n:
                    Vs -= ch
                    Vs.discard(L)
                    for v in _vars(Vs) & L:
                        if v in self.obs_set:
                            Vs.discard(frozenset({v}))
                    Vs.add(L)
                    vv = self.vars_mask(Vs)
            if vv.bit_count() >= k1:
                return k1
