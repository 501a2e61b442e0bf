"""LinearCD's model scores (linear_cd.md §7): one order-respecting alignment for H, B0 and the targets.

Method-specific scorer for :func:`identifiability.extra.extra_scores` (keys
reported as ``model.<name>``). It applies to a fitted learner with an
unmixing ``unmixing_`` (d, p) and per-context targets ``targets_`` (K+1,)
on a problem whose truth has the parameters ``H`` (d, p) and ``B`` (K+1, d, d).

**Alignment (one, applied everywhere).** The permutation comes from
:func:`identifiability.ordering.topological_matching`: it maximises the
number of contexts whose estimated target maps to the true target, among
the permutations under which the estimate's index order (sources first) is
a topological order of the true DAG. It is found by enumerating the
topological orders of the true DAG when there are at most
:data:`MAX_ORDERS` of them (``matching="topological_brute_force"``), else
by the integer program (``"topological_ilp"``). Both maximise the same
count; ties, which occur only when some target is wrong, are broken by the
method (and so may differ between the two). This is the reference's
ILP matching, not its more optimistic variant that minimises the ``B0``
error itself. The one permutation ``P`` (``z ≈ P ẑ``) is applied to the
unmixing, to ``B0`` and to the targets.

**Scales.** Both sides are row-normalised by the same rule, the
project's (linear_cd.md §3): each row is divided by its largest
magnitude, so that entry is ±1, and the sign is the truth's: an aligned
estimated row is divided by ``sign(ĥ[j*]) max|ĥ|`` where ``j*`` is the
column of the true row's signed largest-magnitude entry. ``B0`` is
rescaled consistently (``ẑ_i -> ẑ_i / c_i`` multiplies column ``i`` of
``B0`` by ``c_i``) and its rows signed to a positive diagonal. When an
estimated row is close to the true one this is the signed max-abs
normalisation itself; reading the sign at ``j*`` only avoids a spurious
flip of a whole row when two entries of a true row have nearly equal
magnitude and opposite signs (the estimate's own signed max can then sit
on the other one), and the magnitude rule keeps the error of a wrong row
bounded (each normalised row has entries in [-1, 1]).

**Scores.** ``h_error = ||H - P Ĥ||_F``, ``b0_error = ||B0 - P B̂0 P^T||_F``,
``all_targets_correct`` (1.0 when every context's target is right) and
``targets_correct`` (fraction of contexts with a target whose estimated
target maps to the true one). When the problem's interventions are not
perfect, ``H`` is identified only up to its ancestors' rows, so
``h_error`` and ``b0_error`` are NaN (the target scores remain).

**Null.** A random unmixing (standard normal entries) with random distinct
targets, run through the same alignment; its ``B0`` is what the RQ
protocol would read off the observational precision with that unmixing
(the triangular factor of ``pinv(Ĥ)^T Theta_0 pinv(Ĥ)`` in index order).
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_random_state
from identifiability.ordering import topological_matching

__all__ = ["MAX_ORDERS", "applies", "scores", "linear_model_scores"]

#: Brute-force enumeration of topological orders up to this many, else the ILP.
MAX_ORDERS = 2000

_KEYS = ("h_error", "b0_error", "all_targets_correct", "targets_correct")


def applies(learner, problem) -> bool:
    """A fitted learner with ``unmixing_`` and ``targets_``, and a truth with ``H``, ``B``, graph and targets."""
    truth = problem.truth
    return (
        hasattr(learner, "unmixing_")
        and hasattr(learner, "targets_")
        and "H" in truth.params
        and "B" in truth.params
        and truth.graph is not None
        and truth.targets is not None
    )


def _match(graph, est_targets, true_targets):
    try:
        return topological_matching(graph, est_targets, true_targets, method="brute_force", max_orders=MAX_ORDERS)
    except ValidationError as exc:
        if "topological orders" not in str(exc):
            raise
        return topological_matching(graph, est_targets, true_targets, method="ilp")


def linear_model_scores(H, B0, graph, true_targets, H_hat, B0_hat, est_targets) -> dict:
    """Align an estimate to the truth with one order-respecting permutation and score it.

    Parameters
    ----------
    H : ndarray (d, p)
        True unmixing, rows normalised (signed max-abs entry = +1).
    B0 : ndarray (d, d)
        True observational ``B`` (rows are structural equations, positive diagonal).
    graph : networkx.DiGraph or ndarray (d, d)
        True latent DAG (``A[i, j] != 0`` iff ``i -> j``).
    true_targets : ndarray (K+1, d) bool or (K+1,) int
    H_hat, B0_hat : ndarray (d, p), (d, d)
        The estimate, latents in its own index order (sources first).
    est_targets : ndarray (K+1,) int
        Estimated latent per context, ``-1`` for none.

    Returns
    -------
    dict
        ``h_error``, ``b0_error``, ``all_targets_correct``, ``targets_correct``
        (floats), ``permutation`` (estimated index -> true index) and ``matching``.
    """
    H = np.asarray(H, dtype=float)
    H_hat = np.asarray(H_hat, dtype=float)
    d = H.shape[0]
    if H_hat.shape != H.shape or np.shape(B0_hat) != (d, d):
        nan = float("nan")
        return {"h_error": nan, "b0_error": nan, "all_targets_correct": 0.0, "targets_correct": 0.0,
                "permutation": None, "matching": "shape_mismatch"}
    m = _match(graph, est_targets, true_targets)
    P = m["P"]
    rows = np.arange(d)
    H = H / H[rows, np.argmax(np.abs(H), axis=1)][:, None]
    Ha = P @ H_hat
    sign = np.sign(Ha[rows, np.argmax(np.abs(H), axis=1)])
    c = np.where(sign == 0, 1.0, sign) * np.abs(Ha).max(axis=1)
    c = np.where(c != 0, c, 1.0)
    Ha = Ha / c[:, None]
    Ba = (P @ np.asarray(B0_hat, dtype=float) @ P.T) * c[None, :]
    diag_sign = np.sign(np.diag(Ba))
    Ba = Ba * np.where(diag_sign == 0, 1.0, diag_sign)[:, None]
    return {
        "h_error": float(np.linalg.norm(H - Ha)),
        "b0_error": float(np.linalg.norm(np.asarray(B0, dtype=float) - Ba)),
        "all_targets_correct": float(m["all_matched"]),
        "targets_correct": float(m["fraction_matched"]),
        "permutation": m["permutation"],
        "matching": f"topological_{m['method']}",
    }


def _observational_precision(problem):
    stats = problem.statistics
    if "precisions" in stats:
        return np.asarray(stats["precisions"][0], dtype=float)
    X = problem.X[problem.env == 0]
    return np.linalg.pinv(np.cov(X, rowvar=False), hermitian=True)


def _null_estimate(problem, d, p, rng):
    H = rng.normal(size=(d, p))
    H = H / H[np.arange(d), np.argmax(np.abs(H), axis=1)][:, None]
    T = np.asarray(problem.truth.targets, dtype=bool)
    targets = np.full(len(T), -1, dtype=np.intp)
    hit = np.flatnonzero(T.any(axis=1))
    targets[hit] = rng.permutation(max(d, len(hit)))[: len(hit)] % d
    G = np.linalg.pinv(H)
    M = G.T @ _observational_precision(problem) @ G
    M = (M + M.T) / 2
    try:
        C = np.linalg.cholesky(M[::-1, ::-1])
        B0 = C.T[::-1, ::-1]  # M = B0^T B0, B0 lower triangular
    except np.linalg.LinAlgError:
        B0 = np.full((d, d), np.nan)
    return H, B0, targets


def scores(learner, problem, *, random_state=0) -> tuple[dict, dict]:
    """``(scores, null)`` for a fitted LinearCD-type learner (see the module docstring)."""
    truth = problem.truth
    H = np.asarray(truth.params["H"], dtype=float)
    B0 = np.asarray(truth.params["B"], dtype=float)[0]
    est = linear_model_scores(
        H, B0, truth.graph, truth.targets, learner.unmixing_, getattr(learner, "latent_weights_", np.eye(len(H))),
        learner.targets_,
    )
    rng = check_random_state(random_state)
    Hn, Bn, tn = _null_estimate(problem, *H.shape, rng)
    null = linear_model_scores(H, B0, truth.graph, truth.targets, Hn, Bn, tn)
    est, null = {k: est[k] for k in _KEYS}, {k: null[k] for k in _KEYS}
    if problem.setting.get("interventions", "perfect") != "perfect":
        # soft interventions identify H only up to mixing with ancestors' rows: no H or B0 error
        for out in (est, null):
            out["h_error"] = out["b0_error"] = float("nan")
    return est, null
