"""Evaluators: score learners up to the equivalence class the theory allows.

``evaluate(learner, problem)`` reads what the setting identifies
(:mod:`identifiability.theory`), checks the learner's claim, aligns the
estimate to the truth under the claimed class
(:mod:`identifiability.equivalence`), scores it on held-out rows and puts a
null baseline next to every score. The metrics are pure functions on arrays.
Imports without torch.
"""

from identifiability.disentanglement import dci, mig
from identifiability.evaluate import evaluate
from identifiability.graph_metrics import (
    aid,
    arrowhead_scores,
    directed_scores,
    random_graph_baseline,
    shd,
    shd_tc,
    shd_tr,
    sid,
    skeleton_f1,
    skeleton_scores,
)
from identifiability.latent_graphs import latent_graph_scores
from identifiability.latent_metrics import (
    amari_index,
    extrapolation_error,
    mcc,
    mcc_details,
    mixing_error,
    null_encoder,
    r2_readout,
    weak_mcc,
)
from identifiability.ordering import topological_matching
from identifiability.report import Report

__all__ = [
    "evaluate",
    "Report",
    "mcc",
    "mcc_details",
    "weak_mcc",
    "r2_readout",
    "dci",
    "mig",
    "mixing_error",
    "amari_index",
    "extrapolation_error",
    "null_encoder",
    "shd",
    "shd_tc",
    "shd_tr",
    "sid",
    "aid",
    "skeleton_f1",
    "skeleton_scores",
    "arrowhead_scores",
    "directed_scores",
    "random_graph_baseline",
    "latent_graph_scores",
    "topological_matching",
]
