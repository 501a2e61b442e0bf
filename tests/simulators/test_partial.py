"""Partially observed linear SCMs: RLCD families, OLC family, oracle ranks."""

import networkx as nx
import numpy as np
import pytest
from scipy import stats

from crl.exceptions import CRLError, CyclicGraphError, UnknownNameError, ValidationError
from simulators.olc import OLC_GRAPHS, olc_graph, olc_problem
from simulators.partial import (
    build_latent_dag,
    linear_sem_from_graph,
    node_order,
    oracle_rank,
    partially_observed_problem,
    population_covariance,
    sample_linear_sem,
)
from simulators.rlcd_families import (
    RLCD_FIXTURES,
    check_rlcd_conditions,
    random_general_latent_graph,
    random_latent_tree,
    random_measurement_model,
    rlcd_fixture,
    rlcd_problem,
)


def fan(src, dsts):
    return [(src, d) for d in dsts.split()]


def xs(*ks):
    return [f"X{k}" for k in ks]


# Transcribed by hand from rlcd.md §6.2 (independently of the module's spec strings).
EXPECTED = {
    "tree_a": (
        {"L1", "L2", "L3", "L4"},
        13,
        fan("L1", "L2 L3 X1 X2")
        + fan("L2", "X3 X4 X5")
        + fan("L3", "X6 X7 L4")
        + fan("L4", "X8 X9 X10")
        + fan("X1", "X11 X12")
        + [("X9", "X13")],
    ),
    "tree_b": (
        {"L1", "L2", "L3"},
        11,
        fan("L1", "X1 X2 X11 L2")
        + fan("X1", "L3 X3")
        + fan("L3", "X4 X5 X6")
        + fan("L2", "X7 X8 X9")
        + [("X2", "X10")],
    ),
    "mm_a": (
        {"L1", "L2", "L3", "L4"},
        12,
        fan("L1", "L2 L3")
        + [("L2", "L4"), ("L3", "L4")]
        + fan("L1", "X1 X2 X3")
        + fan("L2", "X4 X5 X6")
        + fan("L3", "X7 X8 X9")
        + fan("L4", "X10 X11 X12"),
    ),
    "mm_b": (
        {"L1", "L2", "L3"},
        11,
        [("L1", "L2"), ("L2", "L3")]
        + fan("L1", "X1 X2 X3")
        + fan("L2", "X4 X5 X6")
        + fan("L3", "X7 X8 X9")
        + [("X3", "X10"), ("L1", "X11"), ("L3", "X11")],
    ),
    "gen_a": (
        {"L1", "L2", "L3", "L4"},
        14,
        fan("X1", "L1 L2")
        + fan("L1", "X2 X3 X4")
        + fan("L2", "X5 X6 X7")
        + [("X2", "X8"), ("X8", "X9")]
        + fan("X7", "L3 L4")
        + fan("L3", "X10 X11 X12 X13 X14")
        + fan("L4", "X10 X11 X12 X13 X14"),
    ),
    "gen_b": (
        {"L1", "L2", "L3"},
        12,
        fan("L1", "X1 X2 X3 X4")
        + [("X1", "X5"), ("X5", "X6"), ("X4", "L2")]
        + fan("L2", "X7 X8 X9 L3")
        + fan("L3", "X10 X11 X12")
        + [("X9", "X11")],
    ),
}
FAMILY = {
    "tree_a": "tree",
    "tree_b": "tree",
    "mm_a": "measurement",
    "mm_b": "measurement",
    "gen_a": "general",
    "gen_b": "general",
}
GENERATORS = {
    "tree": random_latent_tree,
    "measurement": random_measurement_model,
    "general": random_general_latent_graph,
}


def latents_of(G):
    return {v for v, d in G.nodes(data=True) if d["latent"]}


