"""Tests of identifiability.graph_metrics and identifiability.ordering.

Orientation everywhere: A[i, j] != 0 means i -> j; a symmetric pair is undirected.
"""

import itertools

import networkx as nx
import numpy as np
import pytest

from crl.exceptions import CRLError, CyclicGraphError, GraphTypeError, ValidationError
from crl.graphs import add_marked_edge, dag_to_cpdag, from_adjacency, topological_orders
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
from identifiability.ordering import topological_matching

RATE_KEYS = ("precision", "recall", "f1")


def adj(d, edges, undirected=()):
    A = np.zeros((d, d))
    for i, j in edges:
        A[i, j] = 1
    for i, j in undirected:
        A[i, j] = A[j, i] = 1
    return A


def random_dag(d, p, rng):
    upper = np.triu(rng.random((d, d)) < p, k=1).astype(float)
    perm = rng.permutation(d)
    return upper[np.ix_(perm, perm)]


def random_pdag(d, p, rng):
    """Random graph with directed and undirected pairs (not necessarily a CPDAG)."""
    A = random_dag(d, p, rng)
    iu = np.argwhere(np.triu(A + A.T) > 0)
    for i, j in iu:
        if rng.random() < 0.3:
            A[i, j] = A[j, i] = 1
    return A


# --------------------------------------------------------------------------- SHD


def test_shd_hand_example_pins_reversal_cost():
    # truth 0 -> 1 -> 2; estimate 1 -> 0 (reversed), 1 -> 2 (right), 0 -> 2 (extra)
    T = adj(3, [(0, 1), (1, 2)])
    E = adj(3, [(1, 0), (1, 2), (0, 2)])
    assert shd(T, E) == 2.0
    assert shd(T, E, reversal_cost=1) == 2.0
    assert shd(T, E, reversal_cost=2) == 3.0
    # cdt's definition: sum of absolute differences of the adjacency matrices
    assert shd(T, E, reversal_cost=2) == np.abs(T - E).sum()


def test_shd_reversal_cost_two_is_cdt_on_random_dags():
    rng = np.random.default_rng(0)
    for _ in range(20):
        T, E = random_dag(6, 0.4, rng), random_dag(6, 0.4, rng)
        assert shd(T, E, reversal_cost=2) == np.abs(T - E).sum()


def test_shd_directed_vs_undirected_costs_one():
    T = adj(2, [(0, 1)])
    assert shd(T, adj(2, [], [(0, 1)])) == 1.0
    assert shd(T, adj(2, [], [(0, 1)]), reversal_cost=2) == 1.0
    assert shd(adj(2, [], [(0, 1)]), adj(2, [], [(0, 1)])) == 0.0


def test_shd_pag_marks_are_pair_states():
    def pag(mark):
        G = nx.DiGraph(kind="pag")
        G.add_nodes_from(["a", "b"], latent=False)
        add_marked_edge(G, "a", "b", mark)
        return G

    marks = ["-->", "---", "<->", "o->", "o-o"]
    for m1, m2 in itertools.product(marks, marks):
        assert shd(pag(m1), pag(m2)) == (0.0 if m1 == m2 else 1.0)
    # o-> reversed is a mark difference (1), only directed reversals use reversal_cost
    rev = nx.DiGraph(kind="pag")
    add_marked_edge(rev, "b", "a", "o->")
    assert shd(pag("o->"), rev, reversal_cost=2) == 1.0
    dir_rev = nx.DiGraph(kind="dag")
    add_marked_edge(dir_rev, "b", "a", "-->")
    assert shd(pag("-->"), dir_rev, reversal_cost=2) == 2.0


def test_markov_equivalent_dags_cpdag_shd_zero():
    chain = adj(3, [(0, 1), (1, 2)])
    reverse_chain = adj(3, [(2, 1), (1, 0)])
    fork = adj(3, [(1, 0), (1, 2)])
    collider = adj(3, [(0, 1), (2, 1)])
    assert shd(chain, reverse_chain) == 2.0
    assert shd(chain, reverse_chain, compare="cpdag") == 0.0
    assert shd(chain, fork, compare="cpdag") == 0.0
    assert shd(chain, collider, compare="cpdag") == 2.0


