"""LinearCD (crl.linear): exact recovery, finite-sample accuracy, invariances, claims and errors.

Seeds below 100 are used here; the learner was developed on seeds 1000-1299
and the benchmark suites use 5000-5099 and 6000-6024.
"""

import warnings

import networkx as nx
import numpy as np
import pytest
from sklearn.base import clone

import crl
from crl.exceptions import (
    CRLError,
    DegenerateDataWarning,
    IdentifiabilityWarning,
    NotFittedError,
    NotIdentifiableError,
    UnknownNameError,
    ValidationError,
)
from crl.graphs import to_adjacency, transitive_closure
from crl.linear import LinearCD, _rq, _stats
from identifiability import evaluate
from identifiability.linear_model import linear_model_scores
from identifiability.theory import from_problem
from simulators import scenario
from simulators.latent import linear_cd_problem


def _problem(seed, d=5, p=None, n=100_000, **kw):
    return linear_cd_problem(d, p or max(2 * d, 10), n_per_env=n, sampling="wishart", random_state=seed, **kw)


def _score(est, P):
    return linear_model_scores(
        P.truth.params["H"], P.truth.params["B"][0], P.truth.graph, P.truth.targets,
        est.unmixing_, est.latent_weights_, est.targets_,
    )


def _true_of_estimated(est, P):
    """Estimated latent -> true latent, read off the targets (every context's target is right here)."""
    T = P.truth.targets
    return {int(est.targets_[c]): int(np.flatnonzero(T[c])[0]) for c in range(1, len(T))}


def _aligned(est, P):
    """Estimated adjacency-type matrices re-indexed by true latent."""
    m = _true_of_estimated(est, P)
    perm = np.array([m[i] for i in range(len(m))])
    Pm = np.zeros((len(perm), len(perm)))
    Pm[perm, np.arange(len(perm))] = 1.0
    return Pm


# ---------------------------------------------------------------------------- exact recovery


@pytest.mark.parametrize("d", [2, 3, 5, 10, 20])
def test_exact_recovery_from_population_precisions(d):
    P = _problem(d, d=d)
    est = LinearCD().fit_statistics(P.truth.params["population_precisions"])
    sc = _score(est, P)
    assert sc["all_targets_correct"] == 1.0
    assert sc["h_error"] < 1e-8 and sc["b0_error"] < 1e-8
    # every context's B, the latent graph and the partial order, under the same alignment
    Pm = _aligned(est, P)
    H = P.truth.params["H"]
    c = (Pm @ est.unmixing_)[np.arange(d), np.argmax(np.abs(H), axis=1)]
    for k, B in enumerate(P.truth.params["B"]):
        Bk = (Pm @ est.B_[k] @ Pm.T) * c[None, :]
        assert np.allclose(Bk * np.sign(np.diag(Bk))[:, None], B, atol=1e-8)
    A = (to_adjacency(P.truth.graph) != 0).astype(float)
    assert np.array_equal((Pm @ (est.adjacency_ != 0) @ Pm.T), A)
    assert np.array_equal(Pm @ to_adjacency(est.partial_order_) @ Pm.T, transitive_closure(A))
    assert np.max(est.fit_residual_) < 1e-10
    assert est.latent_graph_.graph["kind"] == "dag" and nx.is_directed_acyclic_graph(est.latent_graph_)


@pytest.mark.slow
def test_exact_recovery_d40():
    P = _problem(40, d=40, n=1000)
    est = LinearCD().fit_statistics(P.truth.params["population_precisions"])
    sc = _score(est, P)
    assert sc["all_targets_correct"] == 1.0 and sc["h_error"] < 1e-8 and sc["b0_error"] < 1e-8


def test_raw_data_with_p_greater_than_d_estimates_d():
    # X = G Z has rank d < p: n_latents is estimated from the spectrum, the rank-d truncation is exact
    P = linear_cd_problem(4, 9, n_per_env=20_000, random_state=3)
    est = LinearCD().fit(P.X, P.env)
    assert est.n_latents_ == 4 and est.unmixing_.shape == (4, 9)
    # rows are normalised: the signed largest-magnitude entry is +1
    assert np.allclose(est.unmixing_[np.arange(4), np.argmax(np.abs(est.unmixing_), axis=1)], 1.0)
    Zhat = est.transform(P.X)
    C = np.abs(np.corrcoef(Zhat.T, P.truth.Z.T)[:4, 4:])
    assert np.all(C.max(axis=1) > 0.99)
    assert _score(est, P)["all_targets_correct"] == 1.0


# ---------------------------------------------------------------------------- finite samples


