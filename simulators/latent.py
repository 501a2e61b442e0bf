"""Interventional CRL problems: latent SCM, environments, mixing.

:func:`latent_problem` composes the pieces (:mod:`simulators.scm`,
:mod:`simulators.interventions`, :mod:`simulators.mixing`);
:func:`linear_cd_problem` reproduces the generator of Squires et al. (2023);
:func:`polynomial_problem` that of Ahuja et al. (2023).
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError
from crl.graphs import from_adjacency
from crl.validation import check_choice, check_int, check_interval, check_random_state
from simulators.dags import random_dag, sample_weights
from simulators.diagnostics import sortability
from simulators.interventions import intervene, make_environments, sample_environments
from simulators.mixing import invertible_mlp, linear_mixing, polynomial_mixing
from simulators.problem import Problem, Truth
from simulators.scm import SCM, linear_scm

__all__ = ["MIXINGS", "latent_problem", "linear_cd_problem", "polynomial_problem", "precision_matrices"]

MIXINGS = ("linear", "mlp", "polynomial")


def _latent_names(d):
    return tuple(f"Z{j}" for j in range(d))


def _truth_graph(scm: SCM):
    weights = scm.weights if scm.kind == "linear" else scm.adjacency.astype(float)
    return from_adjacency(weights, _latent_names(scm.d), latent=[True] * scm.d, kind="dag")


def _targets_setting(targets: np.ndarray, observational: bool) -> dict:
    inter = targets[1:] if observational else targets
    counts = inter.sum(axis=0)
    return {
        "one_per_latent": bool(np.all(counts >= 1) and np.all(inter.sum(axis=1) == 1)),
        "single_target": bool(np.all(inter.sum(axis=1) == 1)),
        "unintervened_latents": tuple(int(j) for j in np.flatnonzero(counts == 0)),
    }


def _mix(Z, mixing, p, rng, n_layers, degree):
    d = Z.shape[1]
    if mixing == "linear":
        G = linear_mixing(d, p, random_state=rng)
        return Z @ G.T, G
    if mixing == "mlp":
        g = invertible_mlp(d, p, n_layers=n_layers, random_state=rng)
        return g(Z), g
    g = polynomial_mixing(d, p, degree=degree, Z_reference=Z, random_state=rng)
    return g(Z), g


def latent_problem(
    scm: SCM,
    *,
    n_per_env=1000,
    mixing: str = "linear",
    p: int | None = None,
    targets="single",
    kind: str = "perfect",
    observational: bool = True,
    n_layers: int = 3,
    degree: int = 2,
    name: str = "latent",
    setting: dict | None = None,
    random_state=None,
    **intervention_kw,
) -> Problem:
    """Sample a multi-environment problem ``X = g(Z)`` from a latent SCM.

    Parameters
    ----------
    scm : SCM
        Observational latent model (see :mod:`simulators.scm`).
    n_per_env : int or sequence of int
        Rows per environment.
    mixing : {"linear", "mlp", "polynomial"}
    p : int, optional
        Observed dimension (default ``d`` for linear/MLP, ``2 * n_monomials``
        for polynomial).
    targets, kind, observational, **intervention_kw
        Passed to :func:`simulators.interventions.make_environments`. With a
        linear SCM and ``kind="perfect"``, pass ``noise_std`` (or ``value``):
        a perfect intervention that keeps the target's noise scale leaves the
        context's precision unchanged after projecting out the ancestors, so
        it is invisible to second moments and
        :func:`identifiability.theory.from_problem` reports the latent as
        degenerate (:func:`linear_cd_problem` draws new scales itself).
    n_layers, degree
        MLP depth and polynomial degree.
    name : str
    setting : dict, optional
        Extra or overriding entries of ``Problem.setting``.
    random_state : None, int or Generator

    Returns
    -------
    Problem
        ``X`` (N, p), ``env`` (N,), truth ``Z``, latent ``graph`` (nodes
        ``Z0..Z{d-1}``, ``latent=True``), ``targets`` (E, d), ``mixing``; the
        SCM of each environment in ``truth.params["environments"]``.
    """
    check_choice(mixing, "mixing", MIXINGS)
    rng = check_random_state(random_state)
    envs, T = make_environments(
        scm, targets=targets, kind=kind, observational=observational, random_state=rng, **intervention_kw
    )
    Z, env, eps = sample_environments(envs, n_per_env, rng)
    if p is None and mixing == "polynomial":
        from simulators.mixing import monomial_exponents

        p = 2 * monomial_exponents(scm.d, degree).shape[0]
    X, g = _mix(Z, mixing, p, rng, n_layers, degree)
    setting = {
        "latent_model": scm.kind,
        "mixing": mixing,
        "interventions": kind,
        "targets_known": False,
        "observational_env": observational,
        "noise": scm.noise,
        **_targets_setting(T, observational),
        **(setting or {}),
    }
    if mixing == "polynomial":
        setting["mixing_degree"] = degree
    obs_rows = env == 0 if observational else slice(None)
    return Problem(
        X=X,
        env=env,
        truth=Truth(
            Z=Z,
            graph=_truth_graph(scm),
            targets=T,
            mixing=g,
            latent_names=_latent_names(scm.d),
            noise={"eps": eps},
            params={"scm": scm, "environments": tuple(envs)},
        ),
        setting=setting,
        name=name,
        feature_names=tuple(f"x{i}" for i in range(X.shape[1])),
        diagnostics=sortability(Z[obs_rows], scm.adjacency),
    )


def precision_matrices(envs, H) -> np.ndarray:
    """Population precisions ``Theta_k = H.T @ K_k @ H`` of ``X = Z @ pinv(H).T`` per environment.

    ``K_k = B_k.T @ B_k`` is the latent precision with
    ``B_k = diag(1 / sigma) (I - W_k.T)`` (Squires et al.'s B; rows of
    ``B_k`` are structural equations, so ``B_k[i, j] != 0`` for ``j`` a
    parent of ``i``: the transpose of the toolkit's adjacency orientation).

    Returns
    -------
    ndarray of shape (n_envs, p, p)
    """
    return np.stack([H.T @ (B.T @ B) @ H for B in (_b_matrix(e) for e in envs)])


def _b_matrix(scm: SCM) -> np.ndarray:
    return np.diag(1.0 / scm.noise_std) @ (np.eye(scm.d) - scm.weights.T)


def linear_cd_problem(
    d: int = 5,
    p: int = 10,
    *,
    n_per_env: int = 10_000,
    density: float = 0.75,
    weight_range=(0.25, 1.0),
    scale_range=(2.0, 4.0),
    lambda_range=(6.0, 8.0),
    interventions: str = "perfect",
    sampling: str = "raw",
    missing_targets: int = 0,
    degenerate_target: int | None = None,
    random_state=None,
) -> Problem:
    """The synthetic setting of Squires et al. (2023), ``linear_cd.md`` §6.

    A dense ER latent DAG (each pair of a random order is an edge with
    probability ``density``), weights ±U(``weight_range``),
    ``B0 = diag(s) (I - W.T)`` with ``s ~ U(scale_range)`` (noise std ``1/s``),
    unmixing ``H`` (d, p) with U(-2, 2) entries and rows normalised (signed
    max-abs entry = +1), mixing ``G = pinv(H)`` so ``X = Z @ G.T``. One
    intervention per latent in shuffled order: perfect ones replace row ``i``
    of ``B`` by ``lambda e_i`` (``lambda ~ U(lambda_range)``); soft ones keep
    the parents, draw new weights and set the diagonal to ``lambda``.

    Parameters
    ----------
    d, p : int
        Latents and observed variables, ``p >= d``.
    n_per_env : int
        Samples per context (all ``d + 1`` contexts).
    interventions : {"perfect", "soft"}
    sampling : {"raw", "wishart"}
        ``"raw"`` draws Gaussian rows; ``"wishart"`` draws only the
        per-context sample precisions (``Problem.statistics["precisions"]``)
        as ``H.T @ (n W^{-1}) @ H`` with ``W ~ Wishart(n, K^{-1})``, the law
        of the inverse uncentred sample covariance, and no rows.
    missing_targets : int
        Leave this many latents without an intervention (not identifiable;
        for testing the theory module).
    degenerate_target : int, optional
        Intervene on this latent with ``lambda`` equal to its observational
        ``B0`` diagonal, so that the context is invisible to second moments
        (the degenerate case of ``linear_cd.md`` §3).
    random_state : None, int or Generator
    """
    d = check_int(d, "d", minimum=1)
    p = check_int(p, "p", minimum=1)
    if p < d:
        raise ValidationError(f"p: LinearCD needs p >= d observed variables; got d={d}, p={p}")
    n = check_int(n_per_env, "n_per_env", minimum=2)
    check_choice(interventions, "interventions", ("perfect", "soft"))
    check_choice(sampling, "sampling", ("raw", "wishart"))
    missing = check_int(missing_targets, "missing_targets", minimum=0, maximum=d)
    if degenerate_target is not None:
        check_int(degenerate_target, "degenerate_target", minimum=0, maximum=d - 1)
    s_lo, s_hi = check_interval(scale_range, "scale_range", positive=True)
    l_lo, l_hi = check_interval(lambda_range, "lambda_range", positive=True)
    rng = check_random_state(random_state)
    A = random_dag(d, edge_prob=density, random_state=rng)
    W = sample_weights(A, weight_range, rng)
    scm = linear_scm(weights=W, noise="gaussian", noise_std=1.0, random_state=rng)
    scm = scm.with_(noise_std=1.0 / rng.uniform(s_lo, s_hi, d))
    H = rng.uniform(-2.0, 2.0, (d, p))
    H /= H[np.arange(d), np.argmax(np.abs(H), axis=1)][:, None]
    G = np.linalg.pinv(H)
    order = rng.permutation(d)
    intervened = order[: d - missing]
    envs, rows = [scm], [np.zeros(d, dtype=bool)]
    for j in intervened:
        lam = 1.0 / scm.noise_std[j] if degenerate_target == j else rng.uniform(l_lo, l_hi)
        if interventions == "perfect" or not A[:, j].any():
            env_scm = intervene(scm, [j], "perfect", noise_std=1.0 / lam, random_state=rng)
        else:
            env_scm = intervene(scm, [j], "soft", noise_std=1.0 / lam, weight_range=weight_range, random_state=rng)
        envs.append(env_scm)
        row = np.zeros(d, dtype=bool)
        row[j] = True
        rows.append(row)
    T = np.vstack(rows)
    B = np.stack([_b_matrix(e) for e in envs])
    setting = {
        "latent_model": "linear",
        "mixing": "linear",
        "interventions": interventions,
        "targets_known": False,
        "observational_env": True,
        "noise": "gaussian",
        "sampling": sampling,
        **_targets_setting(T, True),
    }
    if degenerate_target is not None:
        setting["degenerate_targets"] = (int(degenerate_target),)
    params = {"scm": scm, "environments": tuple(envs), "H": H, "B": B, "W": W, "n_per_env": n}
    truth_kw = dict(graph=_truth_graph(scm), targets=T, mixing=G, latent_names=_latent_names(d))
    diag_Z = scm.sample(min(n, 20_000), rng)[0]
    diagnostics = sortability(diag_Z, scm.adjacency)
    if sampling == "wishart":
        from scipy.stats import wishart

        K_hat = [n * np.linalg.inv(wishart.rvs(df=n, scale=np.linalg.inv(b.T @ b), random_state=rng)) for b in B]
        precisions = np.stack([H.T @ K @ H for K in K_hat])
        return Problem(
            X=None,
            env=np.zeros(0, dtype=np.int64),
            truth=Truth(Z=None, params={**params, "population_precisions": precision_matrices(envs, H)}, **truth_kw),
            setting=setting,
            name="linear_cd",
            feature_names=tuple(f"x{i}" for i in range(p)),
            diagnostics=diagnostics,
            statistics={"precisions": precisions, "n_per_context": n, "contexts": np.arange(len(envs))},
        )
    Z, env, eps = sample_environments(envs, n, rng)
    return Problem(
        X=Z @ G.T,
        env=env,
        truth=Truth(Z=Z, noise={"eps": eps}, params=params, **truth_kw),
        setting=setting,
        name="linear_cd",
        feature_names=tuple(f"x{i}" for i in range(p)),
        diagnostics=diagnostics,
    )


def polynomial_problem(
    d: int = 6,
    p: int = 200,
    *,
    degree: int = 2,
    latent: str = "uniform",
    n_obs: int = 5000,
    n_per_target: int = 1000,
    do_value: float = 2.0,
    random_state=None,
) -> Problem:
    """Ahuja et al. (2023)'s interventional setting: polynomial mixing and hard ``do``.

    Parameters
    ----------
    d : int
        Latents.
    p : int
        Observed dimension (the reference uses 200).
    degree : int in {1, 2, 3}
        Degree of the polynomial mixing (degree >= 2 part rescaled to twice
        the linear part's range, as in the reference).
    latent : {"uniform", "scm_sparse", "scm_dense"}
        Independent U(-5, 5) latents, or linear-Gaussian DAGs with expected
        density 0.5 / 1.0, coefficients U(0.25, 1) and noise std 0.4.
    n_obs : int
        Observational rows (environment 0).
    n_per_target : int
        Rows per interventional environment; environment ``j + 1`` applies
        ``do(z_j = do_value)`` (cut from its parents, descendants regenerated).
    do_value : float
    random_state : None, int or Generator
    """
    check_choice(latent, "latent", ("uniform", "scm_sparse", "scm_dense"))
    d = check_int(d, "d", minimum=1)
    rng = check_random_state(random_state)
    if latent == "uniform":
        scm = linear_scm(graph=np.zeros((d, d)), noise="uniform", noise_std=5.0 / np.sqrt(3.0), random_state=rng)
    else:
        prob = 0.5 if latent == "scm_sparse" else 1.0
        A = random_dag(d, edge_prob=min(1.0, prob * 2.0 / max(d - 1, 1)), random_state=rng)
        W = (A != 0) * rng.uniform(0.25, 1.0, A.shape)
        scm = linear_scm(weights=W, noise="gaussian", noise_std=0.4, random_state=rng)
    n_per_env = [check_int(n_obs, "n_obs", minimum=1)] + [check_int(n_per_target, "n_per_target", minimum=1)] * d
    return latent_problem(
        scm,
        n_per_env=n_per_env,
        mixing="polynomial",
        p=p,
        degree=degree,
        targets=[[j] for j in range(d)],
        kind="perfect",
        value=float(do_value),
        name="interventional_polynomial",
        setting={"latent_model": "independent" if latent == "uniform" else "linear", "do_value": float(do_value)},
        random_state=rng,
    )
