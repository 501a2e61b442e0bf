"""causal-learn's FCI behind the structure-learner contract (see :mod:`crl.baselines.causallearn`)."""

from __future__ import annotations

import logging
import time

from crl.base import Claim
from crl.baselines._common import (
    _CausalLearnPeer,
    _prepare,
    _quiet,
    _relabel,
)
from crl.graphs import from_causallearn
from crl.validation import check_choice, check_int, check_level

__all__ = ['FCIPeer']

logger = logging.getLogger(__name__)

class FCIPeer(_CausalLearnPeer):
    """causal-learn's FCI (``causallearn.search.ConstraintBased.FCI.fci``): a PAG over X.

    FCI allows hidden confounders but outputs no hidden nodes: ``graph_`` is a
    partial ancestral graph over the observed columns (kind ``"pag"``, marks
    ``-->``, ``<->``, ``o->``, ``o-o``, ``---``), ``n_latents_ == 0``.

    Parameters
    ----------
    alpha : float in (0, 1)
        Significance level of the conditional independence tests.
    indep_test : {"fisherz", "kci", "rcit", "fastkci"}
        causal-learn's CI test (continuous data only; ``fisherz`` assumes
        linear-Gaussian data, the kernel tests do not).
    depth : int >= -1
        Largest conditioning set in the adjacency search; -1 is unlimited.
    max_path_length : int >= -1
        Longest discriminating path (rule R4); -1 is unlimited.
    feature_names : sequence of hashable, optional
        Node names (default: DataFrame columns, else ``"X1".."Xp"``).

    Attributes
    ----------
    graph_ : networkx.DiGraph
        The PAG, kind ``"pag"``, every node ``latent=False``.
    adjacency_ : ndarray (p, p)
        ``to_adjacency(graph_)`` (``A[i, j] != 0``: stored edge ``i -> j``).
    n_latents_ : int
        Always 0.
    peer_info_ : dict
        ``library``, ``version``, ``method``, ``options``, ``workarounds`` (none).

    Notes
    -----
    Claim: a PAG is a Markov equivalence class of maximal ancestral graphs over
    the observed variables, with the hidden variables marginalised. No name in
    :data:`crl.base.EQUIVALENCES` says exactly that; the closest is ``"mec"``
    composed with ``"latent_relabeling"``: the evaluators then pad ``graph_``
    with isolated hidden nodes and score it over X ∪ L, so every edge at a
    latent counts as missed (rlcd.md §8), and score it as a plain graph when
    the truth has no hidden nodes. (``"mec"`` alone would ask the evaluators
    to compare a graph over X with a truth over X ∪ L.) It requires a linear
    model because the default test is Fisher-z.
    """

    claims = Claim(
        ("mec", "latent_relabeling"),
        requires={"latent_model": "linear"},
        reference="Spirtes et al. (FCI); Zhang (2008) for the orientation rules; causal-learn fci",
    )
    INDEP_TESTS = ("fisherz", "kci", "rcit", "fastkci")

    def __init__(self, alpha=0.05, indep_test="fisherz", depth=-1, max_path_length=-1, feature_names=None):
        self.alpha = alpha
        self.indep_test = indep_test
        self.depth = depth
        self.max_path_length = max_path_length
        self.feature_names = feature_names

    def fit(self, X, y=None):
        """Run FCI on ``X`` (``y`` is ignored). Returns ``self``."""
        alpha = check_level(self.alpha)
        test = check_choice(self.indep_test, "indep_test", self.INDEP_TESTS)
        depth = check_int(self.depth, "depth", minimum=-1)
        max_path_length = check_int(self.max_path_length, "max_path_length", minimum=-1)
        arr, names = _prepare(X, self.feature_names)
        from causallearn.search.ConstraintBased.FCI import fci

        t0 = time.perf_counter()
        neutral = [f"x{i}" for i in range(arr.shape[1])]
        pag, _edges = _quiet(
            fci,
            arr,
            test,
            alpha,
            depth=depth,
            max_path_length=max_path_length,
            verbose=False,
            show_progress=False,
            node_names=neutral,
        )
        G = _relabel(from_causallearn(pag), dict(zip(neutral, names, strict=True)), names, [])
        G.graph["kind"] = "pag"  # a PAG whatever marks it happens to contain
        options = {"alpha": alpha, "indep_test": test, "depth": depth, "max_path_length": max_path_length}
        return self._finish(
            G, names, method="causallearn.search.ConstraintBased.FCI.fci", options=options, workarounds=[], t0=t0
        )


# ---------------------------------------------------------------------------
# GIN
