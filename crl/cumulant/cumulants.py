"""Joint cumulants (unbiased k-statistics up to order 4), the OLC closed form and surrogates.

cumulant_olc.md §2. Every estimator centres its inputs with the sample mean
and returns the *unbiased* k-statistic: for centred columns ``z`` with
``S_ab = Σ_t z_a z_b`` (and likewise ``S_abc``, ``S_abcd``),

- order 2: ``k_ab = S_ab / (n - 1)``
- order 3: ``k_abc = n S_abc / ((n - 1)(n - 2))``
- order 4: ``k_abcd = [n(n+1) S_abcd - (n-1)(S_ab S_cd + S_ac S_bd + S_ad S_bc)]
  / ((n-1)(n-2)(n-3))``

(the multilinear polarisation of Fisher's k2, k3, k4; ``E k = κ`` exactly for
i.i.d. rows). Each entry costs O(n); :class:`CumulantCache` centres the data
once, keeps the pairwise sums ``S_ab`` (one matrix product) and memoises the
order-3/4 entries it is asked for, so a learner that asks for the same
cumulant twice pays once.

The One-Latent-Component identity (:func:`olc_loadings`): if ``x = a s + n_x``
and ``e = b s + n_e`` with ``s, n_x, n_e`` independent, ``E s² = 1`` and
``κ₄(s) ≠ 0``, then ``b² = cov(x, e) κ(x, e, e, e) / κ(x, x, e, e)`` and
``a = cov(x, e) / b`` (sign fixed by ``b > 0``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from crl.exceptions import ValidationError

__all__ = [
    "kstat",
    "joint_cumulant",
    "cumulant_tensor",
    "k4_standard_error",
    "CumulantCache",
    "OLCLoadings",
    "olc_loadings",
    "surrogate_weights",
    "surrogate",
]


def _centred(arrays) -> tuple[np.ndarray, ...]:
    out = []
    n = None
    for k, a in enumerate(arrays):
        a = np.asarray(a, dtype=float)
        if a.ndim != 1:
            raise ValidationError(f"arrays[{k}]: expected a 1-D array, got shape {a.shape}")
        if n is None:
            n = a.shape[0]
        elif a.shape[0] != n:
            raise ValidationError(f"arrays[{k}]: expected length {n}, got {a.shape[0]}")
        out.append(a - a.mean())
    return tuple(out)


def _k4_from_sums(n: int, s1234, s12, s34, s13, s24, s14, s23):
    return (n * (n + 1) * s1234 - (n - 1) * (s12 * s34 + s13 * s24 + s14 * s23)) / (
        (n - 1) * (n - 2) * (n - 3)
    )


def kstat(X, order: int) -> np.ndarray | float:
    """Unbiased k-statistic of ``order`` (1..4) of each column of ``X``.

    Parameters
    ----------
    X : array_like of shape (n,) or (n, p)
        ``n >= order`` rows (``n >= 4`` for order 4).
    order : {1, 2, 3, 4}

    Returns
    -------
    float or ndarray of shape (p,)
        ``k1`` is the mean, ``k2`` the unbiased variance, ``k3`` and ``k4``
        Fisher's unbiased third and fourth cumulant estimators.
    """
    X = np.asarray(X, dtype=float)
    if order not in (1, 2, 3, 4):
        raise ValidationError(f"order: expected 1, 2, 3 or 4, got {order!r}")
    n = X.shape[0]
    if n < max(order, 2):
        raise ValidationError(f"X: expected at least {max(order, 2)} rows for order {order}, got {n}")
    if order == 1:
        return X.mean(axis=0)
    Z = X - X.mean(axis=0)
    s2 = np.sum(Z * Z, axis=0)
    if order == 2:
        return s2 / (n - 1)
    if order == 3:
        return n * np.sum(Z**3, axis=0) / ((n - 1) * (n - 2))
    s4 = np.sum(Z**4, axis=0)
    return _k4_from_sums(n, s4, s2, s2, s2, s2, s2, s2)


def joint_cumulant(*arrays) -> float:
    """Unbiased joint k-statistic of 2, 3 or 4 one-dimensional samples of equal length.

    ``joint_cumulant(x, x, y, y)`` estimates ``κ(x, x, y, y)``; repeated
    arguments are allowed (they are what makes a cross-cumulant).
    """
    if len(arrays) not in (2, 3, 4):
        raise ValidationError(f"arrays: expected 2, 3 or 4 samples, got {len(arrays)}")
    zs = _centred(arrays)
    n = zs[0].shape[0]
    if n < len(zs):
        raise ValidationError(f"arrays: expected at least {len(zs)} observations, got {n}")
    if len(zs) == 2:
        return float(zs[0] @ zs[1] / (n - 1))
    if len(zs) == 3:
        return float(n * np.sum(zs[0] * zs[1] * zs[2]) / ((n - 1) * (n - 2)))
    a, b, c, d = zs
    return float(
        _k4_from_sums(n, np.sum(a * b * c * d), a @ b, c @ d, a @ c, b @ d, a @ d, b @ c)
    )


def cumulant_tensor(X, order: int = 4) -> np.ndarray:
    """Every joint k-statistic of ``order`` (2, 3 or 4) among the columns of ``X``, as a tensor.

    Vectorised (one ``einsum``); costs O(n p^order) time and O(p^order)
    memory, so it is meant for small ``p``. Entry ``[i, j, k, l]`` is
    :func:`joint_cumulant` of columns ``i, j, k, l``.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValidationError(f"X: expected a 2-D array, got shape {X.shape}")
    if order not in (2, 3, 4):
        raise ValidationError(f"order: expected 2, 3 or 4, got {order!r}")
    n = X.shape[0]
    if n < order:
        raise ValidationError(f"X: expected at least {order} rows, got {n}")
    Z = X - X.mean(axis=0)
    S = Z.T @ Z
    if order == 2:
        return S / (n - 1)
    if order == 3:
        return n * np.einsum("ti,tj,tk->ijk", Z, Z, Z, optimize=True) / ((n - 1) * (n - 2))
    S4 = np.einsum("ti,tj,tk,tl->ijkl", Z, Z, Z, Z, optimize=True)
    pairs = (
        np.einsum("ij,kl->ijkl", S, S) + np.einsum("ik,jl->ijkl", S, S) + np.einsum("il,jk->ijkl", S, S)
    )
    return (n * (n + 1) * S4 - (n - 1) * pairs) / ((n - 1) * (n - 2) * (n - 3))


