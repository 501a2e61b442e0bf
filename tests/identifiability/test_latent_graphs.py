"""Tests of identifiability.latent_graphs (latent_relabeling scores, rlcd.md §7)."""

import itertools
import time

import networkx as nx
import numpy as np
import pytest

from crl.exceptions import CRLError, GraphTypeError, ValidationError
from crl.graphs import add_marked_edge, dag_to_cpdag, from_adjacency, latent_nodes
from identifiability.graph_metrics import shd, skeleton_scores
from identifiability.latent_graphs import latent_graph_scores
from simulators.rlcd_families import RLCD_FIXTURES, rlcd_fixture


def relabel_hidden(G, rng, prefix="H"):
    """Copy of G with hidden nodes renamed in a shuffled way and nodes re-declared in random order."""
    hidden = latent_nodes(G)
    names = [f"{prefix}{k}" for k in rng.permutation(len(hidden))]
    mapping = dict(zip(hidden, names))
    H = nx.relabel_nodes(G, mapping)
    order = [list(H.nodes)[k] for k in rng.permutation(H.number_of_nodes())]
    out = nx.DiGraph(**H.graph)
    out.add_nodes_from((v, H.nodes[v]) for v in order)
    out.add_edges_from(H.edges(data=True))
    return out, mapping


def random_latent_graph(p, m, density, rng):
    n = p + m
    A = np.triu(rng.random((n, n)) < density, k=1).astype(float)
    perm = rng.permutation(n)
    A = A[np.ix_(perm, perm)]
    names = [f"X{i}" for i in range(p)] + [f"L{i}" for i in range(m)]
    return from_adjacency(
        A, names, latent=[False] * p + [True] * m, kind="latent_dag", weighted=False
    )


def naive_best(true, est, paper=False):
    """Reference: try every relabelling (and, for paper style, every subset) by full rescoring."""
    lt, le = latent_nodes(true), latent_nodes(est)
    mt, me = len(lt), len(le)
    m = max(mt, me)
    T = true.copy()
    if not paper:
        T.add_nodes_from((f"_pt{k}", {"latent": True}) for k in range(m - mt))
    slots = latent_nodes(T)
    cands = le + [f"_pe{k}" for k in range(max(m if not paper else mt, me) - me)]
    best = None
    for chosen in itertools.permutations(cands, len(slots)):
        E = est.copy()
        E.add_nodes_from((c, {"latent": True}) for c in cands if c not in E)
        E.remove_nodes_from([c for c in cands if c not in chosen])
        E = nx.relabel_nodes(E, dict(zip(chosen, slots)))
        r = skeleton_scores(T, E)
        key = (-round(r["f1"], 12), r["fp"] + r["fn"])
        best = key if best is None or key < best else best
    return -best[0], best[1]


@pytest.mark.parametrize("name", RLCD_FIXTURES)
def test_relabelled_fixture_scores_perfectly(name):
    rng = np.random.default_rng(0)
    G = rlcd_fixture(name)
    H, mapping = relabel_hidden(G, rng)
    r = latent_graph_scores(G, H)
    assert r["f1_all"] == 1.0 and r["shd"] == 0.0 and r["shd_marks"] == 0.0
    assert r["f1_observed"] == 1.0 and r["directed_f1"] == 1.0
    assert r["n_hidden_error"] == 0 and not r["approximate"]
    assert r["paper_f1_all"] == 1.0 and r["paper_shd"] == 0.0 and r["paper_convention"] == "lenient"
    assert r["matching"] == "graph_optimised"
    # renaming the estimate's hidden nodes by the mapping gives back the truth
    assert shd(G, nx.relabel_nodes(H, r["mapping"])) == 0.0
    if name != "gen_a":  # gen_a's L3 and L4 are interchangeable; the others have no such symmetry
        assert r["mapping"] == {v: k for k, v in mapping.items()}


def test_extra_hidden_node_penalised_strictly_but_not_paper_style():
    G = rlcd_fixture("mm_a")
    H, _ = relabel_hidden(G, np.random.default_rng(1))
    H.add_node("Hx", latent=True)
    H.add_edge("Hx", "X1", mark="-->")
    H.add_edge("Hx", "X5", mark="-->")
    r = latent_graph_scores(G, H)
    assert r["n_hidden_true"] == 4 and r["n_hidden_est"] == 5 and r["n_hidden_error"] == 1
    assert r["f1_all"] < 1.0 and r["shd"] == 2.0 and r["fp_all"] == 2
    assert r["mapping"]["Hx"] is None
    assert r["paper_f1_all"] == 1.0 and r["paper_shd"] == 0.0
    assert r["paper_dropped"] == ["Hx"] and "Hx" not in r["paper_mapping"]


def test_missing_hidden_node_lowers_f1():
    G = rlcd_fixture("tree_a")
    H, mapping = relabel_hidden(G, np.random.default_rng(2))
    H.remove_node(mapping["L4"])
    r = latent_graph_scores(G, H)
    assert r["n_hidden_error"] == 1 and r["n_hidden_est"] == 3
    assert r["f1_all"] < 1.0 and r["recall_all"] < 1.0 and r["precision_all"] == 1.0
    assert r["shd"] == 4.0  # L3 - L4 and L4 - {X8, X9, X10}
    assert len(r["mapping"]) == 3 and "L4" not in r["mapping"].values()
    assert r["paper_f1_all"] == r["f1_all"]  # paper style pads the estimate too