def test_every_dag_of_a_mec_scores_zero_under_cpdag():
    rng = np.random.default_rng(1)
    A = random_dag(5, 0.5, rng)
    C = dag_to_cpdag(A)
    U = np.triu((C != 0) & (C.T != 0))
    pairs = np.argwhere(U)
    members = 0
    for bits in itertools.product((0, 1), repeat=len(pairs)):
        D = (C != 0) & ~((C != 0) & (C.T != 0))
        D = D.astype(float)
        for (i, j), b in zip(pairs, bits):
            D[i, j], D[j, i] = (1, 0) if b else (0, 1)
        if nx.is_directed_acyclic_graph(
            nx.from_numpy_array(D, create_using=nx.DiGraph)
        ) and np.array_equal(dag_to_cpdag(D), C):
            members += 1
            assert shd(A, D, compare="cpdag") == 0.0
    assert members >= 1


def test_shd_networkx_declared_in_another_order_is_zero():
    A = adj(4, [(0, 1), (1, 2), (3, 2)])
    names = ["w", "x", "y", "z"]
    G = from_adjacency(A, names)
    H = nx.DiGraph(kind="dag")
    for v in reversed(names):
        H.add_node(v, latent=False)
    for u, v in reversed(list(G.edges)):
        H.add_edge(u, v, mark="-->")
    assert list(H.nodes) != list(G.nodes)
    assert shd(G, H) == 0.0
    assert shd(G, H, compare="cpdag") == 0.0
    assert skeleton_f1(G, H) == 1.0


def test_isolated_nodes_are_padded_but_other_missing_nodes_raise():
    G = from_adjacency(adj(3, [(0, 1)]), ["a", "b", "c"])  # "c" isolated
    H = nx.DiGraph()
    H.add_edge("a", "b", mark="-->")
    H.add_node("q", latent=False)  # isolated, unknown to G
    assert shd(G, H) == 0.0
    assert skeleton_scores(G, H)["f1"] == 1.0
    K = nx.DiGraph()
    K.add_edge("a", "z", mark="-->")
    with pytest.raises(ValidationError, match="'z'"):
        shd(G, K)
    with pytest.raises(ValidationError, match="'b'"):
        shd(G, K)


def test_two_cycle_in_a_digraph_is_undirected_like_a_symmetric_matrix():
    A = adj(3, [(0, 1)], [(1, 2)])
    G = nx.from_numpy_array(A, create_using=nx.DiGraph)
    assert shd(A, G) == 0.0


def test_dataframe_column_names_are_node_names():
    pd = pytest.importorskip("pandas")
    A = adj(3, [(0, 1), (1, 2)])
    df = pd.DataFrame(A, columns=["a", "b", "c"], index=["a", "b", "c"])
    G = from_adjacency(A[np.ix_([2, 0, 1], [2, 0, 1])], ["c", "a", "b"])
    assert shd(df, G) == 0.0


def test_shd_symmetric_and_rates_in_unit_interval_on_random_graphs():
    rng = np.random.default_rng(2)
    for _ in range(150):
        d = int(rng.integers(0, 7))
        T = random_pdag(d, rng.random(), rng)
        E = random_pdag(d, rng.random(), rng)
        assert shd(T, E) == shd(E, T) >= 0
        assert shd(T, T) == 0
        for f in (skeleton_scores, directed_scores, arrowhead_scores):
            r = f(T, E)
            for k in RATE_KEYS:
                assert 0.0 <= r[k] <= 1.0
            assert r["tp"] + r["fn"] >= r["tp"] >= 0 and r["fp"] >= 0
        r = arrowhead_scores(T, E, common_only=True)
        assert all(0.0 <= r[k] <= 1.0 for k in RATE_KEYS)
        # never more directed TPs than true directed edges (gCastle #188)
        n_dir = int(np.sum((T != 0) & (T.T == 0)))
        assert directed_scores(T, E)["tp"] <= n_dir


def test_rates_property_with_hypothesis():
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hyp.settings(max_examples=60, deadline=None)
    @hyp.given(st.integers(0, 6), st.integers(0, 2**31 - 1))
    def check(d, seed):
        rng = np.random.default_rng(seed)
        T, E = random_pdag(d, rng.random(), rng), random_pdag(d, rng.random(), rng)
        for f in (skeleton_scores, directed_scores, arrowhead_scores):
            r = f(T, E)
            assert all(0.0 <= r[k] <= 1.0 for k in RATE_KEYS)

    check()


def test_empty_truth_and_empty_estimate_flags():
    Z = np.zeros((3, 3))
    A = adj(3, [(0, 1)])
    r = skeleton_scores(Z, A)
    assert r["flags"] == {"empty_prediction": False, "empty_truth": True}
    assert (r["precision"], r["recall"], r["f1"]) == (0.0, 1.0, 0.0)
    r = skeleton_scores(A, Z)
    assert r["flags"] == {"empty_prediction": True, "empty_truth": False}
    assert (r["precision"], r["recall"], r["f1"]) == (1.0, 0.0, 0.0)
    r = directed_scores(Z, Z)
    assert r["flags"] == {"empty_prediction": True, "empty_truth": True}
    assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0)