def k4_standard_error(a, b, c, d) -> float:
    """Plug-in standard error of the joint fourth k-statistic of four samples.

    Delta method: the influence of ``κ(a, b, c, d)`` at row ``t`` is
    ``z_a z_b z_c z_d - Σ_{3 pairings} (z_a z_b κ_cd + κ_ab z_c z_d)
    - Σ_{4 triples} m_bcd z_a`` (centred ``z``, covariances ``κ``, third
    moments ``m``; the last sum is the effect of estimating the means); the
    standard error is its standard deviation over ``√n``. Used as the noise
    scale of the ``|κ|`` threshold (cumulant_olc.md §8.9).
    """
    za, zb, zc, zd = _centred((a, b, c, d))
    n = za.shape[0]
    cab, ccd, cac, cbd, cad, cbc = (
        za @ zb / n, zc @ zd / n, za @ zc / n, zb @ zd / n, za @ zd / n, zb @ zc / n,
    )
    m_bcd, m_acd = np.mean(zb * zc * zd), np.mean(za * zc * zd)
    m_abd, m_abc = np.mean(za * zb * zd), np.mean(za * zb * zc)
    phi = (
        za * zb * zc * zd
        - (za * zb * ccd + cab * zc * zd)
        - (za * zc * cbd + cac * zb * zd)
        - (za * zd * cbc + cad * zb * zc)
        - (m_bcd * za + m_acd * zb + m_abd * zc + m_abc * zd)
    )
    return float(np.std(phi) / np.sqrt(n))


class CumulantCache:
    """Centred columns, their pairwise sums and memoised joint cumulants of a data matrix.

    Parameters
    ----------
    X : array_like of shape (n, p)
        Copied and centred once.

    Notes
    -----
    Indices are column numbers. Entries are symmetric in their arguments, so
    the memo is keyed by the sorted index tuple. ``cov`` reads the cached
    Gram matrix; ``k3``/``k4`` cost O(n) the first time and O(1) after.
    """

    def __init__(self, X):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] < 4:
            raise ValidationError(f"X: expected a 2-D array with at least 4 rows, got shape {X.shape}")
        self.n, self.p = X.shape
        self.Z = X - X.mean(axis=0)
        self.S = self.Z.T @ self.Z
        self._memo: dict[tuple[int, ...], float] = {}
        self.n_computed = 0

    def cov(self, i: int, j: int) -> float:
        """Unbiased covariance of columns ``i`` and ``j``."""
        return float(self.S[i, j] / (self.n - 1))

    def covariance(self) -> np.ndarray:
        """The unbiased covariance matrix (a copy)."""
        return self.S / (self.n - 1)

    def k3(self, i: int, j: int, k: int) -> float:
        """Unbiased joint third cumulant of columns ``i, j, k``."""
        key = tuple(sorted((i, j, k)))
        if key not in self._memo:
            n = self.n
            self._memo[key] = float(
                n * np.sum(self.Z[:, i] * self.Z[:, j] * self.Z[:, k]) / ((n - 1) * (n - 2))
            )
            self.n_computed += 1
        return self._memo[key]

    def k4(self, i: int, j: int, k: int, m: int) -> float:
        """Unbiased joint fourth cumulant of columns ``i, j, k, m``."""
        key = tuple(sorted((i, j, k, m)))
        if key not in self._memo:
            Z, S, n = self.Z, self.S, self.n
            s4 = float(np.sum(Z[:, i] * Z[:, j] * Z[:, k] * Z[:, m]))
            self._memo[key] = float(
                _k4_from_sums(n, s4, S[i, j], S[k, m], S[i, k], S[j, m], S[i, m], S[j, k])
            )
            self.n_computed += 1
        return self._memo[key]

    def k4_all_pairs(self) -> dict[tuple[int, int], tuple[float, float, float]]:
        """``κ(i,j,j,j)``, ``κ(i,i,j,j)``, ``κ(i,i,i,j)`` for every pair ``i < j`` (vectorised)."""
        Z, S, n = self.Z, self.S, self.n
        Z2, Z3 = Z * Z, Z**3
        S13 = Z.T @ Z3  # Σ z_i z_j³
        S22 = Z2.T @ Z2  # Σ z_i² z_j²
        d = np.diag(S)
        den = (n - 1) * (n - 2) * (n - 3)
        k_ijjj = (n * (n + 1) * S13 - 3 * (n - 1) * S * d[None, :]) / den
        k_iijj = (n * (n + 1) * S22 - (n - 1) * (np.outer(d, d) + 2 * S * S)) / den
        out = {}
        for i, j in itertools.combinations(range(self.p), 2):
            vals = (float(k_ijjj[i, j]), float(k_iijj[i, j]), float(k_ijjj[j, i]))
            out[(i, j)] = vals
            self._memo[(i, j, j, j)] = vals[0]
            self._memo[(i, i, j, j)] = vals[1]
            self._memo[(i, i, i, j)] = vals[2]
        return out