def rank(problem, A, B):
    names = list(problem.feature_names)
    cov = problem.truth.params["population_covariance"]
    return oracle_rank(cov, [names.index(a) for a in A], [names.index(b) for b in B])


@pytest.fixture(scope="module")
def oracle():
    """One small problem per fixture (only the population covariance is used)."""
    return {name: rlcd_problem(name, 50, random_state=0) for name in RLCD_FIXTURES}


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("name", RLCD_FIXTURES)
def test_fixture_matches_written_structure(name):
    latent, p, edges = EXPECTED[name]
    G = rlcd_fixture(name)
    assert set(G.edges) == set(edges) and G.number_of_edges() == len(edges)
    assert latents_of(G) == latent
    assert set(G.nodes) - latent == {f"X{i}" for i in range(1, p + 1)}
    assert G.graph["kind"] == "latent_dag"
    assert G.graph["family"] == FAMILY[name] and G.graph["name"] == name
    assert all(d["mark"] == "-->" and "weight" not in d for _, _, d in G.edges(data=True))
    assert check_rlcd_conditions(G) == []


def test_fixture_set_and_unknown_name():
    assert set(RLCD_FIXTURES) == set(EXPECTED)
    with pytest.raises(UnknownNameError, match="name") as err:
        rlcd_fixture("tree_c")
    assert all(n in str(err.value) for n in RLCD_FIXTURES)


# --------------------------------------------------------------------------- conditions


def test_conditions_detect_violations():
    G = rlcd_fixture("mm_a")
    G.add_edge("X1", "X2", mark="-->")  # L1, X1, X2 mutually adjacent
    assert any("triangle" in v and "L1" in v for v in check_rlcd_conditions(G))

    G = rlcd_fixture("mm_a")
    G.add_node("L5", latent=True)
    G.add_edge("L4", "L5", mark="-->")
    out = check_rlcd_conditions(G)
    assert any("L5 has no observed descendant" in v for v in out)

    G = rlcd_fixture("mm_b")
    G.remove_edges_from([("L3", "X7"), ("L3", "X8")])  # L3 keeps one pure child (X9)
    assert any("L3" in v and "pure children" in v for v in check_rlcd_conditions(G))

    G = build_latent_dag(fan("L1", "X1 X2 X3"), ["L1"])  # 3 neighbours < 4
    assert any("neighbours" in v for v in check_rlcd_conditions(G))


def test_conditions_two_latent_cover_counts():
    # {L3, L4} of gen_a is a k = 2 cover: dropping two of its five pure children leaves 3 pure
    # children but only 4 < 6 neighbours.
    G = rlcd_fixture("gen_a")
    G.remove_nodes_from(["X13", "X14"])
    out = check_rlcd_conditions(G)
    assert len(out) == 1 and "{L3, L4}" in out[0] and "neighbours" in out[0]


def test_latency_comes_from_the_attribute_not_the_name():
    G = build_latent_dag(fan("H", "L1 X1 X2 X3"), ["H"])  # observed node named "L1"
    assert check_rlcd_conditions(G) == []
    P = partially_observed_problem(G, 100, random_state=0)
    assert P.feature_names == ("L1", "X1", "X2", "X3") and P.truth.latent_names == ("H",)


def test_cyclic_graph_raises():
    G = build_latent_dag(fan("L1", "X1 X2 X3 X4"), ["L1"])
    G.add_edge("X4", "L1", mark="-->")
    with pytest.raises(CyclicGraphError, match="G"):
        check_rlcd_conditions(G)
    with pytest.raises(CyclicGraphError, match="G"):
        partially_observed_problem(G, 10, random_state=0)
    with pytest.raises(CyclicGraphError):
        population_covariance(np.array([[0.0, 1.0], [1.0, 0.0]]), 1.0)


# --------------------------------------------------------------------------- random generators


