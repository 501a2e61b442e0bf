"""Dispatch on a simulated problem (:func:`from_problem`) and check a learner's claim (:func:`check_claim`).

:func:`check_claim` lives here, next to :func:`from_problem` which it calls
when given a problem, so that :mod:`identifiability.theory._core` imports
none of the topic modules.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from crl.base import Claim
from crl.exceptions import ValidationError
from identifiability.theory._core import _NOT_COVERED, Identifiability, finer_or_equal
from identifiability.theory.graphs import olc, rlcd
from identifiability.theory.linear import (
    action_latents,
    labels_supervised,
    linear_interventions,
    polynomial_interventions,
)
from identifiability.theory.views import multiview

__all__ = ["from_problem", "check_claim"]

# --------------------------------------------------------------------------- dispatch


def _degenerate_from_truth(truth, T) -> set:
    """Latents whose single-target intervention keeps the noise scale (from the environments' SCMs)."""
    envs = truth.params.get("environments")
    obs = np.flatnonzero(~T.any(axis=1))
    if not envs or len(envs) != len(T) or obs.size == 0:
        return set()
    base = np.asarray(envs[obs[0]].noise_std, dtype=float)
    out = set()
    for e in np.flatnonzero(T.sum(axis=1) == 1):
        j = int(np.flatnonzero(T[e])[0])
        if np.isclose(float(envs[e].noise_std[j]), base[j], rtol=1e-9, atol=0.0):
            out.add(j)
    return out


def _not_covered(problem, what: str, extra: str = "") -> Identifiability:
    s = {k: v for k, v in problem.setting.items() if isinstance(v, (str, bool, int, float))}
    return Identifiability(False, None, f"{_NOT_COVERED} {what}{extra}", details={"setting": s},
                           reference="identifiability.theory")


def from_problem(problem) -> Identifiability:
    """State what a simulated problem's setting identifies.

    Reads ``problem.setting``, ``problem.truth`` (graph, targets, params such
    as ``subsets`` and ``M0``) and the shapes of ``views``, ``actions`` and
    ``labels``, and calls the matching function of :mod:`identifiability.theory`.

    Parameters
    ----------
    problem : simulators.Problem

    Returns
    -------
    Identifiability
    """
    if not all(hasattr(problem, a) for a in ("setting", "truth", "name")):
        raise ValidationError(f"problem: expected a simulators.Problem, got {type(problem).__name__}")
    s, truth = problem.setting, problem.truth
    d = len(truth.latent_names) or (truth.Z.shape[1] if truth.Z is not None else None)
    names = truth.latent_names or None
    if s.get("graph_family") == "olc" or "latents_are_roots" in s:
        return olc(truth.graph, gaussian=bool(s.get("gaussian", s.get("noise") == "gaussian")))
    if "rlcd_conditions_hold" in s or (s.get("mixing") == "none" and truth.graph is not None):
        return rlcd(truth.graph)
    if problem.views is not None or "subsets" in truth.params:
        return multiview(truth.params["subsets"], n_latents=d)
    if problem.actions is not None or "actions" in s:
        M0 = truth.params.get("M0")
        k = problem.actions.shape[1] if problem.actions is not None else np.shape(M0)[1]
        return action_latents(M0, k=k, d=d if d is not None else np.shape(M0)[0])
    if s.get("supervision") == "labels" and problem.labels is not None:
        return labels_supervised(problem.labels.shape[1], d, graph_known=bool(s.get("graph_known", False)))
    if truth.targets is not None:
        T = np.asarray(truth.targets, dtype=bool)
        kind = s.get("interventions", "perfect")
        if s.get("mixing") == "linear" and s.get("latent_model") == "linear":
            deg = set(s.get("degenerate_targets", ())) | _degenerate_from_truth(truth, T)
            return linear_interventions(T, kind=kind, graph=truth.graph, degenerate=sorted(deg), names=names)
        if s.get("mixing") == "polynomial":
            poly_kind = "do" if kind == "perfect" and "do_value" in s else kind
            return polynomial_interventions(T, degree=s.get("mixing_degree", 2), kind=poly_kind)
        what = (
            f"a latent SCM of kind {s.get('latent_model')!r} with {s.get('mixing')!r} mixing and "
            f"{kind} interventions (one per latent: {bool(s.get('one_per_latent', False))})"
        )
        return _not_covered(
            problem, what,
            "; the nearest results need more than this setting gives (Buchholz et al. 2023: linear Gaussian "
            "latents; von Kuegelgen et al. 2023 and Varici et al. 2024: two interventions per latent; not "
            "checked against the papers here), so no class is claimed",
        )
    return _not_covered(problem, f"the setting of problem {problem.name!r}: {dict(problem.setting)}")


def check_claim(claim, setting, *, theory: Identifiability | None = None) -> list[str]:
    """Check a learner's claim against a setting and the theory.

    Parameters
    ----------
    claim : crl.base.Claim or object with a ``claims`` attribute (a learner)
    setting : simulators.Problem or mapping
        A problem (its setting is checked and :func:`from_problem` gives the
        theory) or a setting mapping (then pass ``theory`` for the class check).
    theory : Identifiability, optional
        Overrides the theory derived from a problem.

    Returns
    -------
    list of str
        One message per problem: unmet requirements (:meth:`Claim.unmet`),
        a setting the theory does not identify, and a claimed class finer than
        (or not comparable with) the theory's class. Empty when all is well.
    """
    if not isinstance(claim, Claim):
        claim = getattr(claim, "claims", None)
        if not isinstance(claim, Claim):
            raise ValidationError(f"claim: expected a crl.base.Claim or a learner with one, got {claim!r}")
    if hasattr(setting, "setting") and hasattr(setting, "truth"):
        mapping = setting.setting
        if theory is None:
            theory = from_problem(setting)
    elif isinstance(setting, Mapping):
        mapping = setting
    else:
        raise ValidationError(f"setting: expected a Problem or a mapping, got {type(setting).__name__}")
    if theory is not None and not isinstance(theory, Identifiability):
        raise ValidationError(f"theory: expected an Identifiability or None, got {type(theory).__name__}")
    out = list(claim.unmet(mapping))
    if theory is None:
        return out
    claimed = claim.classes
    if not theory.identifiable:
        out.append(f"identifiability: the claim {claimed} has no theorem behind it here: {theory.reason}")
    elif theory.classes and not finer_or_equal(theory.classes, claimed):
        rel = "finer than" if finer_or_equal(claimed, theory.classes) else "not comparable with"
        out.append(
            f"equivalence: the claimed class {claimed} is {rel} the class the theory allows {theory.classes} "
            f"({theory.reason})"
        )
    return out
