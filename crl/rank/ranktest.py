"""Rank tests on cross-covariance blocks (rlcd.md §2).

By trek separation (Sullivant et al., 2010) the rank of the cross-covariance
``Σ[A, B]`` is the size of the smallest pair of sets that t-separates ``A``
from ``B``; with ``A ∪ C`` and ``B ∪ C`` it equals ``|C|`` iff ``C``
d-separates ``A`` and ``B`` (RLCD, Lemma 10). ``A`` and ``B`` may overlap.

Two tests share one interface (``test``, ``pvalue``, ``rank``, ``counts``):

- :class:`RankTest` tests ``H0: rank(Σ[A, B]) <= r`` on data from the
  canonical correlations ``ρ_1 >= ... >= ρ_m`` of the column sets, with
  Bartlett's statistic (the paper, App. A.18) or the Bartlett–Lawley variant
  of the authors' code, against ``χ²((|A| - r)(|B| - r))``. The standardised
  covariance (correlation matrix) is computed once from ``X``; canonical
  correlations are cached by the pair of column sets (order inside a set and
  the order of the two sets do not matter), and
  :meth:`RankTest.pvalues_batch` evaluates many equal-sized pairs in one
  batched linear-algebra call.
- :class:`OracleRankTest` decides from a population covariance: the numerical
  rank of the block on the correlation scale (relative tolerance ``1e-8``).

Overlapping sets are handled exactly: the ``c`` shared columns contribute
``c`` canonical correlations equal to one, and the others are the canonical
correlations of the remaining columns after partialling out the shared ones.
The statistics then need no change: ``(|A| - r)(|B| - r)`` degrees of freedom
and Bartlett's ``N - (|A| + |B| + 3) / 2`` coincide with the partial test's
``(|A'| - r')(|B'| - r')`` and ``N - c - (|A'| + |B'| + 3) / 2`` for
``A' = A \\ C``, ``r' = r - c``. Inside the logarithms each ``ρ`` is clamped
to at most ``1 - 1e-15``, so testing ``r < c`` rejects with a huge statistic.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping

import numpy as np
from scipy.linalg.lapack import dgesdd as _gesdd
from scipy.linalg.lapack import dpotrf as _potrf
from scipy.linalg.lapack import dtrtrs as _trtrs
from scipy.stats import chi2

from crl.exceptions import ValidationError
from crl.validation import check_array, check_choice, check_float, check_int, check_square

__all__ = [
    "STATISTICS",
    "canonical_correlations",
    "rank_statistic",
    "RankTest",
    "OracleRankTest",
    "numerical_rank",
]

#: Names of the test statistics.
STATISTICS = ("bartlett", "bartlett_lawley")

_RHO_MAX = 1.0 - 1e-15


def _as_index(idx, name: str, d: int) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(i) for i in idx}))
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: expected a collection of column indices, got {idx!r}") from None
    if out and (out[0] < 0 or out[-1] >= d):
        raise ValidationError(f"{name}: expected indices in [0, {d - 1}], got {list(out)}")
    return out


def canonical_correlations(S, A, B) -> np.ndarray:
    """Canonical correlations of the column sets ``A`` and ``B`` under covariance ``S``.

    Parameters
    ----------
    S : ndarray of shape (p, p)
        A covariance or correlation matrix (positive definite on ``A ∪ B``).
    A, B : collection of int
        Column indices; they may overlap.

    Returns
    -------
    ndarray of shape (min(|A|, |B|),)
        Descending, in [0, 1]. Each shared column gives an exact 1; the rest
        are the canonical correlations of ``A \\ B`` and ``B \\ A`` given the
        shared columns.
    """
    S = check_square(S, "S")
    A = _as_index(A, "A", S.shape[0])
    B = _as_index(B, "B", S.shape[0])
    return np.array(_canonical(S, A, B))


def _canonical(S: np.ndarray, A: tuple, B: tuple, masks: tuple | None = None) -> list:
    """Canonical correlations of sorted index tuples ``A``, ``B``: ``c`` ones, then the partial ones.

    One Cholesky factor ``L`` of ``S`` over the columns ordered (shared ``C``,
    larger rest ``b``, smaller rest ``s``) holds everything: its trailing
    blocks are the Cholesky factor of the partial covariance of ``(b, s)``
    given ``C``, and with ``Y = L_ss⁻¹ L_sb`` the partial canonical
    correlations are ``τ / sqrt(1 + τ²)`` for the singular values ``τ`` of
    ``Y`` (``Σ_ss|C = L_ss (I + Y Yᵀ) L_ssᵀ`` and
    ``Σ_sb|C Σ_bb|C⁻¹ Σ_bs|C = L_ss Y Yᵀ L_ssᵀ``). That is one factorisation,
    one small triangular solve and one small SVD; the raw LAPACK routines
    skip numpy's per-call overhead, which dominates on blocks this small.
    The result is a list of floats for the same reason (at most ``max_k + 1``
    entries; ``math`` gives the same IEEE results as numpy). The split into
    shared and own columns is three memoised look-ups on bit masks; ``masks``
    passes ``A`` and ``B`` as masks when the caller already has them.
    """
    am, bm = masks if masks is not None else (sum(1 << i for i in A), sum(1 << j for j in B))
    shared, a, b = _bits(am & bm), _bits(am & ~bm), _bits(bm & ~am)
    small, big = (a, b) if len(a) < len(b) else (b, a)
    c, nb = len(shared), len(big)
    if not small:
        return [1.0] * c
    idx = np.array((*shared, *big, *small), dtype=np.intp)
    L, info = _potrf(S.take(idx, 0).take(idx, 1), lower=1, clean=0)
    if info != 0:
        raise ValidationError(
            "covariance: expected positive definite blocks (no constant or duplicated columns), got a "
            f"singular block for columns {list(A)} and {list(B)}"
        )
    k = c + nb
    Y, _ = _trtrs(L[k:, k:], L[k:, c:k], lower=1)  # potrf succeeded: L_ss has a positive diagonal
    _, tau, _, info = _gesdd(Y, compute_uv=0)
    if info != 0:  # divide and conquer did not converge: numpy's SVD
        tau = np.linalg.svd(Y, compute_uv=False)
    rho = [min(t / math.sqrt(1.0 + t * t), 1.0) for t in tau.tolist()]
    return [1.0] * c + rho if c else rho


def _check_stat(statistic: str) -> str:
    return check_choice(statistic, "statistic", STATISTICS)


def rank_statistic(rho, n: int, p: int, q: int, r: int, *, statistic: str = "bartlett", n_scaling: float = 1.0):
    """Test statistic and degrees of freedom of ``H0: rank <= r``.

    Parameters
    ----------
    rho : array_like
        Canonical correlations, descending.
    n : int
        Number of samples ``N``.
    p, q : int
        Sizes of the two column sets (shared columns counted in both).
    r : int
        Rank under the null.
    statistic : {"bartlett", "bartlett_lawley"}
        ``"bartlett"`` (the paper, App. A.18):
        ``T = -(N - (p + q + 3) / 2) Σ_{i>r} ln(1 - ρ_i²)``.
        ``"bartlett_lawley"`` (the authors' released code):
        ``T = (N s - r - (p + q + 1) / 2 + Σ_{i<=r} (ρ_i⁻² - 1)) Σ_{i>r} -ln(1 - ρ_i²)``
        with ``s = n_scaling``. The textbook Lawley term is ``Σ ρ_i⁻²``; the code
        subtracts 1 per term (so shared columns, ρ = 1, add nothing). The two
        forms differ by ``r``, negligible for ``N`` in the thousands; this is
        the code's form, for parity runs.
    n_scaling : float
        ``s`` of the Bartlett–Lawley form (the code's ``N_scaling``).

    Returns
    -------
    T : float
        ``0`` when ``df == 0``.
    df : int
        ``(p - r)(q - r)``, or 0 when ``r >= min(p, q)``.
    """
    if r >= min(p, q):
        return 0.0, 0
    df = (p - r) * (q - r)
    rho = [min(float(x), _RHO_MAX) for x in rho]  # tiny arrays: plain floats are faster than numpy
    tail = -sum(math.log1p(-x * x) for x in rho[r:])
    if statistic == "bartlett":
        factor = n - (p + q + 3) / 2.0
    else:
        factor = n * n_scaling - r - (p + q + 1) / 2.0 + sum(1.0 / max(x, 1e-300) ** 2 - 1.0 for x in rho[:r])
    return max(factor, 0.0) * tail, df


def numerical_rank(S, A, B, tol: float = 1e-8) -> int:
    """Numerical rank of ``S[A, B]`` on the correlation scale (the oracle rank).

    The block is rescaled to ``S[a, b] / sqrt(S[a, a] S[b, b])`` (a diagonal
    scaling, which leaves the rank unchanged); singular values at most
    ``tol * max(1, s_max)`` count as zero. Zero-variance variables are not rescaled.
    """
    S = check_square(S, "S")
    A = _as_index(A, "A", S.shape[0])
    B = _as_index(B, "B", S.shape[0])
    return _numerical_rank(S, A, B, tol)


def _numerical_rank(S, A, B, tol):
    if not A or not B:
        return 0
    sd = np.sqrt(np.abs(np.diag(S)))
    sd[sd == 0] = 1.0
    block = S[np.ix_(A, B)] / np.outer(sd[list(A)], sd[list(B)])
    s = np.linalg.svd(block, compute_uv=False)
    return int(np.count_nonzero(s > tol * max(1.0, float(s[0]))))



@functools.lru_cache(maxsize=1 << 16)
def _bits(mask: int) -> tuple[int, ...]:
    """The set bits of ``mask``, ascending: a column set given as a bit mask, as a sorted tuple.

    Memoised: the search asks for the same few thousand masks again and again.
    """
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return tuple(out)


def _index_batches(As, Bs) -> tuple[np.ndarray, np.ndarray]:
    """``As`` and ``Bs`` as (m, p) and (m, q) index arrays: m pairs of equal-sized sets."""
    As = np.asarray(As, dtype=np.intp)
    Bs = np.asarray(Bs, dtype=np.intp)
    if As.ndim != 2 or Bs.ndim != 2 or len(As) != len(Bs):
        raise ValidationError(
            f"As, Bs: expected two equally long lists of equal-sized index sets, got shapes {As.shape} and {Bs.shape}"
        )
    return As, Bs

class _Base:
    """Cache and counters shared by the rank tests."""

    def __init__(self, S: np.ndarray):
        self._S = S
        self._cache: dict = {}
        self.n_tests = 0
        self.n_cache_hits = 0

    @property
    def n_variables(self) -> int:
        return self._S.shape[0]

    def _key(self, A, B):
        d = self._S.shape[0]
        a = _as_index(A, "A", d)
        b = _as_index(B, "B", d)
        return (a, b) if a <= b else (b, a)

    def counts(self) -> dict:
        """``{"tests", "cache_hits", "hit_rate"}``: rank tests asked for, answered from the cache, and their ratio."""
        rate = self.n_cache_hits / self.n_tests if self.n_tests else 0.0
        return {"tests": self.n_tests, "cache_hits": self.n_cache_hits, "hit_rate": rate}

    def rank(self, A, B, max_rank: int | None = None) -> int:
        """Smallest ``r`` in ``0..max_rank`` whose null ``rank <= r`` is not rejected.

        Tests ``rank <= max_rank`` first; when it is rejected returns
        ``max_rank + 1``; otherwise descends through ``max_rank - 1, ..., 0``
        and stops at the first rejection (rlcd.md §2). ``max_rank`` defaults
        to ``min(|A|, |B|)``.
        """
        m = min(len(set(A)), len(set(B)))
        k = m if max_rank is None else check_int(max_rank, "max_rank", minimum=0)
        if not self.test(A, B, k):
            return k + 1
        best = k
        for r in range(k - 1, -1, -1):
            if self.test(A, B, r):
                best = r
            else:
                break
        return best

    def rank_sorted(self, A: tuple, B: tuple, max_rank: int) -> int:
        """:meth:`rank` for sorted tuples of distinct valid column ids (the search's fast path, unchecked)."""
        return self.rank(A, B, max_rank)

    def rank_masks(self, a: int, b: int, max_rank: int) -> int:
        """:meth:`rank` for two column sets given as bit masks (bit ``i`` is column ``i``; unchecked)."""
        return self.rank_sorted(_bits(a), _bits(b), max_rank)

    def pvalues_batch(self, As, Bs, r: int) -> np.ndarray:
        """p-values of ``rank <= r`` for the pairs ``(As[i], Bs[i])`` (one test each)."""
        return np.array([self.pvalue(a, b, r) for a, b in zip(As, Bs, strict=True)], dtype=float)


class RankTest(_Base):
    """χ² rank test of cross-covariance blocks from data (rlcd.md §2).

    Parameters
    ----------
    X : array_like of shape (n, p), optional
        Data; columns are standardised once (centred, unit variance) and the
        correlation matrix is kept. Give ``X`` or ``covariance``.
    covariance : array_like of shape (p, p), optional
        A sample covariance or correlation matrix (rescaled to correlations);
        then ``n`` is required.
    n : int, optional
        Sample size behind ``covariance`` (``N`` of the statistics).
    alpha : float in (0, 1) or mapping {rank: float}
        Significance level, one for every rank or per rank tested.
    statistic : {"bartlett", "bartlett_lawley"}
        See :func:`rank_statistic`.
    n_scaling : float
        ``s`` of the Bartlett–Lawley form.

    Notes
    -----
    ``test(A, B, r)`` returns True when ``H0: rank(Σ[A, B]) <= r`` is **not**
    rejected, i.e. ``T <= χ²_{1-α_r}(df)``; ``df == 0`` always accepts.
    Canonical correlations are cached per unordered pair of column sets;
    ``counts()`` reports the tests asked for and the cache hit rate.
    """

    def __init__(self, X=None, *, covariance=None, n=None, alpha=0.01, statistic="bartlett", n_scaling=1.0):
        if (X is None) == (covariance is None):
            raise ValidationError("X, covariance: expected exactly one of them, got "
                                  + ("both" if X is not None else "neither"))
        if X is not None:
            X = check_array(X, "X", min_rows=3)
            n_rows = X.shape[0]
            Z = X - X.mean(axis=0)
            sd = Z.std(axis=0)
            if np.any(sd <= 0):
                raise ValidationError(
                    f"X: expected non-constant columns, got constant columns {np.flatnonzero(sd <= 0).tolist()}"
                )
            Z = Z / sd
            S = (Z.T @ Z) / n_rows
            self.n = n_rows if n is None else check_int(n, "n", minimum=3)
        else:
            S = check_square(covariance, "covariance")
            if n is None:
                raise ValidationError("n: expected the sample size behind `covariance`, got None")
            self.n = check_int(n, "n", minimum=3)
            sd = np.sqrt(np.diag(S))
            if np.any(sd <= 0):
                raise ValidationError(
                    f"covariance: expected positive variances, got non-positive ones at {np.flatnonzero(sd <= 0).tolist()}"
                )
            S = S / np.outer(sd, sd)
        super().__init__((S + S.T) / 2.0)
        self.statistic = _check_stat(statistic)
        self.n_scaling = check_float(n_scaling, "n_scaling", minimum=0.0, strict_min=True)
        self._alpha = self._check_alpha(alpha)
        self._critical: dict = {}
        self._descents: dict = {}  # (mask, mask, max_rank) -> (rank, tests counted)

    @staticmethod
    def _check_alpha(alpha):
        if isinstance(alpha, Mapping):
            out = {}
            for k, v in alpha.items():
                if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
                    raise ValidationError(f"alpha: expected non-negative int ranks as keys, got {k!r}")
                out[int(k)] = check_float(v, f"alpha[{k}]", minimum=0.0, strict_min=True, maximum=1.0)
            if not out:
                raise ValidationError("alpha: expected a level or a non-empty mapping {rank: level}, got {}")
            return out
        return check_float(alpha, "alpha", minimum=0.0, strict_min=True, maximum=1.0)

    @property
    def correlation(self) -> np.ndarray:
        """The standardised covariance (a copy)."""
        return self._S.copy()

    def level(self, r: int) -> float:
        """Significance level used for rank ``r``."""
        if isinstance(self._alpha, dict):
            if r not in self._alpha:
                raise ValidationError(
                    f"alpha: expected a level for rank {r}, got levels for ranks {sorted(self._alpha)}"
                )
            return self._alpha[r]
        return self._alpha

    def _lookup_key(self, key: tuple, masks: tuple | None = None) -> tuple:
        """``(entry, cached)`` of a sorted pair; the entry is ``(rho, clamped rho as floats, ln(1 - ρ²) terms, p, q)``.

        The per-test terms of :func:`rank_statistic` are kept with the
        canonical correlations, so a cached pair costs no numpy call and no
        logarithm; :meth:`_statistic` adds the same floats in the same order
        as :func:`rank_statistic`, so the statistics are bit-identical.
        """
        entry = self._cache.get(key)
        if entry is not None:
            return entry, True
        rho = _canonical(self._S, key[0], key[1], masks)
        clamped = [min(x, _RHO_MAX) for x in rho]
        entry = (rho, clamped, [math.log1p(-x * x) for x in clamped], len(key[0]), len(key[1]))
        self._cache[key] = entry
        return entry, False

    def _entry(self, A, B) -> tuple:
        entry, cached = self._lookup_key(self._key(A, B))
        self.n_cache_hits += cached
        return entry

    def canonical_correlations(self, A, B) -> np.ndarray:
        """Cached canonical correlations of the column sets ``A`` and ``B``."""
        return np.array(self._entry(A, B)[0])

    def _statistic(self, entry, r):
        """``(T, df)`` of :func:`rank_statistic` from a cache entry."""
        _rho, clamped, logs, p, q = entry
        if r >= min(p, q):
            return 0.0, 0
        tail = -sum(logs[r:])
        if self.statistic == "bartlett":
            factor = self.n - (p + q + 3) / 2.0
        else:
            factor = (self.n * self.n_scaling - r - (p + q + 1) / 2.0
                      + sum(1.0 / max(x, 1e-300) ** 2 - 1.0 for x in clamped[:r]))
        return max(factor, 0.0) * tail, (p - r) * (q - r)

    def _stat(self, A, B, r):
        self.n_tests += 1
        return self._statistic(self._entry(A, B), r)

    def pvalue(self, A, B, r: int) -> float:
        """p-value of ``H0: rank(Σ[A, B]) <= r`` (1 when ``df == 0``)."""
        T, df = self._stat(A, B, r)
        return 1.0 if df == 0 else float(chi2.sf(T, df))

    def _crit(self, df: int, alpha: float) -> float:
        key = (df, alpha)
        c = self._critical.get(key)
        if c is None:
            c = float(chi2.isf(alpha, df))
            self._critical[key] = c
        return c

    def _accepts(self, entry, r: int) -> bool:
        T, df = self._statistic(entry, r)
        if df == 0:
            return True
        return T <= self._crit(df, self.level(r))

    def test(self, A, B, r: int) -> bool:
        """True when ``H0: rank(Σ[A, B]) <= r`` is not rejected at level ``alpha[r]``."""
        self.n_tests += 1
        return self._accepts(self._entry(A, B), r)

    def rank(self, A, B, max_rank: int | None = None) -> int:
        """Smallest ``r`` in ``0..max_rank`` whose null ``rank <= r`` is not rejected.

        The decisions and counts of the generic descent (one test per rank
        tried, all but the first answered from the cache), with one cache look-up.
        """
        k = None if max_rank is None else check_int(max_rank, "max_rank", minimum=0)
        return self._rank_key(self._key(A, B), k)

    def rank_sorted(self, A: tuple, B: tuple, max_rank: int) -> int:
        """:meth:`rank` for sorted tuples of distinct valid column ids (the search's fast path, unchecked)."""
        return self._rank_key((A, B) if A <= B else (B, A), max_rank)

    def rank_masks(self, a: int, b: int, max_rank: int) -> int:
        """:meth:`rank_sorted` for column sets given as bit masks (bit ``i`` is column ``i``; unchecked).

        The cluster search asks the same (pair, rank) again and again; the
        answer and the number of tests it counts are kept per masks, so a
        repeat costs one look-up of three ints and no sorting, and the counts
        stay those of :meth:`rank`.
        """
        key = (a, b, max_rank) if a <= b else (b, a, max_rank)
        hit = self._descents.get(key)
        if hit is None:
            before = self.n_tests
            A, B = _bits(a), _bits(b)
            # the canonical-correlation cache orders a pair as tuples, as rank() does
            best = self._rank_key((A, B), max_rank, (a, b)) if A <= B else self._rank_key((B, A), max_rank, (b, a))
            self._descents[key] = (best, self.n_tests - before)
            return best
        # a repeat finds its canonical correlations cached: every test it counts is a cache hit
        self.n_tests += hit[1]
        self.n_cache_hits += hit[1]
        return hit[0]

    def _rank_key(self, key: tuple, k: int | None, masks: tuple | None = None) -> int:
        entry, cached = self._lookup_key(key, masks)
        if k is None:
            k = min(entry[3], entry[4])
        tests, best = 1, k + 1
        if self._accepts(entry, k):
            best = k
            for r in range(k - 1, -1, -1):
                tests += 1
                if not self._accepts(entry, r):
                    break
                best = r
        self.n_tests += tests
        self.n_cache_hits += tests - 1 + cached
        return best

    def pvalues_batch(self, As, Bs, r: int) -> np.ndarray:
        """p-values of ``rank <= r`` for many pairs of equal-sized sets in one batched computation.

        Parameters
        ----------
        As, Bs : sequence of sequences of int
            ``As[i]`` and ``Bs[i]`` are the two sets of test ``i``; all ``As``
            have one size and all ``Bs`` another. Sets may overlap (shared
            columns give canonical correlations equal to one, up to rounding).
        r : int

        Returns
        -------
        ndarray of shape (len(As),)

        Notes
        -----
        Whitens all blocks with stacked Cholesky factors and takes one stacked
        SVD; no cache is used. Counts as ``len(As)`` tests.
        """
        As, Bs = _index_batches(As, Bs)
        if len(As) == 0:
            return np.zeros(0)
        self.n_tests += len(As)
        p, q = As.shape[1], Bs.shape[1]
        if r >= min(p, q):
            return np.ones(len(As))
        S = self._S
        SAA = S[As[:, :, None], As[:, None, :]]
        SBB = S[Bs[:, :, None], Bs[:, None, :]]
        SAB = S[As[:, :, None], Bs[:, None, :]]
        # a tiny ridge keeps Cholesky defined when a set repeats a column of the other (the shared
        # direction then has correlation 1 - O(1e-12) instead of exactly 1)
        eye_a, eye_b = np.eye(p) * 1e-12, np.eye(q) * 1e-12
        LA = np.linalg.cholesky(SAA + eye_a)
        LB = np.linalg.cholesky(SBB + eye_b)
        M = np.linalg.solve(LA, SAB)
        M = np.swapaxes(np.linalg.solve(LB, np.swapaxes(M, 1, 2)), 1, 2)
        rho = np.clip(np.linalg.svd(M, compute_uv=False), 0.0, _RHO_MAX)
        tail = -np.sum(np.log1p(-rho[:, r:] ** 2), axis=1)
        if self.statistic == "bartlett":
            factor = np.full(len(As), self.n - (p + q + 3) / 2.0)
        else:
            head = np.maximum(rho[:, :r], 1e-300)
            factor = self.n * self.n_scaling - r - (p + q + 1) / 2.0 + np.sum(1.0 / head**2 - 1.0, axis=1)
        T = np.maximum(factor, 0.0) * tail
        return chi2.sf(T, (p - r) * (q - r))


class OracleRankTest(_Base):
    """Exact rank decisions from a population covariance (for oracle runs and tests).

    Parameters
    ----------
    covariance : array_like of shape (p, p)
        Population covariance of the observed variables.
    tol : float
        Relative tolerance of :func:`numerical_rank`.

    Notes
    -----
    ``test(A, B, r)`` is ``numerical_rank(covariance, A, B) <= r``; ranks are
    cached per unordered pair of sets.
    """

    def __init__(self, covariance, *, tol: float = 1e-8):
        S = check_square(covariance, "covariance")
        super().__init__((S + S.T) / 2.0)
        self.tol = check_float(tol, "tol", minimum=0.0)

    def exact_rank(self, A, B) -> int:
        """The numerical rank of the block (cached)."""
        key = self._key(A, B)
        rk = self._cache.get(key)
        if rk is None:
            rk = _numerical_rank(self._S, key[0], key[1], self.tol)
            self._cache[key] = rk
        else:
            self.n_cache_hits += 1
        return rk

    def test(self, A, B, r: int) -> bool:
        """True when ``rank(Σ[A, B]) <= r``."""
        self.n_tests += 1
        return self.exact_rank(A, B) <= r

    def pvalue(self, A, B, r: int) -> float:
        """1.0 when the rank is at most ``r``, else 0.0."""
        return 1.0 if self.test(A, B, r) else 0.0

    def pvalues_batch(self, As, Bs, r: int) -> np.ndarray:
        """1.0 where ``rank(Σ[As[i], Bs[i]]) <= r``, else 0.0, for equal-sized sets (one stacked SVD)."""
        As, Bs = _index_batches(As, Bs)
        if len(As) == 0:
            return np.zeros(0)
        self.n_tests += len(As)
        sd = np.sqrt(np.abs(np.diag(self._S)))
        sd[sd == 0] = 1.0
        block = self._S[As[:, :, None], Bs[:, None, :]] / (sd[As][:, :, None] * sd[Bs][:, None, :])
        s = np.linalg.svd(block, compute_uv=False)
        thresh = self.tol * np.maximum(1.0, s[:, :1])
        ranks = np.sum(s > thresh, axis=1)
        return (ranks <= r).astype(float)
