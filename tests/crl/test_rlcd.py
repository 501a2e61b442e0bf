"""RLCD: exact recovery with the oracle rank test, recovery from samples, output contract, errors."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

import crl
import simulators
from crl.exceptions import CRLError, UnknownNameError, ValidationError
from crl.graphs import (
    dag_to_cpdag,
    graph_kind,
    latent_nodes,
    marked_edges,
    observed_nodes,
    to_adjacency,
)
from crl.rank import RLCD
from crl.rank._covers import _minimal_subsets, _splits
from identifiability import evaluate
from identifiability.latent_graphs import latent_graph_scores
from simulators.partial import build_latent_dag, partially_observed_problem
from simulators.rlcd_families import RLCD_FIXTURES, rlcd_problem


def _oracle_fit(name, **kw):
    P = rlcd_problem(name, 50, random_state=0)
    cov = P.truth.params["population_covariance"]
    model = RLCD(feature_names=P.feature_names, **kw).fit(covariance=cov)
    return P, model


# --- exact recovery with the oracle rank test ------------------------------------------------


@pytest.mark.parametrize("stage1", ["all", "pc"])
@pytest.mark.parametrize("name", RLCD_FIXTURES)
def test_oracle_recovers_every_fixture_up_to_its_equivalence_class(name, stage1):
    P, model = _oracle_fit(name, stage1=stage1)
    s = latent_graph_scores(P.truth.graph, model.graph_)
    assert s["f1_all"] == 1.0 and s["shd"] == 0.0
    assert model.n_latents_ == len(P.truth.latent_names)
    assert s["n_hidden_error"] == 0
    # the marks too: the output is the CPDAG of the true graph over X ∪ L
    assert s["shd_marks"] == 0.0 and s["directed_f1"] == 1.0
    assert model.tests_["oracle"] is True


@pytest.mark.parametrize("name", ["mm_a", "gen_b"])
def test_oracle_recovery_does_not_depend_on_refinement(name):
    for refine in (False, True):
        P, model = _oracle_fit(name, refine=refine)
        s = latent_graph_scores(P.truth.graph, model.graph_)
        assert (s["f1_all"], s["shd_marks"], model.n_latents_) == (1.0, 0.0, len(P.truth.latent_names))


def test_oracle_output_is_invariant_to_column_order():
    P = rlcd_problem("gen_a", 50, random_state=0)
    cov = pd.DataFrame(P.truth.params["population_covariance"], index=P.feature_names, columns=P.feature_names)
    order = np.random.default_rng(0).permutation(len(P.feature_names))
    permuted = cov.iloc[order, order]
    g1 = RLCD().fit(covariance=cov).graph_
    g2 = RLCD().fit(covariance=permuted).graph_
    s = latent_graph_scores(g1, g2)
    assert s["f1_all"] == 1.0 and s["shd_marks"] == 0.0


@pytest.mark.parametrize("family", ["tree", "measurement"])
def test_oracle_recovers_random_tree_and_measurement_draws(family):
    """Random draws of the two families: exact with the oracle rank test.

    Development seeds 1000-1009 are all exact but measurement seed 1001 (skeleton F1 0.96): its
    hidden variables form a 4-cycle with a collider (L5 -> L2 <- L4 <- L3 <- L5) and the search
    puts the L4 edge on L5 instead of L2.
    """
    for seed in (1000, 1002, 1003):
        P = rlcd_problem(family, 50, random_state=seed)
        model = RLCD(feature_names=P.feature_names).fit(covariance=P.truth.params["population_covariance"])
        s = latent_graph_scores(P.truth.graph, model.graph_)
        assert (s["f1_all"], s["n_hidden_error"]) == (1.0, 0), (seed, s["f1_all"])


@pytest.mark.parametrize("seed", [1004, 1010, 1018])
def test_oracle_recovers_random_general_draws(seed):
    """Development draws (not the benchmark seeds) that the generator used to draw in violation of
    Condition 2, now resampled to satisfy every check, come out exactly with the oracle test."""
    P = rlcd_problem("general", 50, random_state=seed)
    assert P.setting["rlcd_conditions_hold"]
    model = RLCD(feature_names=P.feature_names).fit(covariance=P.truth.params["population_covariance"])
    assert latent_graph_scores(P.truth.graph, model.graph_)["f1_all"] == 1.0


@pytest.mark.xfail(strict=False, reason=(
    "open: 27 of 40 development general draws (seeds 1000-1039) are exact with the oracle rank test "
    "once the generator rejects Condition-2 violations. This one passes every programmatic check; "
    "impure children whose other parent is observed (X5 <- X9, X2 <- X1) give true rank-2 "
    "deficiencies, {X5, X7} with X9 as an observed member, that the k = 2 round accepts as covers "
    "{X9, L} before the parent L4 is detectable at k = 1. causal-learn's port with an oracle test "
    "misses it the same way"))
def test_oracle_recovers_a_random_general_draw():
    P = rlcd_problem("general", 50, random_state=1008)
    model = RLCD(feature_names=P.feature_names).fit(covariance=P.truth.params["population_covariance"])
    assert latent_graph_scores(P.truth.graph, model.graph_)["f1_all"] == 1.0


def test_no_hidden_variables_gives_the_pc_cpdag():
    """Corollary 1: without hidden variables RLCD is PC (oracle, stage 1 by rank-based PC)."""
    edges = [("X1", "X3"), ("X2", "X3"), ("X3", "X4"), ("X4", "X5"), ("X2", "X5"), ("X5", "X6")]
    G = build_latent_dag(edges, [])
    P = partially_observed_problem(G, 50, random_state=1)
    model = RLCD(stage1="pc", feature_names=P.feature_names).fit(covariance=P.truth.params["population_covariance"])
    assert model.n_latents_ == 0
    expected = dag_to_cpdag(P.truth.graph)
    assert sorted(marked_edges(model.graph_)) == sorted(marked_edges(expected))


# --- samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mm_a", "mm_b"])
def test_measurement_fixtures_are_recovered_from_large_samples(name):
    f1 = []
    for seed in (0, 1):
        P = rlcd_problem(name, 10_000, random_state=seed)
        model = RLCD().fit(P.X)
        f1.append(latent_graph_scores(P.truth.graph, model.graph_)["f1_all"])
    assert np.mean(f1) >= 0.9, f1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mm_a", "mm_b"])
def test_measurement_fixtures_from_samples_more_seeds(name):
    """Mean skeleton F1 over X ∪ L >= 0.9 over 8 seeds at n = 10 000 (one mm_b draw, seed 2, is
    nearly degenerate: smallest correlation eigenvalue 9e-5, and gets 0.67)."""
    f1 = []
    for seed in range(8):
        P = rlcd_problem(name, 10_000, random_state=seed)
        f1.append(latent_graph_scores(P.truth.graph, RLCD().fit(P.X).graph_)["f1_all"])
    assert np.mean(f1) >= 0.9 and np.median(f1) == 1.0, f1


def test_evaluate_scores_rlcd_on_the_measurement_scenario():
    problem = simulators.scenario("rlcd_measurement", random_state=0, n=5000)
    report = evaluate(RLCD(), problem)
    assert report.identifiable
    assert report.equivalence == "latent_relabeling"
    scores = report.scores
    assert scores["f1_all"] >= 0.9 and scores["n_hidden_error"] == 0
    assert scores["f1_all"] > report.null["f1_all"]
    assert not report.warnings


def test_hidden_node_relabelling_does_not_change_scores():
    P = rlcd_problem("mm_b", 5000, random_state=1)
    model = RLCD().fit(P.X)
    base = latent_graph_scores(P.truth.graph, model.graph_)
    hidden = latent_nodes(model.graph_)
    rng = np.random.default_rng(0)
    for _ in range(3):
        names = rng.permutation(len(hidden))
        mapping = {h: f"H{k}" for h, k in zip(hidden, names)}
        relabelled = nx.relabel_nodes(model.graph_, mapping)
        s = latent_graph_scores(P.truth.graph, relabelled)
        for key in ("f1_all", "f1_observed", "shd", "shd_marks", "n_hidden_error", "directed_f1"):
            assert s[key] == base[key]
    # relabelling the truth's hidden nodes does not matter either
    truth = nx.relabel_nodes(P.truth.graph, {h: f"Z{h}" for h in P.truth.latent_names})
    assert latent_graph_scores(truth, model.graph_)["f1_all"] == base["f1_all"]


# --- output contract -------------------------------------------------------------------------


def test_fitted_attributes_follow_the_structure_learner_contract():
    P = rlcd_problem("gen_b", 5000, random_state=0)
    model = RLCD().fit(P.X)
    G = model.graph_
    assert graph_kind(G) == "latent_cpdag"
    assert observed_nodes(G) == list(P.feature_names)
    assert len(latent_nodes(G)) == model.n_latents_ >= 1
    assert {d["mark"] for _, _, d in G.edges(data=True)} <= {"-->", "---"}
    np.testing.assert_array_equal(model.adjacency_, to_adjacency(G))
    assert model.adjacency_.shape == (G.number_of_nodes(),) * 2
    assert model.clusters_ and all(set(c) == {"members", "children", "pure_children"} for c in model.clusters_)
    assert all(set(c["pure_children"]) <= set(c["children"]) for c in model.clusters_)
    S1 = model.skeleton_stage1_
    assert set(S1.nodes) == set(P.feature_names) and graph_kind(S1) == "cpdag"
    t = model.tests_
    assert t["tests"] > 0 and 0.0 <= t["hit_rate"] <= 1.0 and t["cache_hits"] <= t["tests"]
    assert t["seconds"]["total"] > 0 and model.n_features_in_ == len(P.feature_names)


def test_column_names_starting_with_L_stay_observed():
    P = rlcd_problem("mm_a", 5000, random_state=0)
    cols = ["L1", "Length", "L2", "Lx"] + [f"c{k}" for k in range(len(P.feature_names) - 4)]
    model = RLCD().fit(pd.DataFrame(P.X, columns=cols))
    G = model.graph_
    assert all(G.nodes[c]["latent"] is False for c in cols)
    assert len(latent_nodes(G)) == model.n_latents_ == 4
    assert all(str(h).startswith("_L") for h in latent_nodes(G))  # renamed to avoid "L1", "L2"


@pytest.mark.parametrize("options", [{"stage1": "ges"}, {"stage1": "pc"}, {"statistic": "bartlett_lawley"},
                                     {"alpha": {0: 0.01, 1: 0.01, 2: 0.005, 3: 0.005}, "refine": False}])
def test_options_run(options):
    P = rlcd_problem("tree_b", 3000, random_state=0)
    model = RLCD(**options).fit(P.X)
    assert graph_kind(model.graph_) == "latent_cpdag" and model.n_latents_ >= 1


def test_sample_covariance_input_matches_data_input():
    P = rlcd_problem("tree_b", 3000, random_state=0)
    a = RLCD().fit(P.X)
    b = RLCD().fit(covariance=np.cov(P.X.T), n_samples=3000)
    assert latent_graph_scores(a.graph_, b.graph_)["f1_all"] == 1.0


def test_sklearn_clone_and_params():
    model = RLCD(0.005, stage1="pc", max_k=2, refine=False)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin.get_params()["alpha"] == 0.005 and twin.stage1 == "pc"
    assert crl.RLCD is RLCD
    assert RLCD.claims.classes == ("mec", "latent_relabeling")
    assert set(RLCD.claims.requires) == {"latent_model", "rlcd_conditions_hold"}
    assert not RLCD.claims.unmet(rlcd_problem("mm_a", 100, random_state=0).setting)


# --- errors ----------------------------------------------------------------------------------


def test_bad_input_raises_crl_errors_naming_the_argument():
    X = np.random.default_rng(0).standard_normal((500, 6))
    with pytest.raises(ValidationError, match="NaN"):
        RLCD().fit(np.where(X > 2, np.nan, X))
    with pytest.raises(ValidationError, match=r"X: expected at least \d+ rows for max_k=3"):
        RLCD().fit(X[:7])
    with pytest.raises(ValidationError, match="constant columns.*'X3'"):
        RLCD().fit(np.column_stack([X[:, :2], np.ones(500), X[:, 3:]]))
    with pytest.raises(ValidationError, match="duplicated.*'X1' and 'X7'"):
        RLCD().fit(np.column_stack([X, X[:, 0]]))
    with pytest.raises(ValidationError, match="linearly independent"):
        RLCD().fit(np.column_stack([X, X[:, 0] + X[:, 1]]))
    with pytest.raises(UnknownNameError, match="stage1"):
        RLCD(stage1="fges").fit(X)
    with pytest.raises(ValidationError, match="alpha: expected a level for every rank"):
        RLCD(alpha={0: 0.01, 1: 0.01}).fit(X)
    with pytest.raises(ValidationError, match="alpha"):
        RLCD(alpha=1.5).fit(X)
    with pytest.raises(ValidationError, match="max_k"):
        RLCD(max_k=0).fit(X)
    with pytest.raises(ValidationError, match="X, covariance"):
        RLCD().fit()
    with pytest.raises(ValidationError, match="covariance: expected a symmetric"):
        RLCD().fit(covariance=np.triu(np.ones((4, 4))) + np.eye(4))
    with pytest.raises(ValidationError, match="feature_names"):
        RLCD(feature_names=["a", "b"]).fit(X)
    with pytest.raises(CRLError, match="ges"):
        RLCD(stage1="ges").fit(covariance=np.cov(X.T))


# --- search helpers --------------------------------------------------------------------------


def test_minimal_subsets_and_split_rule():
    covers = [frozenset({i}) for i in range(4)] + [frozenset({10, 11})]
    subsets = [frozenset().union(*s) for s in _minimal_subsets(covers, 1)]
    # every yielded set exceeds size 1 only because of its smallest cover
    assert frozenset({10, 11}) in subsets and all(len(s) >= 2 for s in subsets)
    assert len({s for s in subsets if len(s) == 2 and 10 not in s}) == 6
    # the reference's walk, in its order (largest covers first, ties by descending members): overlapping covers are skipped
    covers = [frozenset({0, 1}), frozenset({1}), frozenset({2}), frozenset({3})]
    walk = [sorted(sorted(c) for c in s) for s in _minimal_subsets(covers, 2)]
    assert walk == [[[1], [2], [3]], [[0, 1], [2]], [[0, 1], [3]]]
    walk = [sorted(sorted(c) for c in s) for s in _minimal_subsets(covers, 1)]
    assert walk == [[[1], [2]], [[1], [3]], [[2], [3]], [[0, 1]]]
    before = frozenset({frozenset({1, 2, 3, 4})})
    assert _splits(before, frozenset({frozenset({1, 2}), frozenset({3, 4})}))
    assert not _splits(before, before)
    assert not _splits(before, frozenset({frozenset({1, 2}), frozenset({3, 5})}))


class _NoMemo(dict):
    def __setitem__(self, key, value):  # stores nothing, so every round is searched
        pass


def _edges(model):
    return sorted((u, v, tuple(sorted(d.items()))) for u, v, d in model.graph_.edges(data=True))


@pytest.mark.parametrize(("shortcut", "seed"), [("failed_round_memo", 1002), ("stray_rerun_stop", 1006)])
def test_search_shortcuts_change_only_the_cost(monkeypatch, shortcut, seed):
    """Skipping rounds that found nothing in the same state, and stopping refinement reruns that cannot split,
    give the same graphs with fewer rank-test calls."""
    from crl.rank import _search

    P = rlcd_problem("general", 2000, random_state=seed)
    fits = {}
    for memo in (True, False):
        with monkeypatch.context() as mp:
            if not memo and shortcut == "failed_round_memo":
                init = _search.ClusterSearch.__init__

                def no_memo(self, *a, _init=init, **k):
                    _init(self, *a, **k)
                    self._failed = _NoMemo()

                mp.setattr(_search.ClusterSearch, "__init__", no_memo)
            elif not memo:
                find = _search.ClusterSearch.find_clusters
                mp.setattr(_search.ClusterSearch, "find_clusters", lambda self, stop=None, _find=find: _find(self))
            data = RLCD(feature_names=P.feature_names).fit(P.X)
            oracle = RLCD(feature_names=P.feature_names).fit(covariance=P.truth.params["population_covariance"])
        fits[memo] = (data, oracle)
    for i in (0, 1):
        assert _edges(fits[True][i]) == _edges(fits[False][i])
        assert fits[True][i].n_latents_ == fits[False][i].n_latents_
    assert fits[True][0].tests_["tests"] < fits[False][0].tests_["tests"]


def test_fit_restores_the_garbage_collector_state():
    """The search pauses the cyclic collector (a speed measure) and hands back whatever state it found."""
    import gc

    P = rlcd_problem("mm_a", 500, random_state=0)
    assert gc.isenabled()
    RLCD().fit(P.X)
    assert gc.isenabled()
    gc.disable()
    try:
        RLCD().fit(P.X)
        assert not gc.isenabled()
    finally:
        gc.enable()
