"""Restart selection for Rep4Ex: how far encoded residuals are from independent of the actions.

The model says ``Z = M0 A + V`` with ``V`` independent of ``A``; an encoder
that recovers ``Z`` up to an affine map leaves OLS residuals on ``[A, 1]``
that are (up to the estimation of ``M``) an invertible linear map of ``V``,
hence independent of ``A``. The MMR penalty of :mod:`crl.rep4ex.mmr` tests
one or two conditional moments of that independence; the statistic here
tests all of it, so it can rank stage-1 restarts that pass the moment
restrictions equally well. It reads neither latents nor the outcome.
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_array, check_int, check_random_state

__all__ = ["residual_dependence"]


def _centred_gram(X: np.ndarray) -> np.ndarray:
    # Gaussian kernel, squared bandwidth = median squared distance (the median heuristic on d^2)
    sq = (X * X).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * X @ X.T, 0.0)
    med = float(np.median(d2[np.triu_indices(len(X), k=1)]))
    K = np.exp(-d2 / med) if med > 0 else np.ones_like(d2)
    return K - K.mean(0) - K.mean(1)[:, None] + K.mean()


def residual_dependence(latents, actions, *, max_rows: int = 2000, random_state=0) -> float:
    """Normalised HSIC between the actions and the whitened OLS residuals of the latents on them.

    Parameters
    ----------
    latents : array_like (n, d)
        Encoded rows (held out from training).
    actions : array_like (n, k)
    max_rows : int
        Rows used (a random subset beyond it): the statistic costs O(n²) memory.
    random_state : int or numpy Generator
        Picks the subset.

    Returns
    -------
    float in [0, 1]
        ``<K̃_r, K̃_a>_F / (||K̃_r||_F ||K̃_a||_F)`` for centred Gaussian kernel
        matrices of the residuals and the actions (centred kernel alignment,
        a normalised HSIC); 0 when they are independent, up to sampling.
        Residuals are whitened first, so the value does not change under an
        invertible affine map of the latents: it scores the representation,
        not its coordinates.
    """
    Z = check_array(latents, "latents", ndim=(1, 2), min_rows=3)
    Z = Z.reshape(len(Z), -1)
    A = check_array(actions, "actions", ndim=(1, 2), min_rows=3)
    A = A.reshape(len(A), -1)
    if len(A) != len(Z):
        raise ValidationError(f"actions: expected {len(Z)} rows like latents, got {len(A)}")
    max_rows = check_int(max_rows, "max_rows", minimum=3)
    if len(Z) > max_rows:
        rows = np.sort(check_random_state(random_state).choice(len(Z), max_rows, replace=False))
        Z, A = Z[rows], A[rows]
    design = np.c_[A, np.ones(len(A))]
    R = Z - design @ np.linalg.lstsq(design, Z, rcond=None)[0]
    w, U = np.linalg.eigh(np.atleast_2d(np.cov(R.T)))
    if not w[0] > 1e-12 * max(w[-1], 1e-300):
        raise ValidationError("latents: the residuals on the actions are (nearly) collinear; the encoder has collapsed")
    R = R @ U / np.sqrt(w)
    Kr, Ka = _centred_gram(R), _centred_gram(A)
    return float((Kr * Ka).sum() / np.sqrt((Kr * Kr).sum() * (Ka * Ka).sum()))
