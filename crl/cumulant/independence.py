"""Independence tests of OLC: HSIC (gamma approximation, O(n²) or linear time) and a
linear-time cross-cumulant test (:func:`cross_cumulant_test`) calibrated for estimated residuals.

The statistic and its calibration follow the reference (cumulant_olc.md §3,
"Independence test"): Gaussian kernels, centred Gram matrices ``K̃ = HKH``,
``T = Σ_ij K̃x_ij K̃y_ij`` and a gamma null with

- mean ``tr(K̃x) tr(K̃y) / n``
- variance ``2 ‖K̃x‖_F² ‖K̃y‖_F² / n²``

(the first two moments of the asymptotic weighted-χ² null of ``T / n``).
What differs from the reference (pitfalls 4 and 5 of §8):

- **No H.** ``K̃_ij = K_ij - r_i - r_j + g`` with row means ``r`` and grand
  mean ``g``, in row blocks: O(n²) time, O(n · block) memory (the reference
  forms ``H K H`` with dense products, O(n³)).
- **Median heuristic.** Each variable's width is the median pairwise
  distance (on an evenly spaced subsample of at most 200 order statistics), not 1.
- **Linear time for large n** (``method="rff"``; ``"auto"`` picks it above
  ``max_exact`` rows). Fourier features of the Gaussian kernel by quadrature:
  ``m = n_features / 2`` frequencies on the regular grid ``ω_k = k Δ / σ``
  (``k = 1..m``, ``Δ = 3.5 / m``) with weights ``w_k = 2 Δ φ(k Δ)`` (``φ``
  the standard normal density), features ``√w_k [cos(ω_k x), sin(ω_k x)]``.
  Then ``K ≈ ΦΦᵀ`` (a positive definite kernel that equals the Gaussian
  kernel up to the quadrature error within ``|x - x'| < 2πσ/Δ``, about 45σ
  for the default 50 features), ``T = ‖Φ̃xᵀ Φ̃y‖_F²``, ``tr K̃ = ‖Φ̃‖_F²`` and
  ``‖K̃‖_F² = ‖Φ̃ᵀΦ̃‖_F²`` with column-centred ``Φ̃``: O(n · n_features²),
  deterministic (no seed), two trigonometric evaluations per sample (the
  other harmonics by recurrence). For a fixed feature map the gamma moments
  are the exact moments of the asymptotic null of this finite-dimensional
  statistic; its level is checked by simulation in
  ``tests/crl/test_cumulants.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_int

__all__ = [
    "HSICResult",
    "median_bandwidth",
    "hsic_test",
    "fisher_combine",
    "IndependenceTester",
    "CumulantTestResult",
    "cross_cumulant_test",
]

_BLOCK_ENTRIES = 4_000_000  # Gram entries held at once by the exact test (32 MB per matrix)


@dataclass(frozen=True)
class HSICResult:
    """``statistic`` (T), ``pvalue``, the gamma ``mean`` and ``var`` of T under H0, and ``method``."""

    statistic: float
    pvalue: float
    mean: float
    var: float
    method: str


def _as_vector(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValidationError(f"{name}: expected a 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValidationError(f"{name}: expected finite values, got NaN or infinite entries")
    return x


def median_bandwidth(x, *, max_points: int = 200) -> float:
    """Median pairwise distance of a 1-D sample (the median heuristic).

    Uses an evenly spaced subsample of at most ``max_points`` points of the
    sorted sample (deterministic). Falls back to the standard deviation, then
    to 1, when the median is zero (many ties).
    """
    x = np.sort(_as_vector(x, "x"))
    if x.shape[0] > max_points:
        x = x[np.linspace(0, x.shape[0] - 1, max_points).round().astype(np.intp)]
    d = np.abs(x[:, None] - x[None, :])[np.triu_indices(x.shape[0], k=1)]
    med = float(np.median(d)) if d.size else 0.0
    if med > 0 and np.isfinite(med):
        return med
    sd = float(np.std(x))
    return sd if sd > 0 else 1.0


def _gamma_pvalue(stat: float, mean: float, var: float) -> float:
    if not (np.isfinite(stat) and np.isfinite(mean) and np.isfinite(var)) or mean <= 0 or var <= 0:
        return float("nan")
    shape, scale = mean * mean / var, var / mean
    return float(special.gammaincc(shape, max(stat, 0.0) / scale))


def _gram_rows(x: np.ndarray, rows: slice, sigma: float) -> np.ndarray:
    d = x[rows, None] - x[None, :]
    return np.exp(d * d * (-0.5 / (sigma * sigma)))


def _hsic_exact(x: np.ndarray, y: np.ndarray, sx: float, sy: float) -> tuple[float, float, float]:
    """``T``, gamma mean and variance with O(n²) centring (row blocks; H never formed)."""
    n = x.shape[0]
    step = max(1, _BLOCK_ENTRIES // n)
    blocks = [slice(i, min(i + step, n)) for i in range(0, n, step)]
    if len(blocks) == 1:
        Kx, Ky = _gram_rows(x, blocks[0], sx), _gram_rows(y, blocks[0], sy)
        rx, ry = Kx.mean(axis=1), Ky.mean(axis=1)
    else:
        rx = np.concatenate([_gram_rows(x, b, sx).mean(axis=1) for b in blocks])
        ry = np.concatenate([_gram_rows(y, b, sy).mean(axis=1) for b in blocks])
    gx, gy = rx.mean(), ry.mean()
    stat = fx = fy = 0.0
    for b in blocks:
        if len(blocks) > 1:
            Kx, Ky = _gram_rows(x, b, sx), _gram_rows(y, b, sy)
        Kx -= rx[b, None]
        Kx -= rx[None, :]
        Kx += gx
        Ky -= ry[b, None]
        Ky -= ry[None, :]
        Ky += gy
        stat += float(np.einsum("ij,ij->", Kx, Ky))
        fx += float(np.einsum("ij,ij->", Kx, Kx))
        fy += float(np.einsum("ij,ij->", Ky, Ky))
    trx = float(np.sum(1.0 - 2.0 * rx + gx))  # diagonal of K̃x (K_ii = 1)
    tr_y = float(np.sum(1.0 - 2.0 * ry + gy))
    return stat, trx * tr_y / n, 2.0 * fx * fy / (n * n)


_MAX_FREQUENCY = 3.5  # in units of 1/σ; the Gaussian spectral density beyond it is below 1e-3


def _frequency_grid(n_features: int) -> tuple[float, np.ndarray]:
    """Spacing Δ and square-root weights of the quadrature features (m = n_features / 2 frequencies)."""
    m = max(1, n_features // 2)
    delta = _MAX_FREQUENCY / m
    freqs = delta * np.arange(1, m + 1)
    return delta, np.sqrt(2.0 * delta * stats.norm.pdf(freqs))


def _features(x: np.ndarray, sigma: float, grid):
    """Row-centred features as a (2m, n) array, ``‖Φ̃‖_F²`` and ``‖Φ̃ᵀΦ̃‖_F²``.

    ``cos(kθ)``, ``sin(kθ)`` (``θ = Δ x / σ``) for k = 1..m by the angle-addition
    recurrence: two trigonometric evaluations per sample instead of ``2m``.
    """
    delta, sw = grid
    m, n = sw.shape[0], x.shape[0]
    theta = (delta / sigma) * x
    c1, s1 = np.cos(theta), np.sin(theta)
    F = np.empty((2 * m, n))
    F[0], F[m] = c1, s1
    tmp = np.empty(n)
    for k in range(1, m):
        np.multiply(F[k - 1], c1, out=F[k])
        np.multiply(F[m + k - 1], s1, out=tmp)
        F[k] -= tmp
        np.multiply(F[m + k - 1], c1, out=F[m + k])
        np.multiply(F[k - 1], s1, out=tmp)
        F[m + k] += tmp
    F *= np.concatenate([sw, sw])[:, None]
    F -= F.mean(axis=1, keepdims=True)
    G = F @ F.T
    return F, float(np.trace(G)), float(np.sum(G * G))


def _finish(stat, mean, var, method) -> HSICResult:
    return HSICResult(float(stat), _gamma_pvalue(stat, mean, var), float(mean), float(var), method)


def hsic_test(
    x,
    y,
    *,
    method: str = "auto",
    max_exact: int = 500,
    n_features: int = 50,
    bandwidths: tuple[float, float] | None = None,
) -> HSICResult:
    """HSIC test of ``x ⊥ y`` for two 1-D samples, gamma-approximated p-value.

    Parameters
    ----------
    x, y : array_like of shape (n,)
    method : {"auto", "exact", "rff"}
        ``"exact"``: full Gram matrices, O(n²) time; ``"rff"``: Fourier
        features, O(n · n_features²); ``"auto"``: exact when
        ``n <= max_exact``.
    max_exact : int
    n_features : int, even, >= 2
        Features per variable of the ``"rff"`` test (half cosines, half sines).
    bandwidths : (σx, σy), optional
        Kernel widths; default the median heuristic of each sample.

    Returns
    -------
    HSICResult
        ``pvalue`` is NaN when the null moments are degenerate (a constant
        sample); callers decide what that means.
    """
    x, y = _as_vector(x, "x"), _as_vector(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValidationError(f"y: expected {x.shape[0]} observations like x, got {y.shape[0]}")
    if x.shape[0] < 6:
        raise ValidationError(f"x: expected at least 6 observations, got {x.shape[0]}")
    check_choice(method, "method", ("auto", "exact", "rff"))
    max_exact = check_int(max_exact, "max_exact", minimum=1)
    n_features = check_int(n_features, "n_features", minimum=2)
    sx, sy = bandwidths if bandwidths is not None else (median_bandwidth(x), median_bandwidth(y))
    n = x.shape[0]
    if method == "exact" or (method == "auto" and n <= max_exact):
        return _finish(*_hsic_exact(x, y, sx, sy), "exact")
    grid = _frequency_grid(n_features)
    Fx, tx, fx = _features(x, sx, grid)
    Fy, ty, fy = _features(y, sy, grid)
    C = Fx @ Fy.T
    return _finish(float(np.sum(C * C)), tx * ty / n, 2.0 * fx * fy / (n * n), "rff")


def fisher_combine(pvalues, *, floor: float = 1e-5) -> float:
    """Fisher's method: ``χ² = -2 Σ log max(p, floor)`` on ``2k`` degrees of freedom."""
    p = np.asarray(pvalues, dtype=float).ravel()
    if p.size == 0:
        raise ValidationError("pvalues: expected at least one p-value, got none")
    if np.any(~np.isfinite(p)):
        raise ValidationError("pvalues: expected finite p-values, got NaN or infinite entries")
    p = np.clip(p, floor, 1.0)
    return float(stats.chi2.sf(-2.0 * np.sum(np.log(p)), 2 * p.size))


