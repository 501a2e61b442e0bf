"""Extrapolation scores for learners that predict interventional outcomes (``predict_do``).

Applies when the learner has ``predict_do`` and the problem's truth gives
test actions and their true effects (``truth.params["test_actions"]``,
``["do_effect"]``; the Rep4Ex generator, rep4ex.md §5-6). Scores, through
:func:`identifiability.latent_metrics.extrapolation_error` with the
``in_support`` mask:

- ``extrapolation_mse_out``: MSE of ``E[Y | do(A = a*)]`` over test actions
  outside the training support (the headline);
- ``extrapolation_mse_in``: the same inside the support;
- ``extrapolation_mse``: over the whole grid.

The null baseline predicts the mean of the problem's observed outcomes ``y``
for every action (an estimate that ignores the actions). A score absent
from the dict means its group of test actions is empty.
"""

from __future__ import annotations

import numpy as np

from identifiability.latent_metrics import extrapolation_error

__all__ = ["applies", "scores"]


def applies(learner, problem) -> bool:
    """True when ``learner`` predicts do-effects and ``problem`` knows the true ones."""
    params = getattr(problem.truth, "params", None) or {}
    return callable(getattr(learner, "predict_do", None)) and "test_actions" in params and "do_effect" in params


def _summary(do_true, do_hat, in_support) -> dict[str, float]:
    res = extrapolation_error(do_true, do_hat, in_support=in_support)
    out = {"extrapolation_mse": res["mse"]}
    for key in ("in", "out"):
        value = res.get(f"mse_{key}")
        if value is not None:
            out[f"extrapolation_mse_{key}"] = value
    return out


def scores(learner, problem, *, random_state=0) -> tuple[dict[str, float], dict[str, float]]:
    """Extrapolation MSEs of ``learner.predict_do`` on the problem's test actions, and the null's.

    Parameters
    ----------
    learner : fitted learner with ``predict_do(actions_star) -> (G,)``
    problem : simulators.Problem
        With ``truth.params`` holding ``test_actions`` (G, k), ``do_effect``
        (G,) and optionally ``in_support`` (G,) bool.
    random_state : int
        Unused (the scores are deterministic given the fitted learner).

    Returns
    -------
    scores, null : dict of str to float
    """
    params = problem.truth.params
    actions = np.asarray(params["test_actions"], dtype=float)
    truth = np.asarray(params["do_effect"], dtype=float)
    in_support = params.get("in_support")
    in_support = None if in_support is None else np.asarray(in_support, dtype=bool)
    predicted = np.asarray(learner.predict_do(actions), dtype=float).reshape(truth.shape)
    null_level = float(np.mean(problem.y)) if problem.y is not None else 0.0
    null = np.full_like(truth, null_level)
    return _summary(truth, predicted, in_support), _summary(truth, null, in_support)
