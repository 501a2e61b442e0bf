"""A batch penalty for the independence of the encoded residuals from the actions.

The model's ``V`` is independent of ``A``, so an encoder that recovers ``Z``
up to an affine map leaves batch OLS residuals on ``[A, 1]`` that are
independent of the actions, not only mean- (and variance-) independent as
the MMR penalty of :mod:`crl.rep4ex.mmr` requires. The penalty here is the
unbiased HSIC between the actions and the **whitened** residuals, so that the
encoder cannot lower it by rescaling or rotating its output. It is the
training-time counterpart of :func:`crl.rep4ex.selection.residual_dependence`
(a project extension, not the paper's method).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from crl.exceptions import ValidationError
from crl.rep4ex.mmr import BatchKernel, batch_kernel, batch_residuals

__all__ = ["hsic_unbiased", "residual_hsic"]


def hsic_unbiased(K: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """The unbiased HSIC estimator of two kernel matrices (Song et al., JMLR 2012, eq. 5).

    Parameters
    ----------
    K, L : tensor (b, b)
        Kernel matrices of the same ``b >= 4`` rows; the diagonals are ignored.

    Returns
    -------
    scalar tensor
        Mean zero under independence (it can be negative); differentiable in both.
    """
    b = K.shape[0]
    if b < 4 or K.shape != (b, b) or L.shape != (b, b):
        raise ValidationError(f"K, L: expected two b x b kernel matrices with b >= 4, got {tuple(K.shape)} and "
                              f"{tuple(L.shape)}")
    # the sums over the kernels with zeroed diagonals, without building them
    kd, ld = K.diagonal(), L.diagonal()
    k1, l1 = K.sum(1) - kd, L.sum(1) - ld
    total = ((K * L).sum() - (kd * ld).sum() + k1.sum() * l1.sum() / ((b - 1) * (b - 2))
             - 2.0 / (b - 2) * (k1 * l1).sum())
    return total / (b * (b - 3))


def residual_hsic(
    latents: torch.Tensor,
    actions: torch.Tensor,
    bandwidth: float | Sequence[float],
    *,
    kernel: BatchKernel | None = None,
    eps: float = 1e-6,
    whiten_ridge: float = 1e-4,
) -> torch.Tensor:
    """Unbiased HSIC between the actions and the whitened OLS residuals of one batch's latents.

    Parameters
    ----------
    latents : tensor (b, d)
        Encoded batch; gradients flow through the standardisation, the OLS,
        the whitening and the residual kernel.
    actions : tensor (b, k)
    bandwidth : float or sequence of float
        Gaussian-kernel bandwidth(s) on the actions (as in the MMR penalty).
    kernel : BatchKernel, optional
        The action-only parts of the batch (:func:`crl.rep4ex.mmr.batch_kernel`).
    eps : float
        Ridge on the OLS normal equations.
    whiten_ridge : float
        Added to the residual covariance (of standardised latents) before
        whitening, so a nearly collinear residual cannot blow up.

    Returns
    -------
    scalar tensor
        The residual kernel is Gaussian with squared bandwidth the batch's
        median squared distance (computed without gradient), as in
        :func:`crl.rep4ex.selection.residual_dependence`.
    """
    b, d = latents.shape
    if actions.shape[0] != b or b < 4:
        raise ValidationError(f"latents: expected a batch of >= 4 rows matching actions, got {b} and {actions.shape[0]}")
    parts = batch_kernel(actions, bandwidth, eps=eps) if kernel is None else kernel
    r = batch_residuals(latents, parts)
    cov = r.T @ r / b + whiten_ridge * torch.eye(d, dtype=r.dtype, device=r.device)
    rw = torch.linalg.solve_triangular(torch.linalg.cholesky(cov), r.T, upper=False).T
    norms = rw.pow(2).sum(1)
    sq = (norms.unsqueeze(1) + norms.unsqueeze(0) - 2.0 * rw @ rw.T).clamp_min(0.0)
    with torch.no_grad():
        med = sq[_upper(b, sq.device)].median().clamp_min(1e-12)
    return hsic_unbiased(parts.K, torch.exp(-sq / med))


@lru_cache(maxsize=8)
def _upper(b: int, device) -> torch.Tensor:
    """Mask of the strict upper triangle of a b x b matrix (the batch size repeats every step)."""
    return torch.ones(b, b, dtype=torch.bool, device=device).triu(1)
