"""LinearCD's model scorer: one order-respecting alignment for H, B0 and targets, with a null."""

import numpy as np
import pytest

from crl.graphs import to_adjacency
from identifiability import evaluate
from identifiability.baselines import RandomEncoder
from identifiability.linear_model import applies, linear_model_scores, scores
from simulators.latent import linear_cd_problem


def _truth(seed, d=5, **kw):
    P = linear_cd_problem(d, 2 * d, n_per_env=1_000, sampling="wishart", random_state=seed, **kw)
    return P, P.truth.params["H"], P.truth.params["B"][0], P.truth.targets


def _estimate_from_truth(P, rng, H=None):
    """The truth in another topological order (sources first), rescaled, targets relabelled.

    Rows of the estimated unmixing are normalised by their own signed max-abs entry (as a learner
    does) and ``B0`` is expressed in the same latent scale.
    """
    A = (to_adjacency(P.truth.graph) != 0).astype(float)
    d = len(A)
    order = []  # a random topological order of the true DAG
    remaining = set(range(d))
    while remaining:
        free = sorted(v for v in remaining if not any(A[u, v] for u in remaining))
        v = free[rng.integers(len(free))]
        order.append(v)
        remaining.remove(v)
    order = np.array(order)  # estimated latent i is true latent order[i]
    H = P.truth.params["H"] if H is None else H
    B0 = P.truth.params["B"][0]
    H_hat = H[order]
    c = H_hat[np.arange(d), np.argmax(np.abs(H_hat), axis=1)]  # z_hat_i = z_order[i] / c_i
    H_hat = H_hat / c[:, None]
    B_hat = B0[np.ix_(order, order)] * c[None, :]
    B_hat = B_hat * np.sign(np.diag(B_hat))[:, None]
    inverse = np.argsort(order)
    T = P.truth.targets
    targets = np.array([-1 if not row.any() else inverse[np.flatnonzero(row)[0]] for row in T])
    return H_hat, B_hat, targets


@pytest.mark.parametrize("seed", range(4))
def test_truth_in_another_order_and_scale_scores_perfectly(seed):
    P, H, B0, T = _truth(seed)
    H_hat, B_hat, targets = _estimate_from_truth(P, np.random.default_rng(seed))
    sc = linear_model_scores(H, B0, P.truth.graph, T, H_hat, B_hat, targets)
    assert sc["h_error"] < 1e-12 and sc["b0_error"] < 1e-12
    assert sc["all_targets_correct"] == 1.0 and sc["targets_correct"] == 1.0
    assert sc["matching"].startswith("topological_")


def test_one_alignment_for_everything():
    P, H, B0, T = _truth(1)
    H_hat, B_hat, targets = _estimate_from_truth(P, np.random.default_rng(0))
    # swap the targets of two contexts: the alignment follows the targets, so H and B0 both get worse
    bad = targets.copy()
    i, j = 1, 2
    bad[i], bad[j] = bad[j], bad[i]
    sc = linear_model_scores(H, B0, P.truth.graph, T, H_hat, B_hat, bad)
    assert sc["all_targets_correct"] == 0.0 and sc["targets_correct"] < 1.0
    good = linear_model_scores(H, B0, P.truth.graph, T, H_hat, B_hat, targets)
    assert sc["h_error"] > good["h_error"] + 0.1 or sc["targets_correct"] >= 0.6


def test_near_tied_normaliser_does_not_flip_a_row():
    P, H, B0, T = _truth(2)
    H = H.copy()
    r = 0
    j = int(np.argmax(np.abs(H[r])))
    k = (j + 1) % H.shape[1]
    H[r, k] = -0.999999  # a second entry of (almost) the same magnitude, opposite sign
    est = H.copy()
    est[r, k] = -1.000001  # a tiny estimation error moves the signed max-abs entry: the row flips sign
    H_hat, B_hat, targets = _estimate_from_truth(P, np.random.default_rng(1), H=est)
    sc = linear_model_scores(H, B0, P.truth.graph, T, H_hat, B_hat, targets)
    assert sc["h_error"] < 1e-4  # the estimate's own normaliser would give about 2 ||row|| >= 2
    assert sc["b0_error"] < 1e-4


def test_shape_mismatch_gives_nan():
    P, H, B0, T = _truth(3)
    sc = linear_model_scores(H, B0, P.truth.graph, T, H[:-1], B0[:-1, :-1], np.zeros(len(T), dtype=int))
    assert np.isnan(sc["h_error"]) and sc["all_targets_correct"] == 0.0


def test_applies_and_null():
    from crl.linear import LinearCD

    P = linear_cd_problem(4, 8, n_per_env=100_000, sampling="wishart", random_state=7)
    est = LinearCD().fit_statistics(P.statistics["precisions"])
    assert applies(est, P)
    assert not applies(RandomEncoder(4).fit(np.ones((3, 8))), P)
    sc, null = scores(est, P, random_state=0)
    assert set(sc) == set(null) == {"h_error", "b0_error", "all_targets_correct", "targets_correct"}
    assert sc["h_error"] < 0.05 and null["h_error"] > 1.0
    assert null["h_error"] <= 2 * np.sqrt(est.unmixing_.size)  # normalised rows: a wrong row's error is bounded
    assert sc["all_targets_correct"] == 1.0
    assert np.isfinite(null["b0_error"]) and null["b0_error"] > sc["b0_error"]
    # the null is seeded
    assert scores(est, P, random_state=0)[1] == null


def test_soft_problem_has_no_h_error():
    from crl.linear import LinearCD

    P = linear_cd_problem(4, 8, n_per_env=20_000, interventions="soft", random_state=8)
    rep = evaluate(LinearCD(interventions="soft"), P)
    assert rep.equivalence == "ancestors"
    assert np.isnan(rep.scores["model.h_error"]) and np.isnan(rep.null["model.h_error"])
    assert "model.targets_correct" in rep.scores
