"""Pendulum: procedural images with four known causal factors (CausalVAE's generator, numpy only).

A pendulum (angle θ) hangs from a pivot; a sun (light angle φ) casts its
shadow on the ground. The roots θ and φ are independent; the shadow's length
``s`` and centre ``m`` are their effects::

    angle ──▶ length ◀── light
      └─────▶  mid   ◀─────┘

Adjacency (toolkit convention ``A[i, j] != 0`` iff ``i -> j``), in the order
:data:`PENDULUM_FACTORS` = (angle, light, length, mid)::

    [[0, 0, 1, 1],
     [0, 0, 1, 1],
     [0, 0, 0, 0],
     [0, 0, 0, 0]]

``noise_scale = 0`` reproduces the original (deterministic) factors, with the
hard floor ``s = max(3, |a - b|)``. ``noise_scale = σ > 0`` adds exogenous
noise to the effects (non-degenerate SCM)::

    s = 1 + softplus(|a - b| + σ std0_s ε_s - 1),   m = (a + b) / 2 + σ std0_m ε_m,

with ε ~ N(0, 1) stored in ``truth.noise`` for counterfactuals. Images always
show the factors that are stored ("draw what you label").

Reference: ``huawei-noah/trustworthyAI``, ``research/CausalVAE/causal_data/pendulum.py``;
the full specification is ``shared/reference/pendulum.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from crl.exceptions import UnknownNameError, ValidationError
from crl.graphs import from_adjacency
from crl.validation import check_array, check_choice, check_float, check_int, check_random_state
from simulators.diagnostics import sortability
from simulators.pendulum_render import (
    _HARD_FLOOR,
    PENDULUM_LAYOUTS,
    PENDULUM_STD0,
    _as_vector,
    _check_light,
    _check_render_options,
    iter_render,
    pendulum_factors,
    render_pendulum,
    shadow_geometry,
)
from simulators.problem import Problem, Truth

__all__ = [
    "PENDULUM_FACTORS",
    "PENDULUM_ADJACENCY",
    "PENDULUM_STD0",
    "PENDULUM_LAYOUTS",
    "shadow_geometry",
    "pendulum_factors",
    "render_pendulum",
    "pendulum_problem",
    "render_counterfactual",
    "check_nondegenerate",
]

logger = logging.getLogger(__name__)

#: Factor names, in the column order of ``labels``, ``truth.Z`` and the adjacency.
PENDULUM_FACTORS = ("angle", "light", "length", "mid")

#: Factor graph, ``A[i, j] = 1`` iff ``i -> j``: angle, light -> length, mid (read-only).
PENDULUM_ADJACENCY = np.array(
    [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.int64
)
PENDULUM_ADJACENCY.setflags(write=False)

# Original grid: angle index i in [-40, 43], light index j in [60, 147] without 100,
# angle = index * pi / 200 (radians).
_ANGLE_INDEX = np.arange(-40, 44)
_LIGHT_INDEX = np.array([j for j in range(60, 148) if j != 100])
_GRID_STEP = np.pi / 200.0
# Continuous mode: no light within 0.5 degrees of vertical (the grid's hole at j = 100).
_LIGHT_GAP = np.deg2rad(0.5)

_SETTING = {
    "latent_model": "nonlinear",
    "mixing": "render",
    "supervision": "labels",
    "graph_known": True,
    "interventions": "none",
}


def _to_features(images: np.ndarray, channels_first: bool, flatten: bool) -> np.ndarray:
    """uint8 (m, S, S, 3) -> float32 in [0, 1], channels first and/or flattened as asked."""
    x = images.transpose(0, 3, 1, 2) if channels_first else images
    x = x.astype(np.float32, order="C") / np.float32(255.0)
    return x.reshape(len(x), -1) if flatten else x


class _PendulumMixing:
    """The mixing of a pendulum problem: factors (m, 4) -> observations in the problem's format."""

    def __init__(
        self, *, size: int, layout: str, supersample: int, channels_first: bool, flatten: bool
    ):
        self.size, self.layout, self.supersample = size, layout, supersample
        self.channels_first, self.flatten = channels_first, flatten

    def __call__(self, Z) -> np.ndarray:
        Z = check_array(Z, "Z", ndim=2, min_rows=0)
        if Z.shape[1] != len(PENDULUM_FACTORS):
            raise ValidationError(
                f"Z: expected {len(PENDULUM_FACTORS)} columns {PENDULUM_FACTORS}, got {Z.shape[1]}"
            )
        images = render_pendulum(
            *Z.T, size=self.size, layout=self.layout, supersample=self.supersample
        )
        return _to_features(images, self.channels_first, self.flatten)

    def __repr__(self) -> str:
        return (
            f"PendulumMixing(size={self.size}, layout={self.layout!r}, supersample={self.supersample}, "
            f"channels_first={self.channels_first}, flatten={self.flatten})"
        )


