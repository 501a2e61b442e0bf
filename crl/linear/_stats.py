"""Sufficient statistics for LinearCD: per-context covariances, rank-d truncation, PSD-safe factors.

Private helpers of :mod:`crl.linear`. Everything downstream of this module
works in the ``d``-dimensional signal subspace: with ``U`` (p, d) an
orthonormal basis of it, a precision ``Theta`` (p, p) of rank ``d`` becomes
``U.T @ Theta @ U`` (d, d), and an unmixing ``H_red`` (d, d) in those
coordinates is ``H_red @ U.T`` (d, p) in the observed ones.
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import CRLError, NotIdentifiableError, ValidationError

__all__: list[str] = []  # private helpers, imported by name inside crl.linear


def context_covariances(X: np.ndarray, env: np.ndarray):
    """Per-context sample covariances (centred, ``ddof=1``).

    Parameters
    ----------
    X : ndarray of shape (n, p)
    env : ndarray of shape (n,), int
        Context label of each row; the sorted unique labels define the context order.

    Returns
    -------
    labels : list of int, length n_contexts
    covs : ndarray of shape (n_contexts, p, p)
    counts : ndarray of shape (n_contexts,)
    """
    labels, inverse, counts = np.unique(env, return_inverse=True, return_counts=True)
    labels = labels.tolist()  # python ints: messages read "context 2", not "np.int64(2)"
    check_counts(labels, counts, 1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    p = X.shape[1]
    covs = np.empty((len(labels), p, p))
    for k in range(len(labels)):
        Xk = X[order[bounds[k] : bounds[k + 1]]]
        Xk = Xk - Xk.mean(axis=0)
        covs[k] = Xk.T @ Xk / (len(Xk) - 1)
    return labels, covs, counts


def check_counts(labels, counts, d: int) -> None:
    """Every context needs more than ``d`` rows (a centred covariance of rank ``d``)."""
    few = [(lab, int(c)) for lab, c in zip(labels, counts) if c <= d]
    if few:
        raise ValidationError(
            f"env: expected more than n_latents = {d} rows per context (a non-singular covariance on the "
            f"latent subspace), got {', '.join(f'{c} in context {lab}' for lab, c in few)}"
        )


def numerical_rank(eigenvalues: np.ndarray, tol: float) -> int:
    """Eigenvalues above ``tol`` times the largest one."""
    top = float(np.max(eigenvalues)) if eigenvalues.size else 0.0
    return int(np.sum(eigenvalues > tol * top)) if top > 0 else 0


def top_basis(S: np.ndarray, d: int) -> np.ndarray:
    """Orthonormal (p, d) basis of the top-``d`` eigenvectors of the symmetric ``S``, in a fixed sign."""
    w, V = np.linalg.eigh((S + S.T) / 2)
    U = V[:, ::-1][:, :d]
    # fix each column's sign (largest-magnitude entry positive): a deterministic basis
    idx = np.argmax(np.abs(U), axis=0)
    return U * np.sign(U[idx, np.arange(d)])


def _check_condition(mats: np.ndarray, labels, tol: float, what: str) -> None:
    for k, M in enumerate(mats):
        w = np.linalg.eigvalsh(M)
        if not w[-1] > 0 or w[0] <= tol * w[-1]:
            cond = np.inf if w[0] <= 0 else w[-1] / w[0]
            raise CRLError(
                f"{what} of context {labels[k]!r}: expected a non-singular matrix on the "
                f"{M.shape[0]}-dimensional signal subspace, got condition number {cond:.3g} "
                f"(eigenvalues in [{w[0]:.3g}, {w[-1]:.3g}]); the context's data are degenerate "
                "(constant or collinear directions) or n_latents is too large"
            )


def pooled_spectrum(covs, counts, d: int | None, *, spectrum_tol: float):
    """Pooled covariance (weighted by context sizes), its eigenvalues (descending) and ``d``.

    ``d`` is returned as given, or estimated as the numerical rank of the
    pooled covariance (eigenvalues above ``spectrum_tol`` times the largest).
    """
    pooled = np.tensordot(counts / counts.sum(), covs, axes=1)
    spectrum = np.linalg.eigvalsh(pooled)[::-1]
    if d is None:
        d = numerical_rank(spectrum, spectrum_tol)
        if d == 0:
            raise CRLError("X: expected data with a non-zero covariance, got a zero pooled covariance")
    return pooled, spectrum, d


def reduce_covariances(covs, pooled, labels, d: int, *, spectrum_tol: float, rank_truncate: bool):
    """Rank-d truncation of per-context covariances (linear_cd.md §4.1).

    ``U`` is the top-``d`` eigenvectors of the pooled covariance and the
    reduced precision of context ``k`` is ``inv(U.T @ cov_k @ U)``. With
    ``rank_truncate=False`` the reference's route is taken instead:
    ``pinv(cov_k)`` and the top-``d`` range of the summed precisions.

    Returns
    -------
    U : ndarray (p, d)
    theta : ndarray (n_contexts, d, d)
    """
    if rank_truncate:
        U = top_basis(pooled, d)
        reduced = U.T @ covs @ U
        _check_condition(reduced, labels, spectrum_tol, "covariance")
        return U, np.linalg.inv(reduced)
    precisions = np.stack([np.linalg.pinv(c, hermitian=True) for c in covs])
    U = top_basis(precisions.sum(axis=0), d)
    theta = U.T @ precisions @ U
    _check_condition(theta, labels, spectrum_tol, "precision")
    return U, theta


def check_precisions(precisions, *, psd_tol: float) -> np.ndarray:
    """Validate a stack of precision matrices (finite, symmetric, positive semi-definite)."""
    try:
        P = np.asarray(precisions, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(
            f"precisions: expected a numeric array of shape (n_contexts, p, p), got {type(precisions).__name__}"
        ) from None
    if P.ndim != 3 or P.shape[1] != P.shape[2] or P.shape[1] < 1:
        raise ValidationError(f"precisions: expected an array of shape (n_contexts, p, p), got shape {P.shape}")
    if P.shape[0] < 2:
        raise NotIdentifiableError(
            "precisions: expected an observational context (index 0) and at least one interventional "
            f"context, got {P.shape[0]} context(s)"
        )
    if not np.all(np.isfinite(P)):
        bad = sorted({int(k) for k in np.argwhere(~np.isfinite(P))[:, 0]})
        raise ValidationError(f"precisions: expected finite entries, got NaN or inf in contexts {bad}")
    for k, M in enumerate(P):
        scale = max(float(np.abs(M).max()), 1e-300)
        asym = float(np.abs(M - M.T).max())
        if asym > 1e-8 * scale:
            raise ValidationError(
                f"precisions[{k}]: expected a symmetric matrix, got max |M - M.T| = {asym:.3g} "
                f"(max |M| = {scale:.3g})"
            )
        w = np.linalg.eigvalsh((M + M.T) / 2)
        if w[-1] <= 0:
            raise CRLError(f"precisions[{k}]: expected a non-zero positive semi-definite matrix, got largest eigenvalue {w[-1]:.3g}")
        if w[0] < -psd_tol * w[-1]:
            raise CRLError(
                f"precisions[{k}]: expected a positive semi-definite matrix, got smallest eigenvalue "
                f"{w[0]:.3g} (largest {w[-1]:.3g}); context {k} is indefinite"
            )
    return (P + np.swapaxes(P, 1, 2)) / 2


def reduce_precisions(P, d: int | None, *, spectrum_tol: float, rank_truncate: bool):
    """Rank-d reduction of given precision matrices.

    If the precisions have numerical rank ``d`` (population matrices, the
    Wishart draws of the paper, ``pinv`` of noiseless rank-``d``
    covariances) the signal subspace is their common range, ``U`` the
    top-``d`` eigenvectors of their (scale-normalised) sum, and the reduced
    precision is ``U.T @ Theta @ U``. If they have full rank ``p > d``
    (e.g. inverses of noisy covariances), a large precision eigenvalue is a
    low-variance (noise) direction, so with ``rank_truncate=True`` the
    covariances ``inv(Theta_k)`` are truncated instead, as in
    :func:`reduce_covariances`.
    """
    labels = list(range(P.shape[0]))
    norms = np.array([np.trace(M) for M in P])
    pooled = np.tensordot(1.0 / norms, P, axes=1)
    spectrum = np.linalg.eigvalsh(pooled)[::-1]
    rank = numerical_rank(spectrum, spectrum_tol)
    if d is None:
        d = rank
    if rank < d:
        raise CRLError(
            f"precisions: expected rank >= n_latents = {d}, got numerical rank {rank} "
            f"(relative tolerance spectrum_tol={spectrum_tol:g}); the precision matrices are singular "
            "on the latent subspace"
        )
    if rank == d or not rank_truncate:
        U = top_basis(pooled, d)
        theta = U.T @ P @ U
        _check_condition(theta, labels, spectrum_tol, "precision")
        return U, theta, d, spectrum
    covs = np.linalg.inv(P)
    pooled, spectrum, d = pooled_spectrum(covs, np.ones(P.shape[0]), d, spectrum_tol=spectrum_tol)
    U, theta = reduce_covariances(covs, pooled, labels, d, spectrum_tol=spectrum_tol, rank_truncate=True)
    return U, theta, d, spectrum


def reverse_cholesky(M: np.ndarray, *, what: str, psd_tol: float, floor: float) -> np.ndarray:
    """Lower-triangular ``L`` with positive diagonal and ``M = L.T @ L`` (PSD-safe).

    ``M`` is symmetrised first. If it is not numerically positive definite,
    eigenvalues in ``[-psd_tol * max, floor * max]`` are clipped to
    ``floor * max`` (round-off); a clearly indefinite matrix (smallest
    eigenvalue below ``-psd_tol * max``) raises :class:`CRLError` naming
    ``what`` (the context), never returns NaN.
    """
    M = (M + M.T) / 2
    J = M[::-1, ::-1]
    try:
        C = np.linalg.cholesky(J)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(J)
        top = float(w[-1]) if w.size else 0.0
        if not top > 0 or w[0] < -psd_tol * top:
            raise CRLError(
                f"{what}: expected a positive definite matrix for the Cholesky step, got eigenvalues in "
                f"[{w[0]:.3g}, {top:.3g}] (indefinite beyond psd_tol={psd_tol:g}); the input precision "
                "of this context is not positive semi-definite on the signal subspace"
            ) from None
        w = np.maximum(w, floor * top)
        try:
            C = np.linalg.cholesky((V * w) @ V.T)
        except np.linalg.LinAlgError:
            raise CRLError(
                f"{what}: the Cholesky step failed even after clipping eigenvalues at {floor:g} x max"
            ) from None
    # J = C C^T with C lower  =>  M = L^T L with L = flip(C^T) lower triangular
    return C.T[::-1, ::-1]


def cholesky_stack(S: np.ndarray, names, *, psd_tol: float, floor: float) -> np.ndarray:
    """Lower Cholesky factors of a stack of symmetric matrices (PSD-safe, errors name the context).

    The fast path factors the whole stack; if any matrix is not numerically
    positive definite, each is symmetrised and its eigenvalues in
    ``[-psd_tol * max, floor * max]`` clipped to ``floor * max``; a clearly
    indefinite matrix raises :class:`CRLError` naming ``names[k]``.
    """
    S = (S + np.swapaxes(S, -1, -2)) / 2
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        pass
    out = np.empty_like(S)
    for k, M in enumerate(S):
        L = reverse_cholesky(M[::-1, ::-1], what=names[k], psd_tol=psd_tol, floor=floor)
        # M' = L^T L with L lower for the flipped matrix  =>  M = (P L^T P)(P L P), P L^T P lower
        out[k] = L.T[::-1, ::-1]
    return out


def normalise_rows(H: np.ndarray):
    """Divide each row by its signed largest-magnitude entry; returns (normalised H, divisors)."""
    idx = np.argmax(np.abs(H), axis=1)
    c = H[np.arange(H.shape[0]), idx]
    return H / c[:, None], c
