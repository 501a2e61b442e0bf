"""Latent structural causal models: linear, additive nonlinear, location-scale.

An :class:`SCM` over ``d`` variables generates, in causal order,

    Z_j = c_j + loc_j(Z_pa(j)) + scale_j(Z_pa(j)) * sigma_j * eps_j,

with ``eps_j`` independent, centred, unit-variance noise of family ``noise``.

- ``kind="linear"``: ``loc_j = sum_i W[i, j] Z_i`` and ``scale_j = 1``.
- ``kind="additive"``: ``loc_j`` is a random one-hidden-layer tanh network of
  the parents (bounded, so values never blow up along long chains).
- ``kind="location_scale"``: additive, and ``scale_j`` is a random positive
  bounded function of the parents (heteroscedastic noise).

Adjacency convention: ``adjacency[i, j] = 1`` iff ``i -> j``; ``W[i, j]`` is
the coefficient of ``i`` in the equation of ``j``. Interventions
(:mod:`simulators.interventions`) return modified copies of an SCM, so each
environment is itself an SCM.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_int, check_interval, check_random_state
from simulators.dags import causal_order, check_dag, random_dag, sample_weights
from simulators.noise import NOISE_KINDS, sample_noise

__all__ = ["SCM_KINDS", "SCM", "linear_scm", "nonlinear_scm", "random_mechanism", "sample_scm"]

SCM_KINDS = ("linear", "additive", "location_scale")


@dataclass(frozen=True)
class Mechanism:
    """A random bounded function of the parents: ``out @ tanh(Z_pa @ w_in + b)``.

    Attributes
    ----------
    parents : ndarray of int, shape (k,)
    w_in : ndarray of shape (k, h)
    bias : ndarray of shape (h,)
    w_out : ndarray of shape (h,)
    """

    parents: np.ndarray
    w_in: np.ndarray
    bias: np.ndarray
    w_out: np.ndarray

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        if self.parents.size == 0:
            return np.zeros(Z.shape[0])
        return np.tanh(Z[:, self.parents] @ self.w_in + self.bias) @ self.w_out


def random_mechanism(parents, *, hidden: int = 16, gain: float = 1.5, random_state=None) -> Mechanism:
    """Draw a random :class:`Mechanism` with output standard deviation of order ``gain``.

    Input weights are N(0, 1/k) so that pre-activations of standardised
    parents are O(1) (the tanh is neither linear nor saturated); output
    weights are scaled to give ``sum |w_out| ~ 2 * gain``.
    """
    rng = check_random_state(random_state)
    parents = np.asarray(parents, dtype=np.int64)
    k = parents.size
    w_in = rng.normal(0.0, 1.0 / np.sqrt(max(k, 1)), (k, hidden)) * 2.0
    bias = rng.normal(0.0, 0.5, hidden)
    w_out = rng.normal(0.0, 1.0, hidden)
    w_out *= gain * np.sqrt(2.0) / max(np.linalg.norm(w_out), 1e-12)
    return Mechanism(parents, w_in, bias, w_out)


@dataclass(frozen=True)
class SCM:
    """A (possibly intervened) structural causal model over ``d`` variables.

    Attributes
    ----------
    adjacency : ndarray of shape (d, d), int
        ``adjacency[i, j] = 1`` iff ``i -> j`` (after interventions: the
        mutilated graph).
    kind : {"linear", "additive", "location_scale"}
    weights : ndarray of shape (d, d)
        Linear coefficients (``kind="linear"``), zero elsewhere.
    noise : str
        Noise family (see :data:`simulators.noise.NOISE_KINDS`).
    noise_std : ndarray of shape (d,)
        sigma_j, the standard deviation of each node's noise term.
    intercept : ndarray of shape (d,)
        c_j (mean shifts add here).
    loc : tuple of Mechanism or None
        Nonlinear location mechanisms (None for linear nodes).
    scale : tuple of Mechanism or None
        Log-scale mechanisms (location-scale kind), else None entries.
    fixed : ndarray of shape (d,)
        NaN, or the constant value of a node set by ``do(Z_j = value)``.
    """

    adjacency: np.ndarray
    kind: str
    weights: np.ndarray
    noise: str
    noise_std: np.ndarray
    intercept: np.ndarray
    loc: tuple = ()
    scale: tuple = ()
    fixed: np.ndarray = field(default=None)

    def __post_init__(self):
        d = self.adjacency.shape[0]
        if self.fixed is None:
            object.__setattr__(self, "fixed", np.full(d, np.nan))
        if not self.loc:
            object.__setattr__(self, "loc", (None,) * d)
        if not self.scale:
            object.__setattr__(self, "scale", (None,) * d)

    @property
    def d(self) -> int:
        """Number of variables."""
        return int(self.adjacency.shape[0])

    @property
    def order(self) -> np.ndarray:
        """A causal order of the variables."""
        return causal_order(self.adjacency)

    def with_(self, **changes) -> SCM:
        """A modified copy (arrays are copied by the caller)."""
        return replace(self, **changes)

    def sample(self, n: int, random_state=None, *, eps: np.ndarray | None = None):
        """Draw ``n`` samples.

        Parameters
        ----------
        n : int
        random_state : None, int or Generator
        eps : ndarray of shape (n, d), optional
            Standardised noise to use instead of fresh draws (shared noise
            gives counterfactual couplings across environments).

        Returns
        -------
        Z : ndarray of shape (n, d)
        eps : ndarray of shape (n, d)
            The standardised exogenous noise used.
        """
        n = check_int(n, "n", minimum=0)
        rng = check_random_state(random_state)
        if eps is None:
            eps = sample_noise(self.noise, (n, self.d), rng)
        elif eps.shape != (n, self.d):
            raise ValidationError(f"eps: expected shape {(n, self.d)}, got {eps.shape}")
        Z = np.zeros((n, self.d))
        for j in self.order:
            if not np.isnan(self.fixed[j]):
                Z[:, j] = self.fixed[j]
                continue
            mean = self.intercept[j] + Z @ self.weights[:, j]
            if self.loc[j] is not None:
                mean = mean + self.loc[j](Z)
            spread = self.noise_std[j]
            if self.scale[j] is not None:
                spread = spread * np.exp(self.scale[j](Z))
            Z[:, j] = mean + spread * eps[:, j]
        return Z, eps


def _graph(d, graph, edge_prob, expected_degree, n_edges, graph_kind, rng) -> np.ndarray:
    if graph is not None:
        A = check_dag(graph, "graph")
        if A.shape[0] != d:
            raise ValidationError(f"graph: expected shape ({d}, {d}) for d={d}, got {A.shape}")
        return (A != 0).astype(np.int64)
    return random_dag(
        d, n_edges=n_edges, expected_degree=expected_degree, edge_prob=edge_prob, kind=graph_kind, random_state=rng
    )


def linear_scm(
    d: int | None = None,
    *,
    graph=None,
    weights=None,
    edge_prob: float | None = None,
    expected_degree: float | None = None,
    n_edges: int | None = None,
    graph_kind: str = "er",
    weight_range=(0.5, 2.0),
    noise: str = "gaussian",
    noise_std=(0.5, 1.0),
    random_state=None,
) -> SCM:
    """A linear SCM ``Z_j = sum_i W[i, j] Z_i + sigma_j eps_j``.

    Parameters
    ----------
    d : int, optional
        Number of latents (inferred from ``graph``/``weights`` if given).
    graph : ndarray of shape (d, d), optional
        Binary adjacency (``graph[i, j]`` = i → j); must be acyclic. Drawn
        with :func:`simulators.dags.random_dag` when absent.
    weights : ndarray of shape (d, d), optional
        Coefficients (``W[i, j]`` = effect of i on j); overrides ``graph``.
    edge_prob, expected_degree, n_edges, graph_kind
        Passed to :func:`random_dag`.
    weight_range : (low, high)
        Edge weights are ±U(low, high).
    noise : str
        Noise family; one of :data:`simulators.noise.NOISE_KINDS`.
    noise_std : float or (low, high)
        Noise standard deviations, fixed or U(low, high) per node.
    random_state : None, int or Generator
    """
    rng = check_random_state(random_state)
    check_choice(noise, "noise", NOISE_KINDS)
    if weights is not None:
        W = check_dag(weights, "weights").astype(float)
        A = (W != 0).astype(np.int64)
    else:
        if d is None and graph is None:
            raise ValidationError("d: expected the number of latents (or a graph), got None")
        d = np.asarray(graph).shape[0] if d is None else d
        d = check_int(d, "d", minimum=1)
        A = _graph(d, graph, edge_prob, expected_degree, n_edges, graph_kind, rng)
        W = sample_weights(A, weight_range, rng)
    d = A.shape[0]
    return SCM(
        adjacency=A,
        kind="linear",
        weights=W,
        noise=noise,
        noise_std=_noise_std(noise_std, d, rng),
        intercept=np.zeros(d),
    )


def _noise_std(noise_std, d, rng) -> np.ndarray:
    if np.isscalar(noise_std):
        value = float(noise_std)
        if not value > 0:
            raise ValidationError(f"noise_std: expected a positive number or range, got {noise_std}")
        return np.full(d, value)
    low, high = check_interval(noise_std, "noise_std", positive=True)
    return rng.uniform(low, high, d)


def nonlinear_scm(
    d: int | None = None,
    *,
    graph=None,
    kind: str = "additive",
    edge_prob: float | None = None,
    expected_degree: float | None = None,
    n_edges: int | None = None,
    graph_kind: str = "er",
    hidden: int = 16,
    gain: float = 1.5,
    noise: str = "gaussian",
    noise_std=(0.5, 1.0),
    random_state=None,
) -> SCM:
    """An additive-noise or location-scale SCM with random tanh-network mechanisms.

    Parameters
    ----------
    kind : {"additive", "location_scale"}
        Location-scale nodes multiply their noise by ``exp(s_j(Z_pa))`` with a
        random bounded ``s_j`` (gain 0.5), so the noise scale depends on the
        parents.
    hidden, gain
        Width and output scale of each mechanism (see :func:`random_mechanism`).

    Other parameters are as in :func:`linear_scm`.
    """
    check_choice(kind, "kind", ("additive", "location_scale"))
    check_choice(noise, "noise", NOISE_KINDS)
    rng = check_random_state(random_state)
    if d is None and graph is None:
        raise ValidationError("d: expected the number of latents (or a graph), got None")
    d = np.asarray(graph).shape[0] if d is None else check_int(d, "d", minimum=1)
    A = _graph(d, graph, edge_prob, expected_degree, n_edges, graph_kind, rng)
    loc, scale = [], []
    for j in range(d):
        pa = np.flatnonzero(A[:, j])
        loc.append(random_mechanism(pa, hidden=hidden, gain=gain, random_state=rng) if pa.size else None)
        if kind == "location_scale" and pa.size:
            scale.append(random_mechanism(pa, hidden=hidden, gain=0.5, random_state=rng))
        else:
            scale.append(None)
    return SCM(
        adjacency=A,
        kind=kind,
        weights=np.zeros((d, d)),
        noise=noise,
        noise_std=_noise_std(noise_std, d, rng),
        intercept=np.zeros(d),
        loc=tuple(loc),
        scale=tuple(scale),
    )


def sample_scm(scm: SCM, n: int, random_state=None):
    """Shorthand for ``scm.sample(n, random_state)``; returns ``(Z, eps)``."""
    return scm.sample(n, random_state)