def test_empty_and_single_node_graphs():
    for d in (0, 1):
        Z = np.zeros((d, d))
        assert shd(Z, Z) == 0.0
        assert shd(Z, Z, compare="cpdag") == 0.0
        assert skeleton_f1(Z, Z) == 1.0
        assert shd_tc(Z, Z) == 0.0 and shd_tr(Z, Z) == 0.0
        s = sid(Z, Z)
        assert s["sid"] == 0.0 and s["sid_normalised"] == 0.0
        b = random_graph_baseline(Z, n_draws=3)
        assert b["empty_shd"] == 0.0 and b["random_shd"] == 0.0


def test_undirected_estimate_on_directed_truth():
    T = adj(2, [(0, 1)])
    E = adj(2, [], [(0, 1)])
    sk = skeleton_scores(T, E)
    assert (sk["tp"], sk["fp"], sk["fn"], sk["f1"]) == (1, 0, 0, 1.0)
    dr = directed_scores(T, E)
    assert (dr["tp"], dr["fp"], dr["fn"]) == (0, 0, 1)
    assert dr["recall"] == 0.0 and dr["flags"]["empty_prediction"]
    ar = arrowhead_scores(T, E)
    assert (ar["tp"], ar["fp"], ar["fn"]) == (0, 0, 1)


def test_arrowhead_scores_and_common_only():
    G = nx.DiGraph(kind="pag")
    add_marked_edge(G, 0, 1, "<->")  # arrowheads at 0 and 1
    add_marked_edge(G, 1, 2, "o->")  # arrowhead at 2
    H = nx.DiGraph(kind="pag")
    H.add_nodes_from([0, 1, 2])
    add_marked_edge(H, 0, 1, "-->")  # arrowhead at 1
    add_marked_edge(H, 0, 2, "-->")  # arrowhead at 2, pair not adjacent in G
    r = arrowhead_scores(G, H)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 2)
    r = arrowhead_scores(G, H, common_only=True)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 1)


def test_shd_tc_and_tr():
    T = adj(3, [(0, 1), (1, 2)])
    E = adj(3, [(0, 1), (1, 2), (0, 2)])  # same closure
    assert shd(T, E) == 1.0
    assert shd_tc(T, E) == 0.0
    assert shd_tr(T, E) == 0.0
    F = adj(3, [(0, 1), (2, 1)])
    assert shd_tc(T, F) == 2.0  # closure {01, 12, 02} vs {01, 21}: 12 reversed, 02 missing
    with pytest.raises(GraphTypeError, match="est"):
        shd_tc(T, adj(3, [], [(0, 1)]))


# --------------------------------------------------------------------------- SID


@pytest.mark.parametrize("backend", ["auto", "python"])
def test_sid_hand_examples(backend):
    one = adj(2, [(0, 1)])
    empty = np.zeros((2, 2))
    # truth 0 -> 1, empty estimate: p(x0 | do(x1)) = p(x0) is predicted as p(x0 | x1)
    assert sid(one, empty, backend=backend)["sid"] == 1.0
    # reversed: both effects wrong
    r = sid(one, one.T, backend=backend)
    assert r["sid"] == 2.0 and r["sid_normalised"] == 1.0
    # empty truth: any estimate adjusts correctly
    assert sid(empty, one, backend=backend)["sid"] == 0.0
    # truth 0 -> 1 -> 2; estimate 0 -> 1, 0 -> 2: only p(x1 | do(x2)) is wrong
    T = adj(3, [(0, 1), (1, 2)])
    E = adj(3, [(0, 1), (0, 2)])
    r = sid(T, E, backend=backend)
    assert r["sid"] == 1.0 and r["sid_normalised"] == pytest.approx(1 / 6)
    assert sid(T, T, backend=backend)["sid"] == 0.0


