"""Linear causal disentanglement via interventions (Squires, Seigal, Bhate, Uhler, ICML 2023).

:class:`LinearCD` recovers ``X = G Z`` with a linear latent SCM from one
intervention per latent, targets unknown, by a partial-order RQ
decomposition of the per-context precision matrices (``linear_cd.md``).
"""

from crl.linear._linear_cd import LinearCD

__all__ = ["LinearCD"]