def test_finite_sample_accuracy_d5_n1e5():
    # 20 seeded models; the reference reaches median 0.025 and 0.95 all-correct over 100 models
    # (linear_cd.md §8.1); the sampling error of H at n = 1e5 is about 0.015 (Frobenius, 50 entries)
    res = [_score(LinearCD().fit_statistics(P.statistics["precisions"]), P)
           for P in (_problem(s) for s in range(20))]
    h = np.array([r["h_error"] for r in res])
    ok = np.array([r["all_targets_correct"] for r in res])
    assert np.median(h) < 0.05
    assert ok.mean() >= 0.85


def test_known_sample_sizes_calibrate_the_deviance():
    P = _problem(7, n=50_000)
    est = LinearCD().fit_statistics(P.statistics["precisions"], n_per_context=50_000)
    dof = 5 * 5 * 6 // 2 - 25  # saturated minus model parameters
    assert 0.3 < est.deviance_ / dof < 3.0
    assert np.all(est.scores_["gof_pvalue"] > 1e-6)
    unknown = LinearCD().fit_statistics(P.statistics["precisions"])
    assert 0.5 < unknown.scores_["n_effective"] / 50_000 < 2.0
    assert np.allclose(unknown.unmixing_, est.unmixing_, atol=1e-6)


def test_raw_data_with_observation_noise_uses_the_rank_d_truncation():
    P = linear_cd_problem(4, 12, n_per_env=20_000, random_state=11)
    rng = np.random.default_rng(0)
    X = P.X + 0.01 * np.std(P.X) * rng.normal(size=P.X.shape)
    est = LinearCD(n_latents=4).fit(X, P.env)
    assert _score(est, P)["all_targets_correct"] == 1.0
    assert _score(est, P)["h_error"] < 0.2


def test_evaluate_end_to_end():
    P = scenario("linear_cd", random_state=4, n_per_env=20_000)
    rep = evaluate(LinearCD(), P)
    assert rep.equivalence == "permutation_scaling" and rep.identifiable and not rep.warnings
    assert rep.scores["mcc"] > 0.95 and rep.null["mcc"] < 0.2
    assert rep.scores["model.all_targets_correct"] == 1.0
    assert rep.scores["model.h_error"] < 0.1 < rep.null["model.h_error"]
    assert rep.scores["graph_shd"] == 0.0


def test_evaluate_on_statistics_problem():
    P = scenario("linear_cd", random_state=5, n_per_env=100_000, sampling="wishart")
    rep = evaluate(LinearCD(), P)
    assert rep.scores["amari"] < 0.01 and rep.scores["model.h_error"] < 0.05


# ---------------------------------------------------------------------------- soft interventions


@pytest.mark.parametrize("seed", range(5))
def test_soft_interventions_recover_the_partial_order(seed):
    P = _problem(seed, d=6, interventions="soft")
    est = LinearCD(interventions="soft").fit_statistics(P.truth.params["population_precisions"])
    assert est.claims.classes == ("ancestors",)
    Pm = _aligned(est, P)
    A = (to_adjacency(P.truth.graph) != 0).astype(float)
    assert np.array_equal(Pm @ to_adjacency(est.partial_order_) @ Pm.T, transitive_closure(A))
    # each estimated row is the true row mixed with its ancestors' rows only
    H = P.truth.params["H"]
    coef = (Pm @ est.unmixing_) @ np.linalg.pinv(H)  # row i of the estimate in the basis of true rows
    allowed = np.eye(len(A)) + transitive_closure(A).T
    assert np.max(np.abs(coef * (1 - allowed))) < 1e-8


def test_soft_claim_only_ancestors_and_is_checked_against_the_setting():
    assert LinearCD().claims.classes == ("permutation_scaling",)
    assert LinearCD().claims.requires["interventions"] == "perfect"
    soft = LinearCD(interventions="soft").claims
    assert soft.classes == ("ancestors",) and "soft" in soft.requires["interventions"]
    P = linear_cd_problem(4, 8, n_per_env=5_000, interventions="soft", random_state=2)
    assert LinearCD().claims.unmet(P.setting)  # a perfect-intervention claim does not apply
    assert not soft.unmet(P.setting)


# ---------------------------------------------------------------------------- invariances


def test_shuffling_contexts_changes_only_the_labels():
    P = _problem(8, n=10_000)
    theta = P.statistics["precisions"]
    est = LinearCD().fit_statistics(theta)
    perm = np.r_[0, 1 + np.random.default_rng(1).permutation(5)]
    shuffled = LinearCD().fit_statistics(theta[perm])
    assert np.allclose(shuffled.unmixing_, est.unmixing_, atol=1e-10)
    assert np.allclose(shuffled.latent_weights_, est.latent_weights_, atol=1e-10)
    assert np.array_equal(shuffled.targets_, est.targets_[perm])
    assert np.allclose(shuffled.B_, est.B_[perm], atol=1e-10)
    assert shuffled.deviance_ == pytest.approx(est.deviance_, rel=1e-8)


