"""Interventions on latent SCMs and multi-environment sampling.

An intervention returns a modified copy of an :class:`simulators.scm.SCM`;
each environment is then an SCM of its own. Kinds:

- ``"perfect"``: cut the target's parents. With ``value`` the target is set
  to a constant (``do(Z_j = value)``); otherwise it keeps its intercept and
  gets noise of standard deviation ``noise_std`` (default: unchanged).
- ``"soft"``: keep the parent set, draw new mechanisms (new weights for
  linear SCMs); optionally change the noise scale.
- ``"shift"``: add ``shift`` to the target's intercept.
- ``"scale"``: multiply the target's noise standard deviation by ``factor``.

Targets are recorded as a boolean matrix (environments × latents) in the
truth and never shown to learners.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_int, check_interval, check_random_state
from simulators.scm import SCM, random_mechanism

__all__ = ["INTERVENTION_KINDS", "intervene", "make_environments", "sample_environments"]

INTERVENTION_KINDS = ("perfect", "soft", "shift", "scale")


def _per_target(value, name, k, rng, *, positive=False):
    """Scalar, per-target array, or (low, high) range drawn per target."""
    if value is None:
        return [None] * k
    if isinstance(value, tuple) and len(value) == 2:
        low, high = check_interval(value, name, positive=positive)
        return list(rng.uniform(low, high, k))
    arr = np.broadcast_to(np.asarray(value, dtype=float), (k,)) if np.ndim(value) <= 1 else None
    if arr is None or not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name}: expected a number, {k} numbers or a (low, high) pair, got {value!r}")
    if positive and np.any(arr <= 0):
        raise ValidationError(f"{name}: expected positive values, got {value!r}")
    return list(arr)


def intervene(
    scm: SCM,
    targets,
    kind: str = "perfect",
    *,
    value=None,
    noise_std=None,
    shift=None,
    factor=None,
    weight_range=(0.5, 2.0),
    random_state=None,
) -> SCM:
    """Intervene on ``targets`` of ``scm`` and return the intervened SCM.

    Parameters
    ----------
    scm : SCM
    targets : int or sequence of int
        Latent indices in ``[0, d)``.
    kind : {"perfect", "soft", "shift", "scale"}
    value : float, array or (low, high), optional
        Perfect only: constant value(s) of ``do(Z_j = value)``.
    noise_std : float, array or (low, high), optional
        Perfect and soft: the targets' new noise standard deviations
        (default: unchanged).
    shift : float, array or (low, high), optional
        Shift only: added to the intercepts; default ±U(1, 2).
    factor : float, array or (low, high), optional
        Scale only: multiplies the noise standard deviations; default U(2, 3).
    weight_range : (low, high)
        Soft, linear SCMs: the new weights are ±U(low, high).
    random_state : None, int or Generator

    Returns
    -------
    SCM
    """
    check_choice(kind, "kind", INTERVENTION_KINDS)
    rng = check_random_state(random_state)
    t = np.atleast_1d(np.asarray(targets))
    if t.size == 0 or t.dtype.kind not in "iu":
        raise ValidationError(f"targets: expected one or more latent indices, got {targets!r}")
    if t.min() < 0 or t.max() >= scm.d:
        raise ValidationError(f"targets: expected indices in [0, {scm.d}), got {t.tolist()}")
    if np.unique(t).size != t.size:
        raise ValidationError(f"targets: expected distinct indices, got {t.tolist()}")
    k = t.size
    A, W = scm.adjacency.copy(), scm.weights.copy()
    std, c, fixed = scm.noise_std.copy(), scm.intercept.copy(), scm.fixed.copy()
    loc, scale = list(scm.loc), list(scm.scale)
    if kind == "perfect":
        values = _per_target(value, "value", k, rng)
        stds = _per_target(noise_std, "noise_std", k, rng, positive=True)
        for j, v, s in zip(t, values, stds):
            A[:, j] = 0
            W[:, j] = 0.0
            loc[j] = scale[j] = None
            if v is not None:
                fixed[j] = v
            elif s is not None:
                std[j] = s
    elif kind == "soft":
        stds = _per_target(noise_std, "noise_std", k, rng, positive=True)
        for j, s in zip(t, stds):
            pa = np.flatnonzero(A[:, j])
            if pa.size == 0 and s is None:
                raise ValidationError(
                    f"targets: latent {j} has no parents, so a soft intervention without a new "
                    "noise_std would change nothing; give noise_std or use another kind"
                )
            if scm.kind == "linear":
                low, high = check_interval(weight_range, "weight_range", positive=True)
                W[pa, j] = rng.uniform(low, high, pa.size) * rng.choice([-1.0, 1.0], pa.size)
            elif pa.size:
                loc[j] = random_mechanism(pa, random_state=rng)
                if scale[j] is not None:
                    scale[j] = random_mechanism(pa, gain=0.5, random_state=rng)
            if s is not None:
                std[j] = s
    elif kind == "shift":
        shifts = _per_target(shift, "shift", k, rng)
        for j, s in zip(t, shifts):
            c[j] += s if s is not None else rng.uniform(1.0, 2.0) * rng.choice([-1.0, 1.0])
    else:
        factors = _per_target(factor if factor is not None else (2.0, 3.0), "factor", k, rng, positive=True)
        for j, f in zip(t, factors):
            std[j] *= f
    return scm.with_(
        adjacency=A, weights=W, noise_std=std, intercept=c, fixed=fixed, loc=tuple(loc), scale=tuple(scale)
    )


def make_environments(
    scm: SCM,
    *,
    targets="single",
    kind: str = "perfect",
    n_envs: int | None = None,
    targets_per_env: int = 2,
    observational: bool = True,
    shuffle: bool = True,
    random_state=None,
    **intervention_kw,
):
    """Build the environments of a multi-environment problem.

    Parameters
    ----------
    scm : SCM
        The observational model.
    targets : "single", "multi" or sequence of sequences of int
        ``"single"``: one environment per latent (each latent intervened
        once); ``"multi"``: ``n_envs`` environments, each intervening on
        ``targets_per_env`` random latents; or explicit target lists.
    kind : str
        Intervention kind, see :func:`intervene`.
    n_envs : int, optional
        Number of interventional environments for ``"multi"`` (default d).
    observational : bool
        Prepend the unintervened model as environment 0.
    shuffle : bool
        Shuffle the order of single-target environments (targets unknown).
    random_state : None, int or Generator
    **intervention_kw
        Passed to :func:`intervene` (``value``, ``noise_std``, ...).

    Returns
    -------
    envs : list of SCM
    target_matrix : ndarray of shape (len(envs), d), bool
    """
    rng = check_random_state(random_state)
    d = scm.d
    if isinstance(targets, str):
        check_choice(targets, "targets", ("single", "multi"))
        if targets == "single":
            lists = [[j] for j in (rng.permutation(d) if shuffle else range(d))]
        else:
            m = check_int(n_envs if n_envs is not None else d, "n_envs", minimum=1)
            k = check_int(targets_per_env, "targets_per_env", minimum=1, maximum=d)
            lists = [sorted(rng.choice(d, size=k, replace=False).tolist()) for _ in range(m)]
    elif isinstance(targets, Sequence):
        lists = [list(np.atleast_1d(t)) for t in targets]
    else:
        raise ValidationError(f"targets: expected 'single', 'multi' or a list of target lists, got {targets!r}")
    envs, rows = [], []
    if observational:
        envs.append(scm)
        rows.append(np.zeros(d, dtype=bool))
    for tl in lists:
        envs.append(intervene(scm, tl, kind, random_state=rng, **intervention_kw))
        row = np.zeros(d, dtype=bool)
        row[np.asarray(tl, dtype=np.int64)] = True
        rows.append(row)
    return envs, np.vstack(rows)


def sample_environments(envs, n_per_env, random_state=None):
    """Sample each environment and stack the rows.

    Parameters
    ----------
    envs : list of SCM
    n_per_env : int or sequence of int
        Rows per environment.
    random_state : None, int or Generator

    Returns
    -------
    Z : ndarray of shape (N, d)
    env : ndarray of shape (N,), int
        Environment index of each row.
    eps : ndarray of shape (N, d)
        Standardised exogenous noise of each row.
    """
    rng = check_random_state(random_state)
    counts = np.broadcast_to(np.asarray(n_per_env), (len(envs),))
    Zs, es, labels = [], [], []
    for e, (model, n) in enumerate(zip(envs, counts)):
        n = check_int(int(n), "n_per_env", minimum=1)
        Z, eps = model.sample(n, rng)
        Zs.append(Z)
        es.append(eps)
        labels.append(np.full(n, e, dtype=np.int64))
    return np.vstack(Zs), np.concatenate(labels), np.vstack(es)
