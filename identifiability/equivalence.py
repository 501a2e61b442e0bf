"""Equivalence classes: align an estimate to the truth, then score it.

Each class implements ``align(pair) -> Alignment`` and
``score(pair, alignment) -> dict``; scores include a violation measure (how
far the estimate is from the class). One alignment is applied to every
derived object (codes, unmixing, latent graph, targets), never re-fitted per
object (evaluation.md §0.2). Alignments are fitted on training rows and
scores computed on held-out rows.

Index conventions: true latents are the columns of ``Truth.Z`` (``d``);
estimated latents are the columns of ``Ẑ`` (``d_hat``). An alignment's
``permutation[i]`` is the estimated column matched to true latent ``i``
(−1 when unmatched). Latent graphs are networkx graphs whose node order is
the column order; adjacency ``A[i, j] != 0`` means ``i -> j``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from crl.exceptions import UnknownNameError, ValidationError
from crl.graphs import to_adjacency, transitive_closure
from identifiability.graph_metrics import shd, shd_tc, shd_tr, skeleton_scores
from identifiability.latent_graphs import latent_graph_scores
from identifiability.latent_metrics import (
    amari_index,
    mcc_details,
    mixing_error,
    permutation_from_correlation,
    r2_readout,
    weak_mcc,
)

__all__ = [
    "Pair",
    "Alignment",
    "Equivalence",
    "PermutationScaling",
    "PermutationMonotone",
    "Affine",
    "Block",
    "Ancestors",
    "MEC",
    "LatentRelabeling",
    "get_equivalence",
    "EQUIVALENCE_CLASSES",
]


@dataclass(frozen=True)
class Pair:
    """The truth and the estimate side by side.

    Attributes
    ----------
    z_train, z_test : ndarray of shape (n, d) or None
        True latents on training and held-out rows.
    zhat_train, zhat_test : ndarray of shape (n, d_hat) or None
        Estimated latents on the same rows.
    true_graph, est_graph : networkx.DiGraph or None
        Latent graphs (node order = column order) or graphs over observed
        and hidden variables (nodes matched by name).
    mixing : ndarray of shape (p, d) or None
        True linear mixing (``X = Z @ mixing.T``).
    unmixing : ndarray of shape (d_hat, p) or None
        Estimated linear unmixing (``Ẑ = X @ unmixing.T``).
    blocks : mapping or None
        Block key -> (estimated columns, true latent indices) for ``block``.
    """

    z_train: np.ndarray | None = None
    z_test: np.ndarray | None = None
    zhat_train: np.ndarray | None = None
    zhat_test: np.ndarray | None = None
    true_graph: nx.DiGraph | None = None
    est_graph: nx.DiGraph | None = None
    mixing: np.ndarray | None = None
    unmixing: np.ndarray | None = None
    blocks: Mapping[Any, tuple] | None = None

    @property
    def has_rows(self) -> bool:
        return self.z_test is not None and self.zhat_test is not None

    @property
    def linear(self) -> bool:
        return self.mixing is not None and self.unmixing is not None


@dataclass(frozen=True)
class Alignment:
    """An alignment of the estimate to the truth.

    ``permutation[i]`` is the estimated latent matched to true latent ``i``
    (−1 if none); ``signs`` the matched signs; ``matching`` says how it was
    found (``"from_latents"``, ``"from_mixing"``, ``"graph_optimised"``,
    ``"by_name"``).
    """

    name: str
    permutation: np.ndarray | None = None
    signs: np.ndarray | None = None
    matching: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _corr(a, b, spearman=False):
    if spearman:
        from scipy.stats import rankdata

        a, b = rankdata(a, axis=0), rankdata(b, axis=0)
    a = (a - a.mean(0)) / np.where(a.std(0) > 0, a.std(0), 1.0)
    b = (b - b.mean(0)) / np.where(b.std(0) > 0, b.std(0), 1.0)
    return a.T @ b / len(a)


def _effective_transform(pair: Pair) -> np.ndarray:
    """T (d_hat, d): Ĥ G in the linear case, else OLS coefficients of ẑ on z (train rows)."""
    if pair.linear:
        return pair.unmixing @ pair.mixing
    Z = np.c_[pair.z_train, np.ones(len(pair.z_train))]
    coef, *_ = np.linalg.lstsq(Z, pair.zhat_train, rcond=None)
    return coef[:-1].T


def _aligned_adjacency(est_graph, perm, d):
    """Estimated latent adjacency re-indexed by true latent (unmatched rows/cols zero)."""
    A_hat = (to_adjacency(est_graph) != 0).astype(float)
    out = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            if perm[i] >= 0 and perm[j] >= 0:
                out[i, j] = A_hat[perm[i], perm[j]]
    return out


def _latent_graph_scores(pair: Pair, alignment: Alignment, *, closure=False) -> dict:
    if pair.true_graph is None or pair.est_graph is None or alignment.permutation is None:
        return {}
    d = pair.true_graph.number_of_nodes()
    A = (to_adjacency(pair.true_graph) != 0).astype(float)
    A_hat = _aligned_adjacency(pair.est_graph, alignment.permutation, d)
    out = {"graph_shd": shd(A, A_hat), "graph_skeleton_f1": skeleton_scores(A, A_hat)["f1"]}
    if closure:
        out["graph_shd_tc"] = shd_tc(A, A_hat)
        out["graph_shd_tr"] = shd_tr(A, A_hat)
    return out


class Equivalence:
    """Base class: ``align`` then ``score``; subclasses set ``name``."""

    name = ""

    def align(self, pair: Pair) -> Alignment:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, pair: Pair) -> tuple[Alignment, dict[str, float]]:
        alignment = self.align(pair)
        return alignment, self.score(pair, alignment)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _need_rows(pair: Pair, name: str):
    if not pair.has_rows:
        raise ValidationError(f"{name}: expected true and estimated latents on held-out rows, got none")


class PermutationScaling(Equivalence):
    """ẑ = P D z + b: Hungarian on |Pearson| (train), signed held-out MCC; Amari/mixing error when linear.

    Violation: mean over matched pairs of ``1 - R²`` of the per-pair affine
    fit on held-out rows (``1 - corr²``).
    """

    name = "permutation_scaling"
    spearman = False

    def align(self, pair: Pair) -> Alignment:
        if pair.has_rows:
            C = _corr(pair.z_train, pair.zhat_train, self.spearman)
            perm, _ = permutation_from_correlation(C)
            signs = np.array([np.sign(C[i, j]) if j >= 0 else 0.0 for i, j in enumerate(perm)])
            return Alignment(self.name, perm, signs, "from_latents")
        if pair.linear:
            T = _effective_transform(pair)  # (d_hat, d)
            T = T / np.maximum(np.abs(T).max(axis=0, keepdims=True), 1e-300)
            perm, _ = permutation_from_correlation(T.T)
            signs = np.array([np.sign(T[j, i]) if j >= 0 else 0.0 for i, j in enumerate(perm)])
            return Alignment(self.name, perm, signs, "from_mixing")
        raise ValidationError(f"{self.name}: expected latent rows or linear (un)mixing matrices, got neither")

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        out: dict[str, float] = {}
        correlation = "spearman" if self.spearman else "pearson"
        if pair.has_rows:
            det = mcc_details(
                pair.z_test, pair.zhat_test, correlation=correlation, train=(pair.z_train, pair.zhat_train)
            )
            out["mcc"] = det["score"]
            C = _corr(pair.z_test, pair.zhat_test, self.spearman)
            r2 = [C[i, j] ** 2 if j >= 0 else 0.0 for i, j in enumerate(alignment.permutation)]
            out["violation"] = float(max(0.0, 1.0 - np.mean(r2)))
            if not self.spearman:
                out["weak_mcc"] = weak_mcc(pair.z_test, pair.zhat_test, train=(pair.z_train, pair.zhat_train))
        if pair.linear:
            T = _effective_transform(pair)
            if T.shape[0] == T.shape[1]:
                out["amari"] = amari_index(T)
            out["mixing_error"] = mixing_error(pair.mixing, np.linalg.pinv(pair.unmixing))
        out.update(_latent_graph_scores(pair, alignment))
        return out


class PermutationMonotone(PermutationScaling):
    """ẑ_π(i) = h_i(z_i), h_i strictly monotone: Hungarian on |Spearman|, held-out Spearman MCC.

    Violation: ``1 - ρ_s²`` of matched pairs; ``pearson_gap`` (Spearman minus
    Pearson MCC) is informative only.
    """

    name = "permutation_monotone"
    spearman = True

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        out = super().score(pair, alignment)
        if pair.has_rows:
            pearson = mcc_details(pair.z_test, pair.zhat_test, train=(pair.z_train, pair.zhat_train))["score"]
            out["pearson_gap"] = out["mcc"] - pearson
        return out


class Affine(Equivalence):
    """ẑ = A z + b with A invertible: weak MCC (CCA) and linear R² readout fitted on train.

    Violation: nonlinear minus linear R² (kernel ridge on a subsample).
    """

    name = "affine"

    def align(self, pair: Pair) -> Alignment:
        _need_rows(pair, self.name)
        return Alignment(self.name, matching="linear_regression")

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        train = (pair.z_train, pair.zhat_train)
        lin = r2_readout(pair.z_test, pair.zhat_test, regressor="linear", train=train)
        nonlin = r2_readout(pair.z_test, pair.zhat_test, regressor="kernel_ridge", train=train)
        out = {
            "weak_mcc": weak_mcc(pair.z_test, pair.zhat_test, train=train),
            "r2_linear": lin["mean"],
            "r2_nonlinear": nonlin["mean"],
            "violation": float(max(0.0, nonlin["mean"] - lin["mean"])),
            "mcc": mcc_details(pair.z_test, pair.zhat_test, train=train)["score"],
        }
        return out


class Block(Equivalence):
    """Each claimed block ĉ = h(z_S), h invertible: in-block nonlinear R² ≈ 1.

    Violation: mean excess of out-of-block R² over the oracle readout from
    the true z_S (dependent latents make out-of-block R² legitimately > 0).
    """

    name = "block"

    def align(self, pair: Pair) -> Alignment:
        _need_rows(pair, self.name)
        if not pair.blocks:
            raise ValidationError("block: expected the estimate's blocks (key -> columns), got none")
        return Alignment(self.name, matching="by_block_key")

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        ins, excess = [], []
        train = (pair.z_train, pair.zhat_train)
        for key, (cols, latents) in pair.blocks.items():
            cols, latents = list(cols), list(latents)
            if not cols or not latents:
                continue
            res = r2_readout(
                pair.z_test, pair.zhat_test, regressor="kernel_ridge", blocks={key: (latents, cols)}, train=train
            )
            ins.append(res["in_block"][key])
            if res["out_block"][key] is not None:  # None when the block covers every latent
                excess.append(max(0.0, res["out_block"][key] - res["oracle_out_block"][key]))
        return {
            "in_block_r2": float(np.mean(ins)) if ins else float("nan"),
            "violation": float(np.mean(excess)) if excess else 0.0,
            "n_blocks": float(len(ins)),
        }


class Ancestors(Equivalence):
    """ẑ_π(i) depends only on z_i and its ancestors: the partial order is identified.

    Alignment maximises the mass of the row-normalised effective transform
    on the allowed mask ``M[i, j] = 1`` iff ``j == i`` or ``j`` is an
    ancestor of ``i`` (Hungarian). Scores: SHD of transitive closures and
    reductions; MCC is reported as ``mcc_flagged`` since it penalises mixing
    that the theory allows. Violation: ``extra_nz`` entries ``|T| >= tau``
    outside the mask, their ratio, and ``‖T ⊙ ¬M‖_F``.
    """

    name = "ancestors"

    def __init__(self, tau: float = 0.1):
        self.tau = tau

    def _mask(self, pair: Pair) -> np.ndarray:
        if pair.true_graph is None:
            raise ValidationError("ancestors: expected the true latent graph, got None")
        tc = (to_adjacency(transitive_closure(pair.true_graph)) != 0).astype(float)
        return np.eye(tc.shape[0]) + tc.T  # M[i, j] = 1 iff j == i or j -> ... -> i

    def align(self, pair: Pair) -> Alignment:
        M = self._mask(pair)
        T = np.abs(_effective_transform(pair))
        T = T / np.maximum(T.max(axis=1, keepdims=True), 1e-300)
        mass = M @ T.T  # (d, d_hat): mass of estimated row r on the allowed set of true latent i
        perm, _ = permutation_from_correlation(mass)
        return Alignment(self.name, perm, matching="effective_transform", extra={"T": T, "mask": M})

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        T, M = alignment.extra["T"], alignment.extra["mask"]
        perm = alignment.permutation
        d = M.shape[0]
        rows = np.array([T[perm[i]] if perm[i] >= 0 else np.zeros(T.shape[1]) for i in range(d)])
        outside = rows * (1 - M)
        n_out = int((np.abs(outside) >= self.tau).sum())
        free = int(d * d - M.sum())
        out = {
            "extra_nz": float(n_out),
            "extra_nz_ratio": float(n_out / free) if free else 0.0,
            "violation": float(np.linalg.norm(outside)),
        }
        if pair.has_rows:
            out["mcc_flagged"] = mcc_details(pair.z_test, pair.zhat_test, train=(pair.z_train, pair.zhat_train))[
                "score"
            ]
        out.update(_latent_graph_scores(pair, alignment, closure=True))
        return out


class MEC(Equivalence):
    """Ĝ in the Markov equivalence class of G: CPDAG SHD, skeleton and arrowhead scores (nodes by name)."""

    name = "mec"

    def align(self, pair: Pair) -> Alignment:
        if pair.true_graph is None or pair.est_graph is None:
            raise ValidationError("mec: expected a true and an estimated graph, got None")
        return Alignment(self.name, matching="by_name")

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        sk = skeleton_scores(pair.true_graph, pair.est_graph)
        return {
            "shd_cpdag": shd(pair.true_graph, pair.est_graph, compare="cpdag"),
            "skeleton_f1": sk["f1"],
            "skeleton_precision": sk["precision"],
            "skeleton_recall": sk["recall"],
        }


class LatentRelabeling(Equivalence):
    """Ĝ = G up to renaming hidden nodes: best bijection of padded hidden nodes (rlcd.md §7).

    ``marks="cpdag"`` compares Markov equivalence classes (for claims that
    include ``mec``); ``"as_given"`` scores the orientations as output (for
    methods such as OLC that identify directions).
    """

    name = "latent_relabeling"

    def __init__(self, marks: str = "as_given"):
        self.marks = marks

    def align(self, pair: Pair) -> Alignment:
        if pair.true_graph is None or pair.est_graph is None:
            raise ValidationError("latent_relabeling: expected a true and an estimated graph, got None")
        res = latent_graph_scores(pair.true_graph, pair.est_graph, marks=self.marks)
        matching = "approximate" if res.get("approximate") else "exact"
        return Alignment(self.name, matching=matching, extra={"result": res})

    def score(self, pair: Pair, alignment: Alignment) -> dict[str, float]:
        res = alignment.extra["result"]
        keys = (
            "f1_all", "f1_observed", "shd", "shd_marks", "directed_precision", "directed_recall", "directed_f1",
            "n_hidden_error", "paper_f1_all", "paper_shd",
        )
        return {k: float(res[k]) for k in keys if k in res}


EQUIVALENCE_CLASSES = {
    cls.name: cls
    for cls in (PermutationScaling, PermutationMonotone, Affine, Block, Ancestors, MEC, LatentRelabeling)
}


def get_equivalence(name: str) -> Equivalence:
    """An instance of the equivalence class called ``name``."""
    if name not in EQUIVALENCE_CLASSES:
        raise UnknownNameError(f"equivalence: expected one of {sorted(EQUIVALENCE_CLASSES)}, got {name!r}")
    return EQUIVALENCE_CLASSES[name]()
