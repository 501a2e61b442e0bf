"""Rep4Ex (Saengkyongam et al., ICLR 2024): identifiable representations for intervention extrapolation.

- :class:`Rep4Ex`: autoencoder + MMR penalty (affine identification), then
  control-function extrapolation of ``E[Y | do(A = a*)]``;
- baselines behind the same contract: :class:`Rep4ExAE` (no penalty),
  :class:`Rep4ExVAE`, :class:`Rep4ExDirect` (regression of Y on A),
  :class:`Rep4ExLinear` (the linear encoder that the invariance fixes) and the
  :class:`Rep4ExOracle` (control function on the true latents; benchmarks only);
- building blocks: :func:`mmr_penalty` (:mod:`crl.rep4ex.mmr`),
  :func:`residual_dependence` (:mod:`crl.rep4ex.selection`, restart
  selection) and :class:`ControlFunction` (:mod:`crl.rep4ex.control`).

Imports torch (through :mod:`crl.deep`) only when a model is fitted or loaded.
"""

from crl.rep4ex.baselines import Rep4ExDirect, Rep4ExLinear, Rep4ExOracle, Rep4ExVAE
from crl.rep4ex.control import ControlFunction
from crl.rep4ex.learner import REP4EX_REQUIRES, Rep4Ex, Rep4ExAE
from crl.rep4ex.selection import residual_dependence

__all__ = [
    "REP4EX_REQUIRES",
    "ControlFunction",
    "Rep4Ex",
    "Rep4ExAE",
    "Rep4ExDirect",
    "Rep4ExLinear",
    "Rep4ExOracle",
    "Rep4ExVAE",
    "mmr_penalty",
    "residual_dependence",
]


def __getattr__(name):
    if name == "mmr_penalty":  # torch-backed; imported on demand
        from crl.rep4ex.mmr import mmr_penalty

        return mmr_penalty
    raise AttributeError(f"module 'crl.rep4ex' has no attribute {name!r}")