class IndependenceTester:
    """The test a learner runs many times: fixed settings, cached features, counted outcomes.

    Parameters
    ----------
    method, max_exact, n_features
        As :func:`hsic_test`.

    Attributes
    ----------
    n_tests : int
        Tests run.
    n_degenerate : int
        Tests whose null moments were degenerate (a numerically constant
        sample, e.g. a surrogate that cancelled exactly); they return
        ``pvalue = 1`` (a constant is independent of everything) and are
        counted here rather than hidden.
    method_used : str
        ``"exact"`` or ``"rff"`` (the last test's).

    Notes
    -----
    ``test(x, y, key_x=..., key_y=...)`` caches the bandwidth (and, for the
    feature test, the centred features) of a sample under a hashable key,
    so repeated tests of the same working column pay once. The caller must
    change the key when the sample changes.
    """

    def __init__(self, method: str = "auto", max_exact: int = 500, n_features: int = 50):
        self.method = check_choice(method, "method", ("auto", "exact", "rff"))
        self.max_exact = check_int(max_exact, "max_exact", minimum=1)
        self.n_features = check_int(n_features, "n_features", minimum=2)
        self._grid = _frequency_grid(self.n_features)
        self._cache: dict = {}
        self.n_tests = 0
        self.n_degenerate = 0
        self.method_used = ""

    def _use_exact(self, n: int) -> bool:
        return self.method == "exact" or (self.method == "auto" and n <= self.max_exact)

    def _prep(self, x: np.ndarray, key, exact: bool):
        ck = (key, exact)
        if key is not None and ck in self._cache:
            return self._cache[ck]
        sigma = median_bandwidth(x)
        out = (sigma,) if exact else (sigma, *_features(x, sigma, self._grid))
        if key is not None:
            self._cache[ck] = out
        return out

    def forget(self, key) -> None:
        """Drop the cached entries of ``key``."""
        for exact in (True, False):
            self._cache.pop((key, exact), None)

    def test(self, x, y, *, key_x=None, key_y=None) -> float:
        """p-value of ``x ⊥ y``."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        self.n_tests += 1
        if np.std(x) <= 1e-12 * (1.0 + np.abs(x).max()) or np.std(y) <= 1e-12 * (1.0 + np.abs(y).max()):
            self.n_degenerate += 1
            return 1.0
        n = x.shape[0]
        exact = self._use_exact(n)
        px, py = self._prep(x, key_x, exact), self._prep(y, key_y, exact)
        if exact:
            stat, mean, var = _hsic_exact(x, y, px[0], py[0])
            self.method_used = "exact"
        else:
            C = px[1] @ py[1].T
            stat, mean, var = float(np.sum(C * C)), px[2] * py[2] / n, 2.0 * px[3] * py[3] / (n * n)
            self.method_used = "rff"
        p = _gamma_pvalue(stat, mean, var)
        if not np.isfinite(p):
            self.n_degenerate += 1
            return 1.0
        return p


# --------------------------------------------------------------------------- cross-cumulant test

#: (power of the residual, power of the tested variable) of the cross moments: the third- and
#: fourth-order cross-cumulants of (r, y), i.e. κ(r, y, y), κ(r, y, y, y), κ(r, r, y), κ(r, r, y, y)
#: and κ(r, r, r, y). (r, y) itself is added when it is not zero by construction.
_PAIRS = ((1, 2), (1, 3), (2, 1), (2, 2), (3, 1))
_PAIRS_EVEN = ((2, 1), (2, 2))


@dataclass(frozen=True)
class CumulantTestResult:
    """``statistic`` (χ²), ``pvalue``, ``df``, and per tested column ``pvalues`` (Bonferroni-combined in ``pvalue``)."""

    statistic: float
    pvalue: float
    df: int
    pvalues: tuple


def _powers(v: np.ndarray, degree: int) -> np.ndarray:
    """Centred powers v, v², ..., v^degree of a standardised column, as (n, degree)."""
    out = np.empty((v.shape[0], degree))
    out[:, 0] = v
    for d in range(1, degree):
        out[:, d] = out[:, d - 1] * v
    out -= out.mean(axis=0)
    return out


def _std_centred(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    sd = float(np.sqrt(v @ v / v.shape[0]))
    return v / sd if sd > 0 else v


def cross_cumulant_test(r, Y, *, regressors=None, instruments=None, odd: bool = True) -> CumulantTestResult:
    """Test of ``r ⊥ y`` for each column ``y`` of ``Y`` from low-order cross moments, in O(n).

    Built for the tests of OLC (cumulant_olc.md §3), where ``r`` is a linear
    residual ``x - R b̂`` with ``b̂`` estimated from the same rows and ``y`` a
    variable that may share a hidden non-Gaussian component with ``r``. Such
    a component shows up in the third- and fourth-order cross-cumulants of
    ``(r, y)``, which a Gaussian-kernel HSIC at the median bandwidth sees
    only weakly. For each ``y`` the moments ``m_ab = mean(r̃^a ỹ^b)`` (centred
    powers of the standardised columns) over ``(a, b)`` in
    ``(1,2), (1,3), (2,1), (2,2), (3,1)`` and ``(1,1)`` vanish under
    independence (they are the cross-cumulants κ(r, y, y), κ(r, y, y, y),
    κ(r, r, y), κ(r, r, y, y), κ(r, r, r, y) and the covariance, up to terms
    that vanish with them).

    Calibration: ``√n m → N(0, Σ)`` with ``Σ`` the covariance of the
    influence function, estimated by the sample covariance of

        ψ_t = r̃^a_t ỹ^b_t − D (Zᵀ R / n)⁻¹ Z_t r_t,   D = mean(a r̃^(a−1) R ỹ^b),

    where the second term is the first-order effect of estimating ``b̂``
    (least squares when ``instruments`` is None, otherwise instrumental
    variables with ``Z = instruments``). A moment that is zero by
    construction (``(1, 1)`` with ``y`` among the instruments) has ψ ≡ 0 and
    is dropped (relative variance below 1e-8). Per column,
    ``T = n mᵀ Σ̂⁻¹ m`` is χ² with one degree of freedom per moment; the
    columns are combined by Bonferroni. Its level is checked by simulation
    in ``tests/crl/test_cumulants.py``.

    ``odd=False`` keeps only the moments even in ``r`` (``(2, 1)``,
    ``(2, 2)``): their first-order sensitivity to *any* estimated linear
    combination in ``r`` is ``E[2r] E[...] = 0`` under independence, so they
    stay calibrated when the construction of ``r`` is too complex to
    correct for (the surrogates of phase 3).

    Parameters
    ----------
    r : array_like (n,)
    Y : array_like (n,) or (n, q)
    regressors : array_like (n, k), optional
        The columns ``R`` that ``r`` was regressed on (ignored when ``odd=False``).
    instruments : array_like (n, k), optional
        Instruments of an IV fit (same number of columns as ``regressors``).
    odd : bool

    Notes
    -----
    The variance estimate needs finite moments of order 12 of the standardised
    columns (moment (3, 1) squared); with very heavy tails the test is
    anticonservative. Uniform, exponential and signed-power noise with
    exponent up to 2 are fine at n in the thousands.
    """
    r = _as_vector(r, "r")
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    n = r.shape[0]
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValidationError(f"Y: expected shape ({n},) or ({n}, q), got {Y.shape}")
    if n < 10:
        raise ValidationError(f"r: expected at least 10 observations, got {n}")
    rs = _std_centred(r)
    Fr = _powers(rs, 3)
    pairs = _PAIRS + ((1, 1),) if odd else _PAIRS_EVEN
    # bilinear form of the influence: ψ_q = A_t C_q B_tᵀ with r-features A = [r̃, r̃², r̃³, r] and
    # y-features B = [ỹ, ỹ², ỹ³, (M Z_t)ᵀ]; under r ⊥ (y, Z) its covariance factorises into the
    # second moments of A and of B (no joint moments of order 12 to estimate)
    A = np.column_stack([Fr, rs])
    ZM = None
    R = None
    if odd and regressors is not None:
        R = np.asarray(regressors, dtype=float).reshape(n, -1)
        R = R - R.mean(axis=0)
        Z = R if instruments is None else np.asarray(instruments, dtype=float).reshape(n, -1)
        Z = Z - Z.mean(axis=0)
        if Z.shape[1] != R.shape[1]:
            raise ValidationError(
                f"instruments: expected {R.shape[1]} columns like regressors, got {Z.shape[1]}"
            )
        G = Z.T @ R / n
        try:
            M = np.linalg.solve(G, np.eye(R.shape[1]))
        except np.linalg.LinAlgError:
            M = np.linalg.pinv(G)
        ZM = Z @ M.T  # (n, k): b̂ - b ≈ mean(ZM_t r_t)
    SA = A.T @ A / n
    dfs, stats_, pvals = [], [], []
    for c in range(Y.shape[1]):
        Gy = _powers(_std_centred(Y[:, c]), 3)
        B = Gy if ZM is None else np.column_stack([Gy, ZM])
        SB = B.T @ B / n
        Cs, m = [], np.empty(len(pairs))
        for q, (a, b) in enumerate(pairs):
            C = np.zeros((A.shape[1], B.shape[1]))
            C[a - 1, b - 1] = 1.0
            if ZM is not None:
                deriv = a * rs ** (a - 1) if a > 1 else np.ones(n)
                C[3, 3:] = -((deriv * Gy[:, b - 1]) @ R / n)
            m[q] = float(np.mean(Fr[:, a - 1] * Gy[:, b - 1]))
            Cs.append(C)
        S = np.array([[float(np.sum((SA @ Cq) * (SB @ Cp.T).T)) for Cp in Cs] for Cq in Cs])
        raw = np.array([SA[a - 1, a - 1] * SB[b - 1, b - 1] for a, b in pairs])
        keep = np.diag(S) > 1e-8 * raw
        if not np.any(keep):
            pvals.append(1.0)
            continue
        S, mk = S[np.ix_(keep, keep)], m[keep]
        try:
            T = float(n * mk @ np.linalg.solve(S, mk))
        except np.linalg.LinAlgError:
            T = float(n * mk @ np.linalg.pinv(S) @ mk)
        df = int(keep.sum())
        dfs.append(df)
        stats_.append(T)
        pvals.append(float(stats.chi2.sf(T, df)) if np.isfinite(T) else 1.0)
    q = Y.shape[1]
    p = float(min(1.0, q * min(pvals)))
    return CumulantTestResult(float(max(stats_, default=0.0)), p, int(max(dfs, default=0)), tuple(pvals))