def test_sid_cpdag_bounds():
    one = adj(2, [(0, 1)])
    r = sid(one, adj(2, [], [(0, 1)]), backend="python")
    assert (r["sid_lower"], r["sid_upper"], r["n_extensions"]) == (0.0, 2.0, 2)
    assert r["estimate_kind"] == "cpdag" and "sid" not in r
    # fully undirected triangle: 3! = 6 DAGs; undirected chain: 3 DAGs
    tri = adj(3, [], [(0, 1), (1, 2), (0, 2)])
    full = adj(3, [(0, 1), (1, 2), (0, 2)])
    assert sid(full, tri)["n_extensions"] == 6
    chain = adj(3, [], [(0, 1), (1, 2)])
    r = sid(adj(3, [(0, 1), (1, 2)]), chain)
    assert r["n_extensions"] == 3 and r["sid_lower"] == 0.0
    with pytest.raises(ValidationError, match="max_extensions"):
        sid(full, tri, max_extensions=5)


def test_sid_rejects_non_cpdag_and_pag():
    T = adj(3, [(0, 1), (2, 1)])
    pdag = adj(3, [(0, 1)], [(1, 2)])  # 0 -> 1 --- 2 is not a CPDAG (Meek R1 orients it)
    with pytest.raises(GraphTypeError, match="est"):
        sid(T, pdag)
    with pytest.raises(GraphTypeError, match="true_dag"):
        sid(pdag, T)
    G = nx.DiGraph()
    add_marked_edge(G, 0, 1, "o->")
    G.add_node(2)
    with pytest.raises(GraphTypeError, match="PAG"):
        sid(T, G)


def test_sid_python_agrees_with_gadjid():
    pytest.importorskip("gadjid")
    rng = np.random.default_rng(3)
    for _ in range(15):
        d = int(rng.integers(2, 7))
        T, E = random_dag(d, 0.5, rng), random_dag(d, 0.5, rng)
        assert sid(T, E, backend="python")["sid"] == sid(T, E, backend="gadjid")["sid"]
        C = dag_to_cpdag(E)
        a, b = sid(T, C, backend="python"), sid(T, C, backend="gadjid")
        assert (a["sid_lower"], a["sid_upper"]) == (b["sid_lower"], b["sid_upper"])


def test_aid_runs_on_dag_and_cpdag():
    pytest.importorskip("gadjid")
    T = adj(3, [(0, 1), (1, 2)])
    assert aid(T, T)["aid"] == 0.0
    r = aid(T, dag_to_cpdag(T), variant="parent")
    assert 0.0 <= r["aid_normalised"] <= 1.0


# --------------------------------------------------------------------------- baseline


def test_random_graph_baseline():
    rng = np.random.default_rng(4)
    T = random_dag(8, 0.4, rng)
    k = int(T.sum())
    b = random_graph_baseline(T, n_draws=30, random_state=0)
    assert b["n_edges"] == k and b["n_draws"] == 30
    assert b["empty_shd"] == k and b["empty_skeleton_f1"] == 0.0
    for key, value in b.items():
        if key.endswith(("f1", "f1_q10", "f1_q90")):
            assert 0.0 <= value <= 1.0
    assert b["random_shd_q10"] <= b["random_shd"] <= b["random_shd_q90"]
    assert b == random_graph_baseline(T, n_draws=30, random_state=0)
    assert shd(T, T) < b["random_shd"]
    c = random_graph_baseline(T, n_draws=5, compare="cpdag", reversal_cost=2)
    assert c["compare"] == "cpdag" and c["reversal_cost"] == 2.0


# --------------------------------------------------------------------------- errors


def test_bad_inputs_raise_crl_errors_naming_the_argument():
    A = adj(3, [(0, 1)])
    with pytest.raises(ValidationError, match="true_adj.*square"):
        shd(np.zeros((2, 3)), A)
    with pytest.raises(ValidationError, match=r"est_adj.*\(3, 3\).*\(4, 4\)"):
        shd(A, np.zeros((4, 4)))
    bad = A.copy()
    bad[0, 2] = np.nan
    with pytest.raises(ValidationError, match="est_adj.*NaN"):
        shd(A, bad)
    with pytest.raises(CRLError, match="compare"):
        shd(A, A, compare="pag")
    with pytest.raises(ValidationError, match="reversal_cost"):
        shd(A, A, reversal_cost=-1)
    with pytest.raises(GraphTypeError, match="true_adj.*DAG"):
        shd(adj(3, [], [(0, 1)]), A, compare="cpdag")
    with pytest.raises(CyclicGraphError, match="est_adj"):
        shd(A, adj(3, [(0, 1), (1, 2), (2, 0)]), compare="cpdag")
    with pytest.raises(GraphTypeError, match="self-loop"):
        shd(A, np.eye(3))
    with pytest.raises(GraphTypeError, match="true"):
        skeleton_scores("graph", A)
    with pytest.raises(GraphTypeError, match="networkx.DiGraph"):
        skeleton_scores(nx.Graph([(0, 1)]), A)
    with pytest.raises(ValidationError, match="n_draws"):
        random_graph_baseline(A, n_draws=0)