@dataclass(frozen=True)
class OLCLoadings:
    """Result of the one-latent-component closed form for a pair ``(x, e)``.

    ``a`` and ``b`` are the loadings of ``x`` and ``e`` on the shared
    component (unit variance, ``b > 0``); ``valid`` is False when the closed
    form does not apply (``b² <= 0``, or ``|κ(x, x, e, e)|`` below
    ``threshold`` standard errors), and then ``a = b = 0``.
    """

    a: float
    b: float
    b2: float
    kappa_xxee: float
    kappa_se: float
    valid: bool
    reason: str = ""


def olc_loadings(x, e, *, threshold: float = 3.0) -> OLCLoadings:
    """Closed-form loadings of two variables that share exactly one component (cumulant_olc.md §2).

    ``b² = cov(x, e) κ(x, e, e, e) / κ(x, x, e, e)``, ``b = +√b²``,
    ``a = cov(x, e) / b``. In population this is exact; the estimate uses
    unbiased k-statistics.

    Parameters
    ----------
    x, e : array_like of shape (n,)
    threshold : float
        Reject (``valid=False``) when ``|κ(x, x, e, e)|`` is below
        ``threshold`` times its plug-in standard error (a near-Gaussian or
        absent shared component makes the ratio unstable; §8.9).

    Returns
    -------
    OLCLoadings
    """
    x, e = _centred((x, e))
    n = x.shape[0]
    if n < 8:
        raise ValidationError(f"x: expected at least 8 observations, got {n}")
    c = float(x @ e / (n - 1))
    k_xeee = joint_cumulant(x, e, e, e)
    k_xxee = joint_cumulant(x, x, e, e)
    se = k4_standard_error(x, x, e, e)
    if not np.isfinite(k_xxee) or abs(k_xxee) <= threshold * se or k_xxee == 0.0:
        return OLCLoadings(0.0, 0.0, float("nan"), k_xxee, se, False, "|kappa(x,x,e,e)| below threshold")
    b2 = c * k_xeee / k_xxee
    if not np.isfinite(b2) or b2 <= 0:
        return OLCLoadings(0.0, 0.0, float(b2), k_xxee, se, False, "b^2 <= 0 (sign inconsistency)")
    b = float(np.sqrt(b2))
    return OLCLoadings(c / b, b, float(b2), k_xxee, se, True)


def surrogate_weights(M) -> np.ndarray:
    """Unit vector ``ω`` orthogonal to the columns of ``M`` (shape (s, k), k < s).

    The last left-singular vector of ``M`` (cumulant_olc.md §2): ``ωᵀ M = 0``
    up to rounding when ``M`` has rank ``s - 1``; otherwise the direction
    least aligned with its columns. The sign is fixed so that the largest
    absolute entry is positive.
    """
    M = np.asarray(M, dtype=float)
    if M.ndim == 1:
        M = M[:, None]
    if M.ndim != 2 or M.shape[1] >= M.shape[0]:
        raise ValidationError(f"M: expected shape (s, k) with k < s, got {M.shape}")
    U, _, _ = np.linalg.svd(M, full_matrices=True)
    w = U[:, -1]
    return w if w[np.argmax(np.abs(w))] > 0 else -w


def surrogate(X_S, M) -> tuple[np.ndarray, np.ndarray]:
    """Surrogate ``e = X_S ω`` with every component whose loadings are the columns of ``M`` removed.

    Parameters
    ----------
    X_S : ndarray of shape (n, s)
        The variables combined.
    M : ndarray of shape (s, k), k < s
        Loadings of the ``s`` variables on the ``k`` components to remove.

    Returns
    -------
    (e, ω)
    """
    X_S = np.asarray(X_S, dtype=float)
    w = surrogate_weights(M)
    if X_S.ndim != 2 or X_S.shape[1] != w.shape[0]:
        raise ValidationError(f"X_S: expected {w.shape[0]} columns, got shape {X_S.shape}")
    return X_S @ w, w