@pytest.mark.parametrize("family", sorted(GENERATORS))
def test_random_generators_pass_checks_and_reproduce(family):
    gen = GENERATORS[family]
    sizes = []
    for seed in range(20):
        G = gen(random_state=seed)
        assert check_rlcd_conditions(G) == []
        assert G.graph["family"] == family and G.graph["kind"] == "latent_dag"
        assert nx.is_directed_acyclic_graph(G)
        lat = latents_of(G)
        obs = set(G) - lat
        assert lat == {f"L{k}" for k in range(1, len(lat) + 1)}
        assert obs == {f"X{k}" for k in range(1, len(obs) + 1)}
        if family == "tree":
            assert max(d for _, d in G.in_degree()) <= 1
        if family == "general":
            groups = {}
            for v in lat:
                groups.setdefault(frozenset(G.successors(v)), []).append(v)
            assert any(len(g) == 2 for g in groups.values())  # a two-latent cover
        sizes.append((len(lat), len(obs)))
        again = gen(random_state=seed)
        assert set(again.edges) == set(G.edges) and latents_of(again) == lat
    lat_mean, obs_mean = np.mean(sizes, axis=0)
    assert 3 <= lat_mean <= 5 and 12 <= obs_mean <= 18
    assert len({frozenset(gen(random_state=s).edges) for s in range(5)}) > 1


def test_random_names_do_not_follow_the_causal_order():
    roots = set()
    for seed in range(20):
        G = random_measurement_model(random_state=seed)
        roots |= {v for v in latents_of(G) if G.in_degree(v) == 0}
    assert len(roots) > 1


def test_generator_gives_up_after_max_tries():
    with pytest.raises(ValidationError, match="max_tries"):
        random_latent_tree(1, n_indicators=(3, 3), n_observed_leaves=0, max_tries=5, random_state=0)
    with pytest.raises(ValidationError, match="n_indicators"):
        random_measurement_model(n_indicators=(4, 2))
    with pytest.raises(ValidationError, match="n_two_latent_covers"):
        random_general_latent_graph(3, n_two_latent_covers=2)


# --------------------------------------------------------------------------- linear SEM machinery


def test_population_covariance_closed_form_and_sampler():
    b = 2.0
    W = np.array([[0.0, b], [0.0, 0.0]])
    expected = np.array([[0.5, b * 0.5], [b * 0.5, b * b * 0.5 + 0.3]])
    np.testing.assert_allclose(population_covariance(W, [0.5, 0.3]), expected)
    # the sampler solves V = V W + E exactly, for nodes in any index order
    W = np.zeros((4, 4))
    W[3, 0], W[0, 2], W[3, 2], W[2, 1] = 1.5, -2.0, 0.7, 3.0
    V, E = sample_linear_sem(
        W, 50, noise="laplace", noise_std=[1, 2, 3, 4], random_state=0, return_noise=True
    )
    np.testing.assert_allclose(V, E @ np.linalg.inv(np.eye(4) - W), atol=1e-10)


def test_population_covariance_matches_sample():
    n = 200_000
    P = rlcd_problem("mm_a", n, random_state=3)
    params = P.truth.params
    raw = np.hstack([P.X * params["x_scale"] + params["x_mean"], P.truth.Z])
    S, sigma = np.cov(raw, rowvar=False), params["population_covariance_all"]
    var = np.diag(sigma)
    sd = np.sqrt((np.outer(var, var) + sigma**2) / n)  # Gaussian sd of a sample covariance
    assert np.all(np.abs(S - sigma) < 5 * sd)
    Sx = np.cov(P.X, rowvar=False)  # the scaled covariance of X, entries are correlations
    assert np.abs(Sx - params["population_covariance"]).max() < 5 / np.sqrt(n)