def test_context_labels_of_raw_data_are_kept():
    P = linear_cd_problem(3, 6, n_per_env=3_000, random_state=9)
    relabel = np.array([0, 7, 3, 12])
    est = LinearCD().fit(P.X, relabel[P.env])
    base = LinearCD().fit(P.X, P.env)
    order = np.argsort(relabel)
    assert est.contexts_.tolist() == [0, 3, 7, 12]
    assert np.array_equal(est.targets_, base.targets_[order])
    assert np.allclose(est.unmixing_, base.unmixing_, atol=1e-10)


def test_same_input_same_output():
    P = _problem(10, n=5_000)
    a = LinearCD().fit_statistics(P.statistics["precisions"])
    b = LinearCD().fit_statistics(P.statistics["precisions"])
    assert np.array_equal(a.unmixing_, b.unmixing_) and np.array_equal(a.targets_, b.targets_)


# ---------------------------------------------------------------------------- building blocks


def test_rank_one_score_is_one_on_an_exact_rank_one_matrix():
    rng = np.random.default_rng(0)
    d = 4
    A = rng.normal(size=(d, d))
    theta0 = A @ A.T + d * np.eye(d)
    v = rng.normal(size=d)
    theta = np.stack([theta0, theta0 + 3.0 * np.outer(v, v)])
    st = _rq.rank_one_stats(theta, 1, np.eye(d)[None], np.ones(2))
    assert st["score"][0] == pytest.approx(1.0, abs=1e-12)
    assert st["T"][0] == pytest.approx(0.0, abs=1e-10)
    q = st["q"][0]
    assert abs(q @ v) / np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
    # rank two is not rank one
    w = rng.normal(size=d)
    theta2 = np.stack([theta0, theta0 + np.outer(v, v) - np.outer(w, w)])
    assert _rq.rank_one_stats(theta2, 1, np.eye(d)[None], np.ones(2))["score"][0] < 0.99


def test_psd_safe_cholesky():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))
    M = A @ A.T
    L = _stats.reverse_cholesky(M, what="context 3", psd_tol=1e-8, floor=1e-12)
    assert np.allclose(L.T @ L, M) and np.allclose(L, np.tril(L)) and np.all(np.diag(L) > 0)
    # round-off indefiniteness is clipped, never NaN
    w, V = np.linalg.eigh(M)
    w[0] = -1e-14 * w[-1]
    L = _stats.reverse_cholesky((V * w) @ V.T, what="context 3", psd_tol=1e-8, floor=1e-12)
    assert np.all(np.isfinite(L))
    # a clearly indefinite matrix raises, naming the context
    with pytest.raises(CRLError, match="context 3"):
        _stats.reverse_cholesky(np.diag([1.0, 2.0, -0.5]), what="context 3", psd_tol=1e-8, floor=1e-12)


def test_indefinite_precision_raises_naming_the_context():
    P = _problem(12, n=5_000)
    theta = P.statistics["precisions"].copy()
    theta[2] -= 2 * np.abs(np.linalg.eigvalsh(theta[2])).max() * np.eye(theta.shape[1])
    with pytest.raises(CRLError, match=r"precisions\[2\]"):
        LinearCD().fit_statistics(theta)


# ---------------------------------------------------------------------------- degenerate and unidentifiable


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_degenerate_context_is_flagged(seed):
    # lambda equal to the B0 diagonal: the context is invisible to second moments
    P = _problem(seed, degenerate_target=1)
    assert not from_problem(P).identifiable
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            LinearCD().fit_statistics(P.truth.params["population_precisions"])
            raised = False
        except NotIdentifiableError as exc:
            raised = "invisible" in str(exc)
    warned = any(issubclass(w.category, IdentifiabilityWarning) for w in caught)
    assert raised or warned


def test_degenerate_context_warn_mode():
    P = _problem(0, degenerate_target=1)
    deg = int(np.flatnonzero(P.truth.targets[:, 1])[0])
    with pytest.raises(NotIdentifiableError, match=f"contexts .*{deg}"):
        LinearCD().fit_statistics(P.truth.params["population_precisions"])
    with pytest.warns(DegenerateDataWarning, match="invisible"):
        est = LinearCD(on_degenerate="warn").fit_statistics(P.truth.params["population_precisions"])
    assert deg in est.degenerate_contexts_


