"""Action-driven latents for intervention extrapolation (Rep4Ex setting).

Saengkyongam et al. (ICLR 2024): exogenous actions ``A`` (n, k) move the
latents linearly, ``Z = A @ M0.T + V``; observations are ``X = g(Z)`` with an
injective ``g``; the outcome is ``Y = l(Z) + U`` where ``U`` is correlated with
``V`` (hidden confounding between ``Z`` and ``Y``). Training actions lie in a
bounded box; the test grid reaches outside it. The generator is the project
default "shaped after the paper" (``../shared/reference/rep4ex.md`` §5): the
paper's own generator could not be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_interval,
    check_random_state,
)
from simulators.mixing import invertible_mlp
from simulators.problem import Problem, Truth

__all__ = ["Outcome", "action_matrix", "do_effect", "action_problem", "OUTCOMES"]

OUTCOMES = ("sin_quad", "tanh_mlp")


@dataclass(frozen=True)
class Outcome:
    """The outcome function ``l(z)``.

    ``"sin_quad"``: ``l(z) = sum_j sin(2 z_j) + 0.3 z_j**2`` (closed-form
    do-effect under Gaussian ``V``). ``"tanh_mlp"``: ``l(z) = w2 @ tanh(W1 z + b)``.
    """

    kind: str
    W1: np.ndarray | None = None
    b: np.ndarray | None = None
    w2: np.ndarray | None = None

    def __call__(self, Z) -> np.ndarray:
        Z = np.asarray(Z, dtype=float)
        if self.kind == "sin_quad":
            return np.sum(np.sin(2.0 * Z) + 0.3 * Z**2, axis=1)
        return np.tanh(Z @ self.W1.T + self.b) @ self.w2


def action_matrix(d: int, k: int, *, min_singular: float = 0.5, random_state=None) -> np.ndarray:
    """Draw ``M0`` (d, k) with N(0, 1) entries, rescaled so its smallest singular value is >= ``min_singular``."""
    d = check_int(d, "d", minimum=1)
    k = check_int(k, "k", minimum=1)
    if k < d:
        raise ValidationError(
            f"k: M0 must have full row rank, which needs at least as many action dimensions as "
            f"latents; got k={k} actions for d={d} latents"
        )
    rng = check_random_state(random_state)
    M0 = rng.normal(size=(d, k))
    smin = np.linalg.svd(M0, compute_uv=False).min()
    if smin < min_singular:
        M0 *= min_singular / smin
    return M0


def do_effect(actions_star, M0, outcome: Outcome, *, sigma_v=None, n_mc: int = 100_000, random_state=None):
    """``E[Y | do(A = a*)] = E_V[l(M0 a* + V)]`` for each row of ``actions_star`` (E[U] = 0).

    Parameters
    ----------
    actions_star : ndarray of shape (G, k)
    M0 : ndarray of shape (d, k)
    outcome : Outcome
    sigma_v : ndarray of shape (d, d), optional
        Covariance of the Gaussian ``V`` (default identity).
    n_mc : int
        Monte-Carlo draws of ``V`` when no closed form exists.

    Returns
    -------
    ndarray of shape (G,)
    """
    a = check_array(actions_star, "actions_star")
    M0 = np.asarray(M0, dtype=float)
    if a.shape[1] != M0.shape[1]:
        raise ValidationError(f"actions_star: expected {M0.shape[1]} columns, got {a.shape[1]}")
    d = M0.shape[0]
    S = np.eye(d) if sigma_v is None else np.asarray(sigma_v, dtype=float)
    mu = a @ M0.T
    if outcome.kind == "sin_quad":
        s2 = np.diag(S)
        # E sin(2(m + v)) = sin(2m) exp(-2 s^2), E (m + v)^2 = m^2 + s^2 for v ~ N(0, s^2)
        return np.sum(np.sin(2.0 * mu) * np.exp(-2.0 * s2) + 0.3 * (mu**2 + s2), axis=1)
    rng = check_random_state(random_state)
    V = rng.multivariate_normal(np.zeros(d), S, size=check_int(n_mc, "n_mc", minimum=1))
    return np.array([outcome(m + V).mean() for m in mu])


def action_problem(
    n: int = 10_000,
    d: int = 2,
    k: int | None = None,
    *,
    p: int = 10,
    n_layers: int = 2,
    rho: float = 0.5,
    support=(-1.0, 1.0),
    test_range=(-3.0, 3.0),
    n_test_actions: int = 61,
    outcome: str = "sin_quad",
    random_state=None,
) -> Problem:
    """Simulate a Rep4Ex problem.

    Parameters
    ----------
    n : int
        Training rows.
    d : int
        Latent dimension.
    k : int, optional
        Action dimension (default ``d``); ``k >= d`` so that ``M0`` has full row rank.
    p : int
        Observed dimension of ``X = g(Z)``.
    n_layers : int
        Leaky-ReLU layers of the injective mixing ``g``.
    rho : float in [0, 1)
        Correlation of ``U`` with a direction of ``V`` (hidden confounding).
    support : (low, high)
        Training actions are U(low, high) per coordinate.
    test_range : (low, high)
        The test actions are ``a* = t * 1`` for ``n_test_actions`` values of
        ``t`` in ``test_range``; ``truth.params["in_support"]`` marks those
        inside the training box.
    outcome : {"sin_quad", "tanh_mlp"}
    random_state : None, int or Generator

    Returns
    -------
    Problem
        ``X`` (n, p), ``actions`` (n, k), ``y`` (n,), ``truth.Z`` (n, d);
        ``truth.params`` holds ``M0``, ``test_actions`` (G, k), ``do_effect``
        (G,), ``in_support`` (G,), ``outcome`` (an :class:`Outcome`),
        ``sigma_v``, ``rho`` and ``u_direction``.
    """
    n = check_int(n, "n", minimum=2)
    d = check_int(d, "d", minimum=1)
    k = d if k is None else check_int(k, "k", minimum=1)
    rho = check_float(rho, "rho", minimum=0.0, maximum=1.0)
    lo, hi = check_interval(support, "support")
    tlo, thi = check_interval(test_range, "test_range")
    check_choice(outcome, "outcome", OUTCOMES)
    rng = check_random_state(random_state)
    M0 = action_matrix(d, k, random_state=rng)
    g = invertible_mlp(d, p, n_layers=n_layers, random_state=rng)
    if outcome == "sin_quad":
        out = Outcome("sin_quad")
    else:
        out = Outcome("tanh_mlp", W1=rng.normal(size=(16, d)), b=rng.normal(size=16), w2=rng.normal(size=16) / 4.0)
    A = rng.uniform(lo, hi, (n, k))
    V = rng.standard_normal((n, d))
    w = rng.normal(size=d)
    w /= np.linalg.norm(w)
    U = rho * V @ w + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)
    Z = A @ M0.T + V
    X = g(Z)
    y = out(Z) + U
    t = np.linspace(tlo, thi, check_int(n_test_actions, "n_test_actions", minimum=1))
    test_actions = np.repeat(t[:, None], k, axis=1)
    in_support = np.all((test_actions >= lo) & (test_actions <= hi), axis=1)
    truth = Truth(
        Z=Z,
        mixing=g,
        latent_names=tuple(f"Z{j}" for j in range(d)),
        noise={"V": V, "U": U},
        params={
            "M0": M0,
            "sigma_v": np.eye(d),
            "rho": rho,
            "u_direction": w,
            "outcome": out,
            "support": (lo, hi),
            "test_actions": test_actions,
            "in_support": in_support,
            "do_effect": do_effect(test_actions, M0, out, random_state=rng),
        },
    )
    setting = {
        "latent_model": "action_linear",
        "mixing": "mlp",
        "actions": "exogenous",
        "action_rank_full": True,
        "hidden_confounding": rho > 0,
        "noise": "gaussian",
    }
    return Problem(
        X=X, env=np.zeros(n, dtype=np.int64), actions=A, y=y, truth=truth, setting=setting, name="rep4ex",
        feature_names=tuple(f"x{i}" for i in range(p)),
        # sortability is defined along a causal graph; the latents here have none
        diagnostics={"var_sortability": None, "r2_sortability": None, "sortability_note": "no latent causal graph"},
    )
