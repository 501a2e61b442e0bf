"""Mixing functions from latents ``Z`` (n, d) to observations ``X`` (n, p).

All mixings here are injective, so ``Z`` can be reconstructed from ``X``:

- :func:`linear_mixing`: ``X = Z @ G.T`` with ``G`` (p, d) of full column rank
  and a bounded condition number.
- :class:`InvertibleMLP`: a linear injection into ``R^p`` followed by square,
  well-conditioned leaky-ReLU layers (each layer invertible).
- :class:`PolynomialMixing`: ``X = phi(Z) @ C.T`` where ``phi`` stacks all
  monomials of degree 1..``degree``; injective because ``phi`` contains ``Z``
  and ``C`` has full column rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_array, check_float, check_int, check_random_state

__all__ = [
    "linear_mixing",
    "InvertibleMLP",
    "invertible_mlp",
    "PolynomialMixing",
    "polynomial_mixing",
    "monomial_exponents",
]


def _check_dims(d, p):
    d = check_int(d, "d", minimum=1)
    p = d if p is None else check_int(p, "p", minimum=1)
    if p < d:
        raise ValidationError(f"p: an injective mixing needs p >= d; got d={d} latents and p={p} observed")
    return d, p


def linear_mixing(d: int, p: int | None = None, *, max_condition: float = 10.0, max_tries: int = 1000,
                  random_state=None) -> np.ndarray:
    """Draw a full-column-rank mixing matrix ``G`` (p, d) with ``cond(G) <= max_condition``.

    Entries are N(0, 1/d); draws above the condition bound are rejected
    (for square ``G`` the typical condition number grows with d, so the bound
    matters most there).

    Returns
    -------
    G : ndarray of shape (p, d)
        ``X = Z @ G.T``.
    """
    d, p = _check_dims(d, p)
    max_condition = check_float(max_condition, "max_condition", minimum=1.0, strict_min=True)
    rng = check_random_state(random_state)
    for _ in range(max_tries):
        G = rng.normal(0.0, 1.0 / np.sqrt(d), (p, d))
        if np.linalg.cond(G) <= max_condition:
            return G
    raise ValidationError(
        f"max_condition: no {p}x{d} Gaussian matrix with condition number <= {max_condition} "
        f"in {max_tries} draws; raise max_condition"
    )


def _condition_threshold(p, quantile, rng, n_draws=1000):
    conds = [np.linalg.cond(_layer(p, rng)) for _ in range(n_draws)]
    return float(np.quantile(conds, quantile))


def _layer(p, rng):
    W = rng.uniform(-1.0, 1.0, (p, p))
    return W / np.linalg.norm(W, axis=0, keepdims=True)


@dataclass(frozen=True)
class InvertibleMLP:
    """An injective MLP ``R^d -> R^p``: ``x = L_k ∘ σ ∘ ... ∘ σ ∘ L_1 (G z)``.

    Attributes
    ----------
    G : ndarray of shape (p, d)
        Linear injection (full column rank).
    layers : tuple of ndarray of shape (p, p)
        Square invertible layers; a leaky ReLU precedes each one.
    slope : float
        Negative slope of the leaky ReLU (0 < slope < 1 keeps it invertible).
    """

    G: np.ndarray
    layers: tuple
    slope: float = 0.2

    @property
    def d(self) -> int:
        return int(self.G.shape[1])

    @property
    def p(self) -> int:
        return int(self.G.shape[0])

    def __call__(self, Z) -> np.ndarray:
        """Map latents (n, d) to observations (n, p)."""
        H = np.asarray(Z, dtype=float) @ self.G.T
        for W in self.layers:
            H = np.where(H > 0, H, self.slope * H) @ W.T
        return H

    def inverse(self, X) -> np.ndarray:
        """Recover latents (n, d) from observations (n, p) in the image of the map."""
        H = np.asarray(X, dtype=float)
        for W in reversed(self.layers):
            H = np.linalg.solve(W, H.T).T
            H = np.where(H > 0, H, H / self.slope)
        Z, *_ = np.linalg.lstsq(self.G, H.T, rcond=None)
        return Z.T

    def jacobian(self, z) -> np.ndarray:
        """Jacobian ``dx/dz`` (p, d) at one point ``z`` (d,)."""
        h = self.G @ np.asarray(z, dtype=float)
        J = self.G.copy()
        for W in self.layers:
            J = W @ (np.where(h > 0, 1.0, self.slope)[:, None] * J)
            h = W @ np.where(h > 0, h, self.slope * h)
        return J


def invertible_mlp(
    d: int,
    p: int | None = None,
    *,
    n_layers: int = 3,
    slope: float = 0.2,
    condition_quantile: float = 0.25,
    max_condition: float = 10.0,
    max_tries: int = 10000,
    random_state=None,
) -> InvertibleMLP:
    """Draw an :class:`InvertibleMLP` with condition-number rejection sampling.

    Each square layer has U(-1, 1) weights with unit-norm columns and is
    redrawn until its condition number is below the ``condition_quantile``
    quantile of 1 000 reference draws (the multi-view reference uses a far
    stricter 0.1 % of 25 000 on GPUs; 25 % keeps generation instant while
    removing the badly conditioned tail). The injection ``G`` uses
    :func:`linear_mixing`.

    Parameters
    ----------
    d : int
        Latent dimension.
    p : int, optional
        Observed dimension (default ``d``), ``p >= d``.
    n_layers : int
        Number of square nonlinear layers (0 gives a linear mixing).
    slope : float in (0, 1)
        Leaky-ReLU negative slope.
    condition_quantile : float in (0, 1]
    max_condition : float
        Condition bound of the linear injection.
    random_state : None, int or Generator
    """
    d, p = _check_dims(d, p)
    n_layers = check_int(n_layers, "n_layers", minimum=0)
    slope = check_float(slope, "slope", minimum=0.0, maximum=1.0, strict_min=True)
    q = check_float(condition_quantile, "condition_quantile", minimum=0.0, maximum=1.0, strict_min=True)
    rng = check_random_state(random_state)
    G = linear_mixing(d, p, max_condition=max_condition, random_state=rng)
    layers = []
    if n_layers:
        threshold = _condition_threshold(p, q, rng) if p > 1 else np.inf
        for _ in range(n_layers):
            for _ in range(max_tries):
                W = _layer(p, rng)
                if np.linalg.cond(W) <= threshold:
                    break
            else:  # pragma: no cover - the quantile makes rejection cheap
                raise ValidationError(f"condition_quantile: no layer accepted in {max_tries} draws")
            layers.append(W)
    return InvertibleMLP(G=G, layers=tuple(layers), slope=slope)


def monomial_exponents(d: int, degree: int) -> np.ndarray:
    """Exponent vectors of all monomials of degree 1..``degree`` in ``d`` variables.

    Returns
    -------
    ndarray of shape (n_features, d), int
        The first ``d`` rows are the identity (the linear monomials).
    """
    rows = []
    for k in range(1, degree + 1):
        for combo in combinations_with_replacement(range(d), k):
            e = np.zeros(d, dtype=np.int64)
            np.add.at(e, list(combo), 1)
            rows.append(e)
    return np.vstack(rows)


@dataclass(frozen=True)
class PolynomialMixing:
    """``X = phi(Z) @ C.T`` with ``phi`` the monomials of degree 1..``degree``.

    Attributes
    ----------
    C : ndarray of shape (p, n_features)
        Full column rank, so ``phi(Z)`` (and hence ``Z``) is recovered by least squares.
    exponents : ndarray of shape (n_features, d)
    """

    C: np.ndarray
    exponents: np.ndarray

    @property
    def d(self) -> int:
        return int(self.exponents.shape[1])

    @property
    def degree(self) -> int:
        return int(self.exponents.sum(axis=1).max())

    def features(self, Z) -> np.ndarray:
        """Monomial features (n, n_features)."""
        Z = np.asarray(Z, dtype=float)
        return np.prod(Z[:, None, :] ** self.exponents[None, :, :], axis=2)

    def __call__(self, Z) -> np.ndarray:
        return self.features(Z) @ self.C.T

    def inverse(self, X) -> np.ndarray:
        """Recover ``Z`` (n, d) from ``X`` in the image (reads off the linear monomials)."""
        F, *_ = np.linalg.lstsq(self.C, np.asarray(X, dtype=float).T, rcond=None)
        return F.T[:, : self.d]


def polynomial_mixing(
    d: int,
    p: int,
    *,
    degree: int = 2,
    Z_reference=None,
    nonlinear_ratio: float = 2.0,
    random_state=None,
) -> PolynomialMixing:
    """Draw a :class:`PolynomialMixing` (Ahuja et al. 2023's generator).

    ``C`` has N(0, 1) entries. When ``Z_reference`` is given, the columns of
    degree >= 2 are rescaled so that ``max |x_nonlinear| = nonlinear_ratio *
    max |x_linear|`` on it (the reference's balancing of the two parts).

    Parameters
    ----------
    d, p : int
        Latent and observed dimensions; ``p`` must be at least the number of
        monomials so that ``C`` has full column rank.
    degree : int in {1, 2, 3}
    Z_reference : ndarray of shape (n, d), optional
    nonlinear_ratio : float
    random_state : None, int or Generator
    """
    d = check_int(d, "d", minimum=1)
    degree = check_int(degree, "degree", minimum=1, maximum=3)
    exps = monomial_exponents(d, degree)
    p = check_int(p, "p", minimum=1)
    if p < exps.shape[0]:
        raise ValidationError(
            f"p: an injective degree-{degree} polynomial mixing of d={d} latents needs "
            f"p >= {exps.shape[0]} (the number of monomials), got p={p}"
        )
    rng = check_random_state(random_state)
    C = rng.normal(0.0, 1.0, (p, exps.shape[0]))
    if Z_reference is not None and degree > 1:
        Zr = check_array(Z_reference, "Z_reference")
        mix = PolynomialMixing(C, exps)
        F = mix.features(Zr)
        lin = np.abs(F[:, :d] @ C[:, :d].T).max()
        nonlin = np.abs(F[:, d:] @ C[:, d:].T).max()
        if nonlin > 0:
            C[:, d:] *= nonlinear_ratio * lin / nonlin
    return PolynomialMixing(C, exps)