# --------------------------------------------------------------------------- topological matching


def test_topological_matching_worked_example():
    A = adj(3, [(0, 1), (0, 2)])
    for method in ("ilp", "brute_force"):
        r = topological_matching(A, [2, 0, 1], [0, 1, 2], method=method)
        assert r["permutation"].tolist() == [0, 2, 1]
        assert r["n_matched"] == 1 and r["n_contexts"] == 3 and not r["all_matched"]
        assert r["method"] == method
        P = r["P"]
        assert np.array_equal(P @ np.array([10.0, 20.0, 30.0]), [10.0, 30.0, 20.0])


def _respects_order(A, perm):
    pos = {int(a): i for i, a in enumerate(perm)}
    return all(pos[a] < pos[b] for a, b in np.argwhere(A != 0))


def test_topological_matching_ilp_agrees_with_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(30):
        d = int(rng.integers(1, 7))
        A = random_dag(d, rng.random(), rng)
        K = int(rng.integers(1, d + 3))
        true_t = rng.integers(-1, d, size=K)
        est_t = rng.integers(-1, d, size=K)
        r_ilp = topological_matching(A, est_t, true_t, method="ilp")
        r_bf = topological_matching(A, est_t, true_t, method="brute_force")
        assert r_ilp["n_matched"] == r_bf["n_matched"]
        for r in (r_ilp, r_bf):
            assert sorted(r["permutation"].tolist()) == list(range(d))
            assert _respects_order(A, r["permutation"])
            assert r["n_matched"] == int(
                np.sum(
                    (est_t >= 0)
                    & (true_t >= 0)
                    & (r["permutation"][np.clip(est_t, 0, None)] == true_t)
                )
            )
            assert 0.0 <= r["fraction_matched"] <= 1.0
        # brute force is an exhaustive oracle
        best = 0
        for order in topological_orders(A):
            perm = np.asarray(order)
            ok = (est_t >= 0) & (true_t >= 0)
            best = max(best, int(np.sum(perm[est_t[ok]] == true_t[ok])))
        assert r_bf["n_matched"] == best


def test_topological_matching_recovers_a_consistent_permutation():
    rng = np.random.default_rng(6)
    A = random_dag(5, 0.6, rng)
    order = next(iter(topological_orders(A)))
    perm = np.asarray(order)  # estimated i is true perm[i]
    true_t = rng.permutation(5)
    inv = np.empty(5, dtype=int)
    inv[perm] = np.arange(5)
    est_t = inv[true_t]
    r = topological_matching(A, est_t, true_t)
    assert r["all_matched"] and r["fraction_matched"] == 1.0
    # one-hot targets (K, d) give the same answer; all-False rows mean no target
    onehot_true = np.vstack([np.zeros(5, bool), np.eye(5, dtype=bool)[true_t]])
    onehot_est = np.vstack([np.zeros(5, bool), np.eye(5, dtype=bool)[est_t]])
    r2 = topological_matching(A, onehot_est, onehot_true)
    assert r2["n_matched"] == 5 and r2["n_contexts"] == 5


def test_topological_matching_bad_inputs():
    A = adj(3, [(0, 1)])
    with pytest.raises(CyclicGraphError, match="true_dag"):
        topological_matching(adj(3, [(0, 1), (1, 2), (2, 0)]), [0], [0])
    with pytest.raises(ValidationError, match="est_targets.*one entry per context"):
        topological_matching(A, [0, 1], [0, 1, 2])
    with pytest.raises(ValidationError, match="true_targets.*indices"):
        topological_matching(A, [0], [3])
    with pytest.raises(ValidationError, match="est_targets.*at most one target"):
        topological_matching(A, np.ones((1, 3), bool), [0])
    with pytest.raises(ValidationError, match="est_targets.*shape"):
        topological_matching(A, np.zeros((1, 2), bool), [0])
    with pytest.raises(CRLError, match="method"):
        topological_matching(A, [0], [0], method="greedy")
    with pytest.raises(ValidationError, match="max_orders"):
        topological_matching(np.zeros((6, 6)), [0], [0], method="brute_force", max_orders=10)
    r = topological_matching(np.zeros((0, 0)), [], [])
    assert r["permutation"].size == 0 and r["fraction_matched"] == 1.0
