"""The maximum-moment-restriction (MMR) penalty of the linear invariance constraint.

For encoded latents ``z_i = phi(x_i)`` and actions ``a_i`` of one batch, the
constraint ``E[phi(X) - M A - c | A] = 0`` is tested with the kernel
maximum-moment loss (rep4ex.md §3.1)::

    r_i = z_i - M_hat a_i - c_hat              (batch OLS, differentiable in z)
    MMR = 1/(b(b-1)) sum_{i != j} k(a_i, a_j) r_i^T r_j

- the U-statistic (``i != j``) drops the V-statistic's diagonal, which would
  penalise the residual variance, legitimate signal from V (pitfall 3). The
  batch OLS makes the residuals of one batch correlated, though
  (``r = (I - H) e`` with the hat matrix ``H``), which biases the plain
  U-statistic *downwards* by about ``tr Cov(r) (tr(K H) - k - 1) / b^2``:
  with standardised latents, d = 2 and b = 256 that is -0.005 per batch
  (the per-batch standard deviation is 0.0004), so minimising it rewards
  residual variance, i.e. latents that the actions do not explain. The
  default ``statistic="unbiased"`` subtracts the null expectation instead
  of the diagonal: ``[r^T K r - ||R||^2 / (b - k - 1) * tr(K (I - H))] / (b(b-1))``,
  exactly unbiased when the residuals are homoskedastic, as they are for an
  encoder that satisfies the constraint (``r = H0 (V - E V)``, independent of A);
- the sum runs over all latent coordinates (the trace), not entry [0, 0] (pitfall 4);
- ``M_hat`` is solved in closed form inside the graph, so gradients flow
  through it (pitfall 5);
- ``z`` is standardised per coordinate within the batch, so shrinking the
  encoder's output cannot lower the penalty (scale collapse, pitfall 1);
- the Gaussian kernel's bandwidth defaults to the median heuristic (pitfall 7).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from crl.exceptions import ValidationError
from crl.validation import check_array, check_float, check_random_state

__all__ = [
    "median_bandwidth",
    "resolve_bandwidth",
    "gaussian_kernel",
    "ols_residuals",
    "BatchKernel",
    "batch_kernel",
    "batch_residuals",
    "mmr_penalty",
    "STATISTICS",
]


def median_bandwidth(actions, *, max_rows: int = 2000, random_state=0) -> float:
    """Median pairwise Euclidean distance between action rows (on at most ``max_rows`` rows)."""
    A = check_array(actions, "actions", ndim=(1, 2), min_rows=2)
    A = A.reshape(len(A), -1)
    if len(A) > max_rows:
        A = A[check_random_state(random_state).choice(len(A), max_rows, replace=False)]
    diff = A[:, None, :] - A[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))[np.triu_indices(len(A), k=1)]
    med = float(np.median(dist))
    if not med > 0:
        raise ValidationError("actions: the median distance between action rows is 0; the actions barely vary")
    return med


def resolve_bandwidth(kernel_bandwidth, actions, *, random_state=0) -> tuple[float, ...]:
    """``"median"`` -> the median heuristic; a positive number or a sequence of them (a kernel mixture).

    A string like ``"median*0.5"`` scales the median heuristic.
    """
    if isinstance(kernel_bandwidth, str):
        name, _, factor = kernel_bandwidth.partition("*")
        if name.strip() != "median":
            raise ValidationError(
                f"kernel_bandwidth: expected 'median', 'median*FACTOR', a positive number or a list of them, "
                f"got {kernel_bandwidth!r}"
            )
        try:
            scale = float(factor) if factor else 1.0
        except ValueError:
            raise ValidationError(f"kernel_bandwidth: bad factor in {kernel_bandwidth!r}") from None
        scale = check_float(scale, "kernel_bandwidth factor", minimum=0.0, strict_min=True)
        return (scale * median_bandwidth(actions, random_state=random_state),)
    if isinstance(kernel_bandwidth, numbers.Real) and not isinstance(kernel_bandwidth, bool):
        return (check_float(kernel_bandwidth, "kernel_bandwidth", minimum=0.0, strict_min=True),)
    if isinstance(kernel_bandwidth, Sequence) and kernel_bandwidth:
        out = []
        for i, h in enumerate(kernel_bandwidth):
            out.extend(resolve_bandwidth(h, actions, random_state=random_state) if isinstance(h, str)
                       else (check_float(h, f"kernel_bandwidth[{i}]", minimum=0.0, strict_min=True),))
        return tuple(out)
    raise ValidationError(
        f"kernel_bandwidth: expected 'median', a positive number or a list of them, got {kernel_bandwidth!r}"
    )


def gaussian_kernel(actions: torch.Tensor, bandwidth: float | Sequence[float]) -> torch.Tensor:
    """``K_ij = mean_h exp(-||a_i - a_j||^2 / (2 h^2))`` over the bandwidths ``h``."""
    widths = (bandwidth,) if isinstance(bandwidth, numbers.Real) else tuple(bandwidth)
    sq = (actions[:, None, :] - actions[None, :, :]).pow(2).sum(-1)
    return sum(torch.exp(-sq / (2.0 * h * h)) for h in widths) / len(widths)


def ols_residuals(latents: torch.Tensor, actions: torch.Tensor, *, eps: float = 1e-6):
    """Residuals and coefficients of the OLS of ``latents`` (b, d) on ``[actions, 1]`` (b, k + 1).

    Solved as ``(A~^T A~ + eps I)^{-1} A~^T Z`` with ``torch.linalg.solve``, so
    the result is differentiable in ``latents``.

    Returns
    -------
    residuals : tensor (b, d)
    coef : tensor (k + 1, d)
        ``coef[:k].T`` is ``M_hat`` (d, k), ``coef[k]`` the intercept.
    """
    design, gram = _design(actions, eps)
    coef = torch.linalg.solve(gram, design.T @ latents)
    return latents - design @ coef, coef


def _design(actions, eps):
    ones = torch.ones(len(actions), 1, dtype=actions.dtype, device=actions.device)
    design = torch.cat([actions, ones], dim=1)
    gram = design.T @ design + eps * torch.eye(design.shape[1], dtype=design.dtype, device=design.device)
    return design, gram


STATISTICS = ("unbiased", "u", "v")


@dataclass
class BatchKernel:
    """What the penalty of one batch needs from its actions alone (see :func:`batch_kernel`).

    Attributes
    ----------
    K : tensor (b, b)
        Gaussian kernel of the batch's actions.
    design : tensor (b, k + 1)
        ``[actions, 1]``.
    gram : tensor (k + 1, k + 1)
        ``design^T design + eps I``.
    """

    K: torch.Tensor
    design: torch.Tensor
    gram: torch.Tensor
    _traces: dict = field(default_factory=dict, repr=False)

    def residual_trace(self, moment: int) -> torch.Tensor:
        """``tr(K (I - H))`` for the hat matrix ``H`` of the OLS behind the residuals of ``moment`` (1 or 2).

        The residuals of the first moment come from the OLS on ``design``,
        the centred second moments from the intercept-only OLS. Computed once
        per batch and kept.
        """
        if moment not in self._traces:
            with torch.no_grad():
                design, gram = (self.design, self.gram) if moment == 1 else _intercept(self.design)
                tr_kh = torch.trace(torch.linalg.solve(gram, design.T @ self.K @ design))
                self._traces[moment] = torch.trace(self.K) - tr_kh
        return self._traces[moment]


def batch_kernel(actions: torch.Tensor, bandwidth: float | Sequence[float], *, eps: float = 1e-6) -> BatchKernel:
    """The action-only parts of :func:`mmr_penalty` for one batch, to reuse on a batch that recurs.

    The validation split is scored in the same fixed batches after every
    epoch; computing their kernels once removes most of the cost of early
    stopping (a 2000-row validation batch spent about 0.1 s per epoch on its
    kernel). The penalty is bit-for-bit the one computed without it.

    Parameters
    ----------
    actions : tensor (b, k)
    bandwidth : float or sequence of float
    eps : float
        Ridge on the OLS normal equations (as in :func:`mmr_penalty`).
    """
    design, gram = _design(actions, eps)
    with torch.no_grad():
        K = gaussian_kernel(actions, bandwidth)
    return BatchKernel(K, design, gram)


def batch_residuals(latents: torch.Tensor, parts: BatchKernel, *, standardize: bool = True) -> torch.Tensor:
    """Residuals (b, d) of the batch OLS of ``latents`` on ``[actions, 1]``, differentiable in ``latents``.

    With ``standardize`` each latent coordinate is standardised within the
    batch first, so rescaling the encoder's output cannot change them (pitfall 1).
    """
    z = latents
    if standardize:
        z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-8)
    return z - parts.design @ torch.linalg.solve(parts.gram, parts.design.T @ z)


def _intercept(design):
    ones = design[:, -1:]
    return ones, ones.T @ ones


def mmr_penalty(
    latents: torch.Tensor,
    actions: torch.Tensor,
    bandwidth: float | Sequence[float],
    *,
    kernel: torch.Tensor | BatchKernel | None = None,
    standardize: bool = True,
    statistic: str = "unbiased",
    eps: float = 1e-6,
    moments: int = 1,
) -> torch.Tensor:
    """The MMR estimate of ``E[k(A, A') r^T r']`` on one batch (a scalar tensor).

    Parameters
    ----------
    latents : tensor (b, d)
        Encoded batch; gradients flow through the standardisation and the OLS.
    actions : tensor (b, k)
    bandwidth : float or sequence of float
        Gaussian kernel bandwidth(s) on the actions.
    kernel : tensor (b, b) or BatchKernel, optional
        A precomputed kernel matrix of ``actions``, or all the action-only
        parts of the batch (:func:`batch_kernel`); they must come from the
        same ``actions`` and ``eps``.
    standardize : bool
        Standardise each latent coordinate within the batch first (default; pitfall 1).
    statistic : {"unbiased", "u", "v"}
        ``"unbiased"`` (default): the U-statistic corrected for the degrees of
        freedom of the batch OLS (mean 0 under the constraint, see the
        module docstring); ``"u"``: the plain U-statistic (``i != j``; biased
        downwards by the batch OLS); ``"v"``: all pairs (biased upwards by
        the residual variance). The last two are for comparison only.
    eps : float
        Ridge on the OLS normal equations.
    moments : {1, 2}
        1 (default, the paper's restriction): the conditional mean of the
        residuals. 2: add the same statistic for the centred second moments
        ``s_i = vech(r_i r_i^T) - mean(s)``, i.e. ``E[r r^T | A]`` constant.
        The model implies it (``r = H (V - E V)`` with ``V`` independent of
        ``A``), and it sees distortions that the mean misses: a Gaussian ``V``
        smooths ``E[h(M0 a + V)]`` so strongly that wiggly non-affine encoders
        keep a conditional mean affine in ``a`` while their conditional
        variance still moves with ``a`` (see :class:`crl.rep4ex.Rep4Ex`).
    """
    b = latents.shape[0]
    if b < 2 or actions.shape[0] != b:
        raise ValidationError(f"latents: expected a batch of >= 2 rows matching actions, got {b} and {actions.shape[0]}")
    if statistic not in STATISTICS:
        raise ValidationError(f"statistic: expected one of {list(STATISTICS)}, got {statistic!r}")
    if moments not in (1, 2):
        raise ValidationError(f"moments: expected 1 or 2, got {moments!r}")
    if isinstance(kernel, BatchKernel):
        if kernel.K.shape[0] != b:
            raise ValidationError(f"kernel: expected the parts of a batch of {b} rows, got {kernel.K.shape[0]}")
        parts = kernel
    else:
        design, gram = _design(actions, eps)
        parts = BatchKernel(gaussian_kernel(actions, bandwidth) if kernel is None else kernel, design, gram)
    design, K = parts.design, parts.K
    r = batch_residuals(latents, parts, standardize=standardize)
    out = _kernel_moment(r, K, design.shape[1], statistic, lambda: parts.residual_trace(1))
    if moments == 2:
        rows, cols = torch.triu_indices(r.shape[1], r.shape[1], device=r.device)
        sec = r[:, rows] * r[:, cols]
        sec = sec - sec.mean(0)  # the intercept-only OLS: a constant second moment is allowed
        out = out + _kernel_moment(sec, K, 1, statistic, lambda: parts.residual_trace(2))
    return out


def _kernel_moment(r, K, p, statistic, residual_trace):
    """``sum_{i != j} K_ij r_i^T r_j / (b(b-1))`` for residuals ``r`` of an OLS on ``p`` columns, bias-corrected per ``statistic``.

    ``residual_trace()`` gives ``tr(K (I - H))``, needed by the unbiased statistic only.
    """
    b = r.shape[0]
    total = (K * (r @ r.T)).sum()
    if statistic == "v":
        return total / (b * b)
    sq = (r * r).sum(1)
    if statistic == "u":
        return (total - (K.diagonal() * sq).sum()) / (b * (b - 1))
    if b <= p:
        raise ValidationError(f"latents: the unbiased statistic needs a batch larger than k + 1 = {p}, got {b}")
    return (total - sq.sum() / (b - p) * residual_trace()) / (b * (b - 1))