# ---------------------------------------------------------------------------- problem


def _sample_roots(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """θ ~ U over the grid's angle range; φ ~ U over its light range minus |φ - 90°| < 0.5°."""
    theta = rng.uniform(_ANGLE_INDEX[0] * _GRID_STEP, _ANGLE_INDEX[-1] * _GRID_STEP, n)
    lo, hi = _LIGHT_INDEX[0] * _GRID_STEP, _LIGHT_INDEX[-1] * _GRID_STEP
    gap_lo, gap_hi = np.pi / 2 - _LIGHT_GAP, np.pi / 2 + _LIGHT_GAP
    # Uniform on [lo, gap_lo) U (gap_hi, hi]: the same law as rejection sampling, with exactly n draws.
    u = rng.uniform(0.0, (gap_lo - lo) + (hi - gap_hi), n)
    phi = np.where(u < gap_lo - lo, lo + u, gap_hi + (u - (gap_lo - lo)))
    return theta, phi


def pendulum_problem(
    *,
    mode: str = "continuous",
    n: int = 2000,
    size: int = 64,
    noise_scale: float = 0.15,
    layout: str = "compat",
    channels_first: bool = True,
    flatten: bool = True,
    random_state=None,
) -> Problem:
    """Pendulum images with labels and the ground-truth factor SCM.

    Parameters
    ----------
    mode : {"continuous", "grid"}
        ``"grid"``: the original 84 x 87 = 7,308 (θ, φ) grid in the original
        i-major order (``n`` is ignored); ``truth.params["test_rows"]`` holds
        the original 1-in-4 test split (1,826 rows: the 5th image and every
        4th after it). ``"continuous"``: ``n`` rows with θ ~ U(-36°, 38.7°)
        and φ ~ U(54°, 132.3°) drawn independently, φ within 0.5° of vertical
        excluded (as on the grid).
    n : int, >= 1
        Number of rows in continuous mode.
    size : int, >= 8
        Image side in pixels.
    noise_scale : float, >= 0
        σ of :func:`pendulum_factors`; 0 reproduces the deterministic
        original factors (hard floor at 3).
    layout : {"compat", "full"}
        See :func:`render_pendulum`.
    channels_first : bool
        Channel axis before (3, size, size) or after (size, size, 3) the pixels.
    flatten : bool
        ``X`` of shape (n, 3 * size * size) instead of the image shape.
    random_state : None, int or Generator
        Draws the roots (continuous mode), then ``eps_s`` and ``eps_m`` (always
        drawn, so a seed gives the same exogenous noise for every σ).

    Returns
    -------
    Problem
        ``X`` float32 in [0, 1], shape (n, 3 * size * size) or (n, 3, size, size)
        (or channels last); ``labels`` and ``truth.Z`` of shape (n, 4): θ and φ
        in radians, length and mid in data units, columns in
        :data:`PENDULUM_FACTORS` order; ``truth.noise`` = {"eps_s", "eps_m"},
        each (n,); ``truth.graph`` the DAG of :data:`PENDULUM_ADJACENCY` (all
        nodes latent); ``truth.mixing`` a callable rendering factors (m, 4) into
        rows shaped like ``X``; ``truth.params`` with ``noise_scale``, ``size``,
        ``layout``, ``mode``, ``std0``, ``floor``, ``supersample``,
        ``channels_first``, ``flatten``, ``adjacency`` and, in grid mode,
        ``test_rows`` (indices into this problem's rows, so the original split
        is ``problem.subset(test_rows)`` and its complement; not updated by
        :meth:`Problem.subset`). ``env`` is all zeros.

    Raises
    ------
    ValidationError, UnknownNameError
        Bad arguments; the message names the argument.
    """
    mode = check_choice(mode, "mode", ("continuous", "grid"))
    n = check_int(n, "n", minimum=1)
    noise_scale = check_float(noise_scale, "noise_scale", minimum=0.0)
    size, layout, supersample, chunk = _check_render_options(size, layout, 2, 512)
    for name, flag in (("channels_first", channels_first), ("flatten", flatten)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValidationError(f"{name}: expected a bool, got {type(flag).__name__} ({flag!r})")
    rng = check_random_state(random_state)

    params = {
        "mode": mode,
        "noise_scale": noise_scale,
        "size": size,
        "layout": layout,
        "std0": PENDULUM_STD0,
        "floor": _HARD_FLOOR,
        "supersample": supersample,
        "channels_first": bool(channels_first),
        "flatten": bool(flatten),
        "adjacency": PENDULUM_ADJACENCY.tolist(),
    }
    if mode == "grid":
        ii, jj = np.meshgrid(_ANGLE_INDEX, _LIGHT_INDEX, indexing="ij")  # i-major, j-minor
        theta, phi = ii.ravel() * _GRID_STEP, jj.ravel() * _GRID_STEP
        n = theta.size
        params["test_rows"] = np.arange(4, n, 4)
    else:
        theta, phi = _sample_roots(n, rng)
    eps_s, eps_m = rng.standard_normal(n), rng.standard_normal(n)
    length, mid = pendulum_factors(
        theta, phi, eps_s, eps_m, noise_scale=noise_scale, floor=_HARD_FLOOR
    )
    Z = np.column_stack([theta, phi, length, mid])

    shape = (3, size, size) if channels_first else (size, size, 3)
    X = np.empty((n, *shape), dtype=np.float32)
    for start, stop, images in iter_render(
        theta, phi, length, mid, size=size, layout=layout, supersample=supersample, chunk=chunk
    ):
        X[start:stop] = _to_features(images, channels_first, flatten=False)
    if flatten:
        X = X.reshape(n, -1)

    truth = Truth(
        Z=Z,
        graph=from_adjacency(PENDULUM_ADJACENCY, PENDULUM_FACTORS, latent=[True] * 4, kind="dag"),
        mixing=_PendulumMixing(
            size=size,
            layout=layout,
            supersample=supersample,
            channels_first=bool(channels_first),
            flatten=bool(flatten),
        ),
        latent_names=PENDULUM_FACTORS,
        noise={"eps_s": eps_s, "eps_m": eps_m},
        params=params,
    )
    return Problem(
        X=X,
        env=np.zeros(n, dtype=np.int64),
        truth=truth,
        setting=dict(_SETTING),
        labels=Z.copy(),
        name="pendulum",
        diagnostics=sortability(Z, PENDULUM_ADJACENCY),
    )


# ---------------------------------------------------------------------------- counterfactuals and checks


def _check_pendulum_problem(problem) -> None:
    if not isinstance(problem, Problem):
        raise ValidationError(
            f"problem: expected a simulators.Problem, got {type(problem).__name__}"
        )
    truth = problem.truth
    missing = [k for k in ("eps_s", "eps_m") if k not in truth.noise]
    if truth.latent_names != PENDULUM_FACTORS or truth.Z is None or missing:
        raise ValidationError(
            f"problem: expected a pendulum problem (latent_names {PENDULUM_FACTORS}, truth.Z and "
            f"truth.noise eps_s/eps_m), got latent_names {truth.latent_names} and noise keys {sorted(truth.noise)}"
        )


def _select_rows(rows, n: int) -> np.ndarray:
    if rows is None:
        return np.arange(n)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValidationError(
                f"rows: expected a boolean mask of length {n}, got shape {rows.shape}"
            )
        return np.flatnonzero(rows)
    if rows.ndim > 1 or (rows.size and rows.dtype.kind not in "iu"):
        raise ValidationError(
            f"rows: expected a 1-D array of row indices or a boolean mask, got {rows.dtype} of shape {rows.shape}"
        )
    rows = rows.astype(np.intp).ravel()
    if rows.size and (rows.min() < -n or rows.max() >= n):
        raise ValidationError(
            f"rows: expected indices in [0, {n}), got values in [{rows.min()}, {rows.max()}]"
        )
    return rows % n if rows.size else rows


def render_counterfactual(
    problem: Problem, do: Mapping, rows=None
) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth counterfactual images and factors of rows of a pendulum problem.

    Abduction is exact (the problem stores its exogenous noise ``eps_s``,
    ``eps_m``); then the action, then prediction with the problem's own
    parameters (``noise_scale``, ``floor``, ``std0``, ``size``, ``layout``):

    - ``do(angle=θ')`` / ``do(light=φ')``: length and mid are recomputed from
      the new roots with the **same** ``eps_s``, ``eps_m``;
    - ``do(length=s')`` / ``do(mid=m')``: the value is set; the roots and the
      sibling effect keep their (possibly recomputed) values.

    Consistency holds exactly: a row whose roots are set to their factual
    values keeps its factual effects, so its image equals the factual one.

    Off-manifold flag: an action on ``length`` or ``mid`` produces images
    outside the support of the data when ``noise_scale == 0`` (and in
    low-density regions otherwise). Each such call logs one warning on the
    ``simulators.pendulum`` logger.

    Parameters
    ----------
    problem : Problem
        Made by :func:`pendulum_problem` (or a subset/split of one).
    do : mapping of str to float or array_like of shape (m,)
        Interventions, keyed by names in :data:`PENDULUM_FACTORS`; a scalar
        applies to every selected row, an array gives one value per row.
    rows : array_like of int or bool mask, optional
        Rows of ``problem`` to act on; default all.

    Returns
    -------
    images : ndarray of shape (m, size, size, 3), uint8
        Counterfactual images (the problem's size and layout).
    factors : ndarray of shape (m, 4)
        Counterfactual (θ, φ, length, mid), columns in :data:`PENDULUM_FACTORS` order.

    Raises
    ------
    UnknownNameError
        A key of ``do`` is not a factor name (the message lists the valid ones).
    ValidationError
        Not a pendulum problem, bad rows, bad or non-finite values.
    """
    _check_pendulum_problem(problem)
    if not isinstance(do, Mapping):
        raise ValidationError(
            f"do: expected a mapping of factor names to values, got {type(do).__name__}"
        )
    unknown = [k for k in do if k not in PENDULUM_FACTORS]
    if unknown:
        raise UnknownNameError(
            f"do: expected keys among {list(PENDULUM_FACTORS)}, got unknown {unknown}"
        )
    idx = _select_rows(rows, problem.n_samples)
    params, truth = problem.truth.params, problem.truth
    Z = np.array(truth.Z[idx], dtype=float)
    m = len(idx)
    values = {}
    for name, value in do.items():
        v = _as_vector(value, f"do[{name!r}]")
        if v.shape[0] not in (1, m):
            raise ValidationError(
                f"do[{name!r}]: expected a scalar or {m} values (one per row), got {v.shape[0]}"
            )
        values[name] = np.broadcast_to(v, (m,)).astype(float)
    if "length" in values and (values["length"] < 0).any():
        raise ValidationError(
            f"do['length']: expected shadow lengths >= 0, got minimum {float(values['length'].min())}"
        )

    theta = values.get("angle", Z[:, 0])
    phi = values.get("light", Z[:, 1])
    _check_light(phi, "do['light']")
    moved = (theta != Z[:, 0]) | (phi != Z[:, 1])
    s_cf, m_cf = Z[:, 2].copy(), Z[:, 3].copy()
    if moved.any():
        s_new, m_new = pendulum_factors(
            theta[moved],
            phi[moved],
            np.asarray(truth.noise["eps_s"])[idx][moved],
            np.asarray(truth.noise["eps_m"])[idx][moved],
            noise_scale=params.get("noise_scale", 0.0),
            floor=params.get("floor", _HARD_FLOOR),
            std0=tuple(params.get("std0", PENDULUM_STD0)),
        )
        s_cf[moved], m_cf[moved] = s_new, m_new
    if "length" in values:
        s_cf = values["length"]
    if "mid" in values:
        m_cf = values["mid"]
    off = sorted({"length", "mid"} & set(values))
    if off:
        logger.warning(
            "render_counterfactual: do(%s) sets an effect directly; with noise_scale=%s these images are %s",
            ", ".join(off),
            params.get("noise_scale", 0.0),
            "off the data manifold"
            if params.get("noise_scale", 0.0) == 0
            else "possibly in low-density regions",
        )
    images = render_pendulum(
        theta,
        phi,
        s_cf,
        m_cf,
        size=params.get("size", 64),
        layout=params.get("layout", "compat"),
        supersample=params.get("supersample", 2),
    )
    return images, np.column_stack([theta, phi, s_cf, m_cf])


def check_nondegenerate(
    problem: Problem, *, n_neighbors: int = 10, test_size: float = 0.25, random_state=0
) -> float:
    """How well (θ, φ) determine the shadow length: held-out R² of a k-NN regression.

    A value near 1 means the SCM of length is (nearly) deterministic, which
    makes likelihood-based priors and abduction degenerate. With
    ``noise_scale > 0`` it should stay below 0.995.

    Parameters
    ----------
    problem : Problem
        A pendulum problem (uses ``truth.Z``).
    n_neighbors : int
        Neighbours of the regressor (on standardised θ, φ).
    test_size : float in (0, 1)
        Fraction of rows held out (random split by rows).
    random_state : None, int or Generator
        Seed of the split.

    Returns
    -------
    float
        R² of length on the held-out rows.
    """
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check_pendulum_problem(problem)
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
    test_size = check_float(test_size, "test_size", minimum=0.0, maximum=1.0, strict_min=True)
    rng = check_random_state(random_state)
    Z = np.asarray(problem.truth.Z, dtype=float)
    n_test = int(round(test_size * len(Z)))
    if n_test < 1 or len(Z) - n_test < n_neighbors:
        raise ValidationError(
            f"problem: expected at least {n_neighbors} training rows and 1 test row, got {len(Z)} rows with test_size={test_size}"
        )
    perm = rng.permutation(len(Z))
    test, train = perm[:n_test], perm[n_test:]
    model = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=n_neighbors))
    model.fit(Z[train, :2], Z[train, 2])
    return float(model.score(Z[test, :2], Z[test, 2]))
