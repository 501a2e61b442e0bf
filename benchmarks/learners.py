"""Learners a benchmark can name: the toolkit's learners, the peers, and the evaluation baselines.

``make_learner(name, params, problem)`` builds an estimator for one task.
Evaluation baselines that are built from the truth (oracles) or from the
problem's metadata get it injected here, explicitly: an ``__init__``
parameter called ``problem``, ``graph`` (the true graph) or
``feature_names`` receives it unless the suite sets it. Nothing else of the
truth reaches a learner.

A learner with a ``random_state`` parameter that the suite leaves unset gets
the task's seed, so that seeds differ across a sweep's repetitions and every
task is reproducible.
"""

from __future__ import annotations

import importlib
import inspect

from crl.exceptions import UnknownNameError

__all__ = ["list_learners", "learner_class", "learner_parameters", "make_learner", "INJECTED"]

#: name -> (module, attribute). crl's own learners are added from crl.available_learners().
_EXTRA = {
    "OracleEncoder": ("identifiability.baselines", "OracleEncoder"),
    "RandomEncoder": ("identifiability.baselines", "RandomEncoder"),
    "OracleGraph": ("identifiability.baselines", "OracleGraph"),
    "EmptyGraph": ("identifiability.baselines", "EmptyGraph"),
    "FCIPeer": ("crl.baselines.causallearn", "FCIPeer"),
    "GINPeer": ("crl.baselines.causallearn", "GINPeer"),
    "RLCDPeer": ("crl.baselines.causallearn", "RLCDPeer"),
    # Rep4Ex's comparison models (rep4ex.md §4); Rep4ExOracle sees the true latents by design
    "Rep4ExAE": ("crl.rep4ex", "Rep4ExAE"),
    "Rep4ExVAE": ("crl.rep4ex", "Rep4ExVAE"),
    "Rep4ExDirect": ("crl.rep4ex", "Rep4ExDirect"),
    "Rep4ExLinear": ("crl.rep4ex", "Rep4ExLinear"),
    "Rep4ExOracle": ("crl.rep4ex", "Rep4ExOracle"),
}

#: Constructor parameters filled from the problem when a suite does not set them.
INJECTED = ("problem", "graph", "feature_names")


def _registry() -> dict[str, tuple[str, str]]:
    import importlib.util

    import crl

    reg = {name: entry for name, entry in _EXTRA.items() if importlib.util.find_spec(entry[0]) is not None}
    for name in crl.available_learners():
        reg[name] = (crl._LEARNERS[name], name)
    return reg


def list_learners() -> list[str]:
    """Every learner name a suite may use."""
    return sorted(_registry())


def learner_class(name: str):
    """The class registered under ``name``."""
    reg = _registry()
    if name not in reg:
        raise UnknownNameError(f"learner: expected one of {sorted(reg)}, got {name!r}")
    module, attr = reg[name]
    return getattr(importlib.import_module(module), attr)


def learner_parameters(name: str) -> list[str]:
    """Hyperparameters a suite may set for ``name`` (constructor parameters)."""
    sig = inspect.signature(learner_class(name).__init__)
    return [
        k for k, p in sig.parameters.items()
        if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def make_learner(name: str, params=None, problem=None, seed=None):
    """Instantiate ``name`` with ``params``, injecting :data:`INJECTED` parameters from ``problem``.

    ``seed`` (the task's seed) becomes ``random_state`` when the learner takes one and
    ``params`` does not set it.
    """
    cls = learner_class(name)
    kwargs = dict(params or {})
    accepted = learner_parameters(name)
    if seed is not None and "random_state" in accepted and "random_state" not in kwargs:
        kwargs["random_state"] = int(seed)
    if problem is not None:
        sources = {"problem": problem, "graph": problem.truth.graph, "feature_names": problem.feature_names or None}
        for key in INJECTED:
            if key in accepted and key not in kwargs:
                kwargs[key] = sources[key]
    return cls(**kwargs)