def test_observed_node_named_like_a_latent_is_observed():
    G = nx.DiGraph(kind="latent_dag")
    G.add_node("L1", latent=False)
    for v in ("X1", "X2"):
        G.add_node(v, latent=False)
    G.add_node("Z", latent=True)
    for v in ("L1", "X1", "X2"):
        G.add_edge("Z", v, mark="-->")
    H = nx.relabel_nodes(G, {"Z": "L9"})
    r = latent_graph_scores(G, H)
    assert r["f1_all"] == 1.0 and r["n_hidden_true"] == 1 and r["mapping"] == {"L9": "Z"}
    bad = G.copy()
    bad.nodes["L1"]["latent"] = True
    with pytest.raises(ValidationError, match="'L1'"):
        latent_graph_scores(G, bad)


def test_exact_and_approximate_agree_on_easy_cases():
    rng = np.random.default_rng(3)
    for name in RLCD_FIXTURES:
        G = rlcd_fixture(name)
        H, _ = relabel_hidden(G, rng)
        exact = latent_graph_scores(G, H)
        approx = latent_graph_scores(G, H, exact_limit=0)
        assert approx["approximate"] and approx["paper_approximate"]
        for key in ("f1_all", "shd", "shd_marks", "paper_f1_all"):
            assert approx[key] == exact[key]


def test_incremental_search_matches_full_rescoring():
    rng = np.random.default_rng(4)
    for _ in range(12):
        p, mt, me = int(rng.integers(2, 6)), int(rng.integers(0, 4)), int(rng.integers(0, 4))
        T = random_latent_graph(p, mt, 0.4, rng)
        E = random_latent_graph(p, me, 0.4, rng)
        E = nx.relabel_nodes(E, {v: f"E{v}" for v in latent_nodes(E)})
        r = latent_graph_scores(T, E, paper_style=True)
        f1, s = naive_best(T, E)
        assert r["f1_all"] == pytest.approx(f1) and r["shd"] == s
        f1p, sp = naive_best(T, E, paper=True)
        assert r["paper_f1_all"] == pytest.approx(f1p) and r["paper_shd"] == sp
        for key in ("f1_all", "precision_all", "recall_all", "f1_observed", "paper_f1_all"):
            assert 0.0 <= r[key] <= 1.0


def test_shd_marks_uses_cpdag_marks():
    G = rlcd_fixture("mm_b")  # L1 -> L2 -> L3 chain: latent edges reversible in the MEC
    H, _ = relabel_hidden(G, np.random.default_rng(5))
    C = dag_to_cpdag(H)
    r = latent_graph_scores(G, C)
    assert r["shd_marks"] == 0.0 and r["f1_all"] == 1.0
    raw = latent_graph_scores(G, C, marks="as_given")
    n_undirected = sum(1 for u, v, m in C.edges(data="mark") if m == "---") // 2
    assert n_undirected > 0 and raw["shd_marks"] == n_undirected and raw["shd"] == 0.0
    assert raw["directed_recall"] < 1.0


def test_empty_and_hidden_only_graphs():
    E = nx.DiGraph()
    r = latent_graph_scores(E, E)
    assert r["f1_all"] == 1.0 and r["shd"] == 0.0 and r["flags"]["empty_truth"]
    G = nx.DiGraph()
    G.add_node("a", latent=True)
    r = latent_graph_scores(G, E)
    assert r["n_hidden_error"] == 1 and r["f1_all"] == 1.0 and r["mapping"] == {}


def test_eight_hidden_nodes_exact_is_fast():
    rng = np.random.default_rng(6)
    T = random_latent_graph(15, 8, 0.25, rng)
    E = random_latent_graph(15, 8, 0.25, rng)
    start = time.perf_counter()
    r = latent_graph_scores(T, E)
    assert time.perf_counter() - start < 5.0
    assert r["n_bijections"] == 40320 and not r["approximate"]
    # the exact optimum is at least as good as the approximate one
    a = latent_graph_scores(T, E, exact_limit=4, paper_style=False)
    assert a["approximate"] and a["f1_all"] <= r["f1_all"] + 1e-12


def test_mark_shd_agrees_with_graph_shd_after_mapping():
    G = rlcd_fixture("gen_b")
    H, _ = relabel_hidden(G, np.random.default_rng(7))
    add_marked_edge(H, "X1", "X2", "-->")
    r = latent_graph_scores(G, H, marks="as_given")
    back = nx.relabel_nodes(H, r["mapping"])
    assert r["shd_marks"] == shd(G, back) == 1.0


def test_bad_inputs():
    G = rlcd_fixture("tree_b")
    with pytest.raises(GraphTypeError, match="est_graph"):
        latent_graph_scores(G, np.zeros((3, 3)))
    H = G.copy()
    H.remove_node("X3")
    with pytest.raises(ValidationError, match="missing from est_graph: \\['X3'\\]"):
        latent_graph_scores(G, H)
    with pytest.raises(CRLError, match="exact_limit"):
        latent_graph_scores(G, G, exact_limit=-1)
    with pytest.raises(CRLError, match="marks"):
        latent_graph_scores(G, G, marks="pag")
