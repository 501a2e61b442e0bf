"""Method-specific scores that need a fitted model's parameters, not only its codes or graph.

A scorer module defines ``applies(learner, problem) -> bool`` and
``scores(learner, problem, *, random_state) -> (scores, null)`` (two dicts
of floats, the second the null baseline of the same keys).
:func:`extra_scores` runs every scorer that applies; :func:`identifiability.evaluate`
adds the results to the report under the ``model.`` prefix. Scorer modules
are listed in :data:`SCORER_MODULES` and imported only when present.
"""

from __future__ import annotations

import importlib
import importlib.util

__all__ = ["SCORER_MODULES", "extra_scores"]

#: Modules providing method-specific scorers (e.g. the LinearCD metrics of linear_cd.md §7).
SCORER_MODULES = ("identifiability.linear_model", "identifiability.extrapolation_scores")


def extra_scores(learner, problem, *, random_state=0) -> tuple[dict, dict]:
    """Scores (and null scores) of every applicable scorer, keys prefixed with ``model.``."""
    scores, null = {}, {}
    for name in SCORER_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if module.applies(learner, problem):
            sc, nl = module.scores(learner, problem, random_state=random_state)
            scores.update({f"model.{k}": v for k, v in sc.items()})
            null.update({f"model.{k}": v for k, v in nl.items()})
    return scores, null
