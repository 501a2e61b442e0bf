"""Canonical directions of features with the actions: the linear encoder that Rep4Ex's invariance fixes.

Used by :class:`crl.rep4ex.Rep4ExLinear` (the representation itself) and by
``Rep4Ex(encoder_init="cca")`` (the start of the encoder's linear part).
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError

__all__ = ["canonical_directions"]


def _inverse_sqrt(S: np.ndarray, tol: float) -> np.ndarray:
    """``K`` with ``K.T @ S @ K = I`` on the range of ``S`` (eigenvalues below ``tol * max`` dropped)."""
    vals, vecs = np.linalg.eigh(S)
    keep = vals > tol * max(float(vals[-1]), 0.0)
    return vecs[:, keep] / np.sqrt(vals[keep])


def canonical_directions(X: np.ndarray, A: np.ndarray, d: int, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """First ``d`` canonical directions of ``X`` with ``A`` (closed-form CCA).

    Parameters
    ----------
    X : ndarray of shape (n, p)
    A : ndarray of shape (n, k)
    d : int
        Directions kept; at most the ranks of ``X`` and ``A``.
    tol : float
        Relative eigenvalue cut of the covariances (a pseudo-inverse, so a
        rank-deficient ``X`` is handled exactly).

    Returns
    -------
    W : ndarray of shape (p, d)
        ``(X - X.mean(0)) @ W`` has identity covariance; the sign of each
        column is fixed so that its largest loading is positive.
    rho : ndarray of shape (d,)
        The canonical correlations, descending, in [0, 1].
    """
    n = len(X)
    Xc, Ac = X - X.mean(0), A - A.mean(0)
    Kx = _inverse_sqrt(Xc.T @ Xc / n, tol)
    Ka = _inverse_sqrt(Ac.T @ Ac / n, tol)
    if Kx.shape[1] < d or Ka.shape[1] < d:
        raise ValidationError(
            f"n_latents: expected at most the ranks of X ({Kx.shape[1]}) and of the actions ({Ka.shape[1]}), got {d}"
        )
    U, s, _ = np.linalg.svd(Kx.T @ (Xc.T @ Ac / n) @ Ka, full_matrices=False)
    W = Kx @ U[:, :d]
    W *= np.where(W[np.abs(W).argmax(0), np.arange(d)] < 0, -1.0, 1.0)  # SVD's signs are arbitrary
    return W, np.clip(s[:d], 0.0, 1.0)