def test_weights_follow_node_order_not_insertion_order():
    G = rlcd_fixture("gen_b")
    H = nx.DiGraph()
    H.graph.update(G.graph)
    H.add_nodes_from(reversed(list(G.nodes(data=True))))
    H.add_edges_from(reversed(list(G.edges(data=True))))
    A, nv_a = linear_sem_from_graph(G, random_state=7)
    B, nv_b = linear_sem_from_graph(H, random_state=7)

    def weights(g):
        return {(u, v): w for u, v, w in g.edges(data="weight")}

    assert weights(A) == weights(B) and nv_a == nv_b
    kept, nv_kept = linear_sem_from_graph(A, weight_range=None, noise_var=None)
    assert weights(kept) == weights(A) and nv_kept == nv_a
    assert all(1 <= abs(w) <= 5 for w in weights(A).values())
    assert all(0.1 <= v <= 1 for v in nv_a.values())


# --------------------------------------------------------------------------- oracle ranks


def test_oracle_ranks_mm_a(oracle):
    P = oracle["mm_a"]
    assert rank(P, xs(1, 2), xs(4, 5)) == 1
    assert rank(P, xs(1, 2, 3), xs(*range(4, 13))) == 1  # pure indicators of L1 vs the rest
    assert rank(P, xs(4, 5, 6, 7), xs(8, 9, 10, 11, 12)) == 2  # through {L2, L3}


def test_oracle_ranks_mm_b(oracle):
    P = oracle["mm_b"]
    assert rank(P, ["X3"], ["X10"]) == 1  # an X–X edge: non-zero covariance
    assert rank(P, xs(3, 10), xs(1, 2, 4, 5)) == 1  # X10 hangs below X3, so below L1
    assert rank(P, xs(10, 3), xs(1, 3)) == 1  # X10 ⊥ X1 | X3: rank = |C|
    assert rank(P, xs(11, 1), xs(2, 1)) == 2  # X11 not ⊥ X2 | X1 (L1 hidden)


def test_oracle_ranks_gen_a(oracle):
    P = oracle["gen_a"]
    rest = xs(1, 2, 3, 4, 5, 6, 7, 8, 9)
    # three pure children of the cover {L3, L4} vs its other children and the rest: rank 2
    assert rank(P, xs(10, 11, 12), xs(13, 14) + rest) == 2
    assert rank(P, xs(10, 11, 12), xs(13, 14)) == 2
    # all five children vs the non-descendants: every trek passes X7, rank 1
    assert rank(P, xs(10, 11, 12, 13, 14), rest) == 1
    assert rank(P, xs(8, 2), xs(3, 2)) == 1  # X8 ⊥ X3 | X2
    assert rank(P, xs(3, 2), xs(4, 2)) == 2  # X3 not ⊥ X4 | X2 (common cause L1)


def test_oracle_ranks_tree_b_and_gen_b(oracle):
    assert rank(oracle["tree_b"], xs(3, 1), xs(4, 1)) == 1  # X3 ⊥ X4 | X1
    assert rank(oracle["tree_b"], xs(4, 5), xs(6, 1, 2, 3, 7)) == 1  # pure children of L3
    assert rank(oracle["gen_b"], xs(10, 12), xs(11, 7, 8)) == 1  # through L3
    assert rank(oracle["gen_b"], xs(10, 12, 9), xs(11, 7, 8)) == 2  # {L3, X9}


def test_oracle_rank_edge_cases():
    cov = np.eye(3)
    assert oracle_rank(cov, [0, 1], [2]) == 0
    assert oracle_rank(cov, [0, 1], [0, 1]) == 2
    assert oracle_rank(cov, [], [1]) == 0
    assert oracle_rank(1e-12 * np.ones((2, 2)) + np.eye(2), [0], [1]) == 0
    # the decision does not depend on the units of the variables
    D = np.diag([1e4, 1.0, 1e-3])
    cov = D @ np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.1], [0.2, 0.1, 1.0]]) @ D
    assert oracle_rank(cov, [0, 1], [1, 2]) == 2 and oracle_rank(cov, [2], [0]) == 1
    with pytest.raises(ValidationError, match="A_idx"):
        oracle_rank(cov, [3], [0])