def test_missing_intervention_is_not_identifiable():
    P = linear_cd_problem(4, 8, n_per_env=2_000, missing_targets=1, random_state=6)
    theory = from_problem(P)
    missing = P.setting["unintervened_latents"][0]
    assert not theory.identifiable and f"Z{missing}" in theory.reason
    with pytest.raises(NotIdentifiableError, match="fewer contexts than latents"):
        LinearCD(n_latents=4).fit(P.X, P.env)
    with pytest.raises(NotIdentifiableError, match="not identifiable"):
        evaluate(LinearCD(n_latents=4), P)


# ---------------------------------------------------------------------------- contract and errors


def test_sklearn_contract():
    est = LinearCD(3, beam_width=4, refine=False)
    assert est.get_params()["n_latents"] == 3 and est.get_params()["beam_width"] == 4
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "unmixing_")
    assert crl.LinearCD is LinearCD and "LinearCD" in crl.available_learners()
    with pytest.raises(NotFittedError):
        est.transform(np.zeros((2, 6)))


def test_outputs_and_orientation():
    P = _problem(13, n=50_000)
    est = LinearCD().fit_statistics(P.statistics["precisions"])
    d, p = 5, 10
    assert est.unmixing_.shape == (d, p) and est.mixing_.shape == (p, d)
    assert np.allclose(est.unmixing_ @ est.mixing_, np.eye(d))
    assert est.B_.shape == (6, d, d) and np.array_equal(est.latent_weights_, est.B_[0])
    assert np.allclose(est.latent_weights_, np.tril(est.latent_weights_))
    assert est.targets_[0] == -1 and sorted(est.targets_[1:].tolist()) == list(range(d))
    # adjacency: A[j, i] != 0 means j -> i, parents before children, weights = structural coefficients
    A = est.adjacency_
    assert np.allclose(A, np.triu(A, 1))
    nodes = list(est.latent_graph_.nodes)
    for u, v, data in est.latent_graph_.edges(data=True):
        j, i = nodes.index(u), nodes.index(v)
        assert data["weight"] == pytest.approx(-est.latent_weights_[i, j] / est.latent_weights_[i, i])
    assert list(est.partial_order_.nodes) == nodes
    assert est.fit_residual_.shape == (6,) and est.scores_["score"].shape == (d,)
    assert est.transform(np.ones((3, p))).shape == (3, d)


def test_bad_inputs():
    P = linear_cd_problem(3, 6, n_per_env=500, random_state=14)
    X, env = P.X, P.env
    with pytest.raises(ValidationError, match="NaN"):
        Xn = X.copy()
        Xn[0, 0] = np.nan
        LinearCD().fit(Xn, env)
    with pytest.raises(ValidationError, match="env"):
        LinearCD().fit(X, env[:-1])
    with pytest.raises(ValidationError, match="labelled 0"):
        LinearCD().fit(X, env + 1)
    with pytest.raises(ValidationError, match="n_latents"):
        LinearCD(n_latents=7).fit(X, env)
    with pytest.raises(ValidationError, match="rows per context"):
        keep = (env != 2) | (np.cumsum(env == 2) <= 3)
        LinearCD(n_latents=3).fit(X[keep], env[keep])
    with pytest.raises(NotIdentifiableError, match="fewer contexts"):
        LinearCD(n_latents=3).fit(X[env < 3], env[env < 3])
    with pytest.raises(ValidationError, match="exactly one interventional context per latent"):
        LinearCD(n_latents=2).fit(X, env)
    with pytest.raises(CRLError, match="context 2"):
        Xs = X.copy()
        Xs[env == 2] = Xs[env == 2][:, :1] @ np.ones((1, 6))  # rank one inside context 2
        LinearCD(n_latents=3).fit(Xs, env)
    with pytest.raises(UnknownNameError, match="interventions"):
        LinearCD(interventions="hard").fit(X, env)
    with pytest.raises(ValidationError, match="beam_width"):
        LinearCD(beam_width=0).fit(X, env)
    with pytest.raises(ValidationError, match="precisions"):
        LinearCD().fit_statistics(np.ones((3, 4)))
    with pytest.raises(ValidationError, match="symmetric"):
        LinearCD().fit_statistics(np.stack([np.eye(3), np.triu(np.ones((3, 3)))]))
    with pytest.raises(ValidationError, match="finite"):
        LinearCD().fit_statistics(np.full((2, 3, 3), np.nan))
    est = LinearCD().fit(X, env)
    with pytest.raises(ValidationError, match="columns"):
        est.transform(X[:, :4])
