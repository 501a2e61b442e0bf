"""Exogenous noise distributions, standardised to zero mean and a given standard deviation."""

from __future__ import annotations

import numpy as np

from crl.validation import check_choice, check_random_state

__all__ = ["NOISE_KINDS", "sample_noise", "is_gaussian"]

#: Noise families. All are centred and scaled to unit variance before ``scale`` applies.
NOISE_KINDS = ("gaussian", "uniform", "laplace", "exponential", "power_gaussian", "gumbel")


def is_gaussian(kind: str) -> bool:
    """True for the Gaussian family (second-order methods only; cumulant methods fail)."""
    return kind == "gaussian"


def sample_noise(kind: str, size, random_state=None, *, scale=1.0, power: float = 1.8) -> np.ndarray:
    """Draw centred noise with standard deviation ``scale``.

    Parameters
    ----------
    kind : {"gaussian", "uniform", "laplace", "exponential", "power_gaussian", "gumbel"}
        ``"exponential"`` is a centred Exp(1) (skewed); ``"power_gaussian"`` is
        ``sign(e) |e| ** power`` for standard normal ``e`` (heavy-tailed,
        symmetric), the non-Gaussian noise of the LiNGAM literature.
    size : int or tuple of int
        Output shape; ``scale`` broadcasts against it (e.g. one std per column).
    random_state : None, int or Generator
    scale : float or array_like
        Standard deviation(s) of the output.
    power : float
        Exponent of ``"power_gaussian"``.

    Returns
    -------
    ndarray of shape ``size``
    """
    check_choice(kind, "noise", NOISE_KINDS)
    rng = check_random_state(random_state)
    if kind == "gaussian":
        e = rng.standard_normal(size)
    elif kind == "uniform":
        e = rng.uniform(-np.sqrt(3.0), np.sqrt(3.0), size)
    elif kind == "laplace":
        e = rng.laplace(0.0, 1.0 / np.sqrt(2.0), size)
    elif kind == "exponential":
        e = rng.exponential(1.0, size) - 1.0
    elif kind == "gumbel":
        e = (rng.gumbel(0.0, 1.0, size) - np.euler_gamma) * (np.sqrt(6.0) / np.pi)
    else:  # power_gaussian: E|e|^(2q) = 2^q Gamma(q + 1/2) / sqrt(pi)
        from scipy.special import gamma

        g = rng.standard_normal(size)
        e = np.sign(g) * np.abs(g) ** power
        e /= np.sqrt(2.0**power * gamma(power + 0.5) / np.sqrt(np.pi))
    return e * np.asarray(scale, dtype=float)