# --------------------------------------------------------------------------- the Problem


def test_problem_contract_and_standardisation():
    P = rlcd_problem("gen_a", 2000, noise="uniform", random_state=1)
    params = P.truth.params
    G = P.truth.graph
    obs, lat = node_order(G)
    assert P.feature_names == tuple(obs) and P.truth.latent_names == tuple(lat)
    assert set(obs).isdisjoint(lat) and set(lat) == latents_of(rlcd_fixture("gen_a"))
    assert P.X.shape == (2000, 14) and P.truth.Z.shape == (2000, 4)
    np.testing.assert_allclose(P.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(P.X.var(axis=0), 1, rtol=1e-12)
    # X holds exactly the observed nodes of V = E (I - W)^-1, Z the hidden ones
    V = P.truth.noise["noise"] @ np.linalg.inv(np.eye(18) - params["W"])
    np.testing.assert_allclose(P.X * params["x_scale"] + params["x_mean"], V[:, :14], atol=1e-8)
    np.testing.assert_allclose(P.truth.Z, V[:, 14:], atol=1e-8)
    C = np.corrcoef(np.hstack([P.X, P.truth.Z]), rowvar=False)[:14, 14:]
    assert np.abs(C).max() < 1 - 1e-6
    np.testing.assert_allclose(np.diag(params["population_covariance"]), 1, atol=0.15)
    # graph and W agree, orientation W[i, j] = i -> j
    nodes = params["nodes"]
    assert nodes == tuple(obs + lat)
    for u, v, d in G.edges(data=True):
        assert params["W"][nodes.index(u), nodes.index(v)] == d["weight"] and d["mark"] == "-->"
    assert np.count_nonzero(params["W"]) == G.number_of_edges() == 22
    assert G.graph["kind"] == "latent_dag" and all(G.nodes[v]["latent"] for v in lat)
    assert (P.env == 0).all() and P.n_envs == 1
    s = P.setting
    assert (s["latent_model"], s["mixing"], s["hidden_variables"]) == ("linear", "none", True)
    assert (s["noise"], s["gaussian"], s["graph_family"]) == ("uniform", False, "general")
    assert s["rlcd_conditions_hold"] is True
    assert set(P.diagnostics) == {"var_sortability", "r2_sortability", "min_corr_eigenvalue"}
    assert 0 < P.diagnostics["min_corr_eigenvalue"] < 1
    np.testing.assert_array_equal(
        rlcd_problem("gen_a", 2000, noise="uniform", random_state=1).X, P.X
    )


def test_unstandardised_problem_keeps_the_raw_scale():
    P = partially_observed_problem(rlcd_fixture("tree_b"), 100, standardize=False, random_state=0)
    params = P.truth.params
    p = len(P.feature_names)
    np.testing.assert_array_equal(params["x_scale"], np.ones(p))
    np.testing.assert_allclose(
        params["population_covariance"], params["population_covariance_all"][:p, :p]
    )
    assert P.setting["graph_family"] == "tree" and P.name == "tree_b"


def test_family_problem_draws_a_random_graph():
    P = rlcd_problem("general", 100, random_state=4, options={"n_latents": 5})
    assert len(P.truth.latent_names) == 5 and P.setting["graph_family"] == "general"
    assert P.truth.graph.graph["name"] == "random_general_latent_graph"


# --------------------------------------------------------------------------- OLC family


def _olc_properties(G):
    lat = latents_of(G)
    obs = set(G) - lat
    assert 1 <= len(lat) <= 3 or G.graph["name"] == "olc_random"
    for v in lat:
        assert G.in_degree(v) == 0
        children = [c for c in G.successors(v) if c in obs]
        assert len(children) >= 3
        assert any(G.has_edge(a, b) for a in children for b in children)
    assert G.graph["family"] == "olc" and G.graph["kind"] == "latent_dag"
    return len(lat), len(obs)


def test_olc_graphs():
    sizes = {name: _olc_properties(olc_graph(name)) for name in OLC_GRAPHS}
    assert sizes == {"olc_1latent": (1, 6), "olc_2latent": (2, 8), "olc_3latent": (3, 10)}
    for seed in range(20):
        G = olc_graph(None, n_observed=9, n_latents=3, random_state=seed)
        assert _olc_properties(G) == (3, 9)
        assert set(G.edges) == set(
            olc_graph(None, n_observed=9, n_latents=3, random_state=seed).edges
        )


@pytest.mark.parametrize(
    "noise, kurtosis", [("uniform", -1.2), ("laplace", 3.0), ("gaussian", 0.0)]
)
def test_olc_problem_noise(noise, kurtosis):
    P = olc_problem("olc_3latent", 20_000, noise=noise, random_state=0)
    # latents are roots with unit-variance noise, so Z is the noise itself
    k = stats.kurtosis(P.truth.Z, axis=0)
    np.testing.assert_allclose(k, kurtosis, atol=0.35 if noise == "laplace" else 0.1)
    np.testing.assert_allclose(P.truth.Z.var(axis=0), 1, atol=0.05)
    assert P.setting["noise"] == noise and P.setting["gaussian"] is (noise == "gaussian")
    assert P.setting["latents_are_roots"] and P.setting["min_observed_children"] == 3
    W = P.truth.params["W"]
    assert np.all((np.abs(W[W != 0]) >= 0.5) & (np.abs(W[W != 0]) <= 2.0))
    np.testing.assert_array_equal(P.truth.params["noise_var"], 1.0)
    np.testing.assert_allclose(P.X.var(axis=0), 1)


def test_olc_problem_random_structure():
    P = olc_problem(None, 500, n_observed=7, n_latents=2, random_state=5)
    assert P.X.shape == (500, 7) and P.truth.Z.shape == (500, 2)
    assert P.setting["graph_family"] == "olc" and P.name == "olc_random"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: partially_observed_problem(rlcd_fixture("mm_a"), -5), "n"),
        (
            lambda: partially_observed_problem(rlcd_fixture("mm_a"), 10, weight_range=(0.0, 1.0)),
            "weight_range",
        ),
        (
            lambda: partially_observed_problem(rlcd_fixture("mm_a"), 10, weight_range=(-1.0, 2.0)),
            "weight_range",
        ),
        (lambda: partially_observed_problem(rlcd_fixture("mm_a"), 10, noise="cauchy"), "noise"),
        (
            lambda: partially_observed_problem(rlcd_fixture("mm_a"), 10, noise_var=(0.0, 1.0)),
            "noise_var",
        ),
        (lambda: partially_observed_problem(nx.Graph([(1, 2)]), 10), "G"),
        (lambda: partially_observed_problem(build_latent_dag([("L", "M")], ["L", "M"]), 10), "G"),
        (lambda: rlcd_problem("tree_z", 10), "graph"),
        (lambda: olc_graph("olc_9latent"), "name"),
        (lambda: olc_problem("olc_9latent", 10), "graph"),
        (lambda: olc_graph(None, n_observed=5, n_latents=2), "n_observed"),
        (lambda: sample_linear_sem(np.zeros((2, 2)), 0), "n"),
        (lambda: population_covariance(np.zeros((2, 2)), [1.0, -1.0]), "noise_var"),
    ],
)
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(CRLError) as err:
        call()
    assert str(err.value).startswith(f"{arg}:")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError) as err:
        rlcd_problem("tree_z", 10)
    assert all(n in str(err.value) for n in RLCD_FIXTURES + ("tree", "measurement", "general"))
    with pytest.raises(UnknownNameError) as err:
        olc_graph("olc_9latent")
    assert all(n in str(err.value) for n in OLC_GRAPHS)
