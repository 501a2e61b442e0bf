"""Tests of crl.graphs: conventions, conversions (adjacency, LiNGAM, causal-learn), CPDAGs, Meek, orders."""

import itertools

import networkx as nx
import numpy as np
import pytest

from crl.exceptions import CRLError, CyclicGraphError, GraphTypeError, ValidationError
from crl.graphs import (
    add_marked_edge,
    check_acyclic,
    dag_to_cpdag,
    from_adjacency,
    from_causallearn,
    from_lingam_B,
    graph_kind,
    is_acyclic,
    latent_names,
    latent_nodes,
    marked_edges,
    meek_orient,
    observed_nodes,
    skeleton,
    to_adjacency,
    to_causallearn,
    topological_order,
    topological_orders,
    transitive_closure,
    transitive_reduction,
)

# --------------------------------------------------------------------------- helpers


def random_dag_matrix(d, p, rng):
    """Random DAG adjacency (A[i, j] = 1 means i -> j) with a random causal order."""
    upper = np.triu(rng.random((d, d)) < p, k=1).astype(float)
    perm = rng.permutation(d)
    return upper[np.ix_(perm, perm)]


def canon(edges):
    """Order-free form of (u, v, mark) triples: symmetric marks as unordered pairs."""
    out = set()
    for u, v, mark in edges:
        if mark in ("---", "<->", "o-o"):
            out.add((frozenset((u, v)), mark))
        else:
            out.add(((u, v), mark))
    return out


_CL_STRING_ENDS = {
    ("-", ">"): ("-->", False),
    ("<", "-"): ("-->", True),
    ("-", "-"): ("---", False),
    ("<", ">"): ("<->", False),
    ("o", ">"): ("o->", False),
    ("<", "o"): ("o->", True),
    ("o", "o"): ("o-o", False),
}


def edges_from_causallearn_strings(cl_graph):
    """Parse causal-learn's own printed edges ("X1 o-> X3") into (u, v, mark) triples."""
    out = []
    for edge in cl_graph.get_graph_edges():
        a, arrow, b = str(edge).split()
        mark, flipped = _CL_STRING_ENDS[(arrow[0], arrow[-1])]
        out.append((b, a, mark) if flipped else (a, b, mark))
    return out


def same_graph(G, H):
    """Same nodes (with latent flags), same marks, same kind."""
    assert list(G.nodes) == list(H.nodes)
    assert [G.nodes[v].get("latent", False) for v in G] == [
        H.nodes[v].get("latent", False) for v in H
    ]
    assert canon(marked_edges(G)) == canon(marked_edges(H))
    assert G.graph.get("kind") == H.graph.get("kind")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def dag():
    A = np.zeros((5, 5))
    A[0, 2], A[1, 2], A[2, 3], A[3, 4], A[0, 4] = 0.5, -1.5, 2.0, 0.7, 1.1
    return from_adjacency(A, ["a", "b", "c", "d", "e"])


@pytest.fixture
def cpdag():
    G = nx.DiGraph(kind="cpdag")
    G.add_nodes_from("abcde", latent=False)
    add_marked_edge(G, "a", "c", "-->", weight=1.0)
    add_marked_edge(G, "b", "c", "-->", weight=2.0)
    add_marked_edge(G, "c", "d", "-->", weight=3.0)
    add_marked_edge(G, "d", "e", "---", weight=4.0)
    return G


@pytest.fixture
def pag():
    G = nx.DiGraph(kind="pag")
    G.add_nodes_from(["a", "b", "c", "d", "e", "f"], latent=False)
    add_marked_edge(G, "a", "c", "o->")
    add_marked_edge(G, "b", "c", "o->")
    add_marked_edge(G, "c", "d", "<->")
    add_marked_edge(G, "d", "e", "-->")
    add_marked_edge(G, "f", "a", "o-o")
    add_marked_edge(G, "e", "f", "---")
    return G


@pytest.fixture
def hidden():
    # Names chosen to catch name-based latency: "Length" and "L1" are observed, "H" is hidden.
    G = nx.DiGraph(kind="latent_dag")
    G.add_node("H", latent=True)
    G.add_node("L1", latent=False)
    G.add_node("Length", latent=False)
    G.add_node("X", latent=False)
    add_marked_edge(G, "H", "L1", "-->", weight=1.0)
    add_marked_edge(G, "H", "Length", "-->", weight=1.0)
    add_marked_edge(G, "L1", "X", "-->", weight=0.5)
    add_marked_edge(G, "Length", "X", "-->", weight=0.5)
    return G


# --------------------------------------------------------------------------- adjacency, LiNGAM


def test_adjacency_round_trip_dag(dag):
    A = to_adjacency(dag, weight="weight")
    assert A[0, 2] == 0.5 and A[2, 0] == 0  # A[i, j] != 0 means i -> j
    H = from_adjacency(A, list(dag.nodes))
    same_graph(dag, H)
    assert nx.utils.edges_equal(dag.edges(data=True), H.edges(data=True))
    assert np.array_equal(to_adjacency(dag), (A != 0).astype(float))


def test_adjacency_round_trip_cpdag(cpdag):
    A = to_adjacency(cpdag)
    assert A[3, 4] == A[4, 3] == 1 and A[2, 3] == 1 and A[3, 2] == 0
    same_graph(cpdag, from_adjacency(A, list(cpdag.nodes), kind="cpdag"))


def test_adjacency_round_trip_hidden(hidden):
    A = to_adjacency(hidden, weight="weight")
    flags = [hidden.nodes[v]["latent"] for v in hidden]
    H = from_adjacency(A, list(hidden.nodes), latent=flags, kind="latent_dag")
    same_graph(hidden, H)
    assert latent_nodes(H) == ["H"] and observed_nodes(H) == ["L1", "Length", "X"]
    H2 = from_adjacency(A, list(hidden.nodes), latent={"H"}, kind="latent_dag")
    same_graph(hidden, H2)


def test_pag_adjacency_and_endpoint_matrix_round_trip(pag):
    A = to_adjacency(pag, ["a", "b", "c", "d", "e", "f"])
    assert A[0, 2] == 1 and A[2, 0] == 0  # a o-> c: arrowhead direction only
    assert A[2, 3] == A[3, 2] == 1  # c <-> d symmetric
    assert A[5, 0] == A[0, 5] == 1  # f o-o a symmetric
    # lossless: the causal-learn endpoint matrix, decoded as a raw ndarray
    M = to_causallearn(pag).graph
    same_graph(pag, from_causallearn(M, node_names=list(pag.nodes)))


def test_tail_circle_edge_is_refused_by_name():
    # causal-learn's FCI can emit x0 --o x1 (tail at x0, circle at x1); no toolkit mark holds it
    M = np.zeros((2, 2))
    M[0, 1], M[1, 0] = -1, 2  # graph[a, b] is the endpoint at a
    with pytest.raises(GraphTypeError, match="TAIL at 'x0' and CIRCLE at 'x1' .*tail-circle"):
        from_causallearn(M, node_names=["x0", "x1"])


def test_from_lingam_B_transposes():
    B = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # x1 = 2 x0, x2 = -x1
    G = from_lingam_B(B, ["x0", "x1", "x2"])
    assert marked_edges(G) == [("x0", "x1", "-->"), ("x1", "x2", "-->")]
    assert G.edges["x0", "x1"]["weight"] == 2.0
    np.testing.assert_array_equal(to_adjacency(G, weight="weight"), B.T)
    with pytest.raises(ValidationError, match="^orientation:"):
        from_lingam_B(B, orientation="source_row")


def test_from_adjacency_rejects_unknown_latent_names():
    with pytest.raises(ValidationError, match="^latent:.*'Z'"):
        from_adjacency(np.zeros((2, 2)), ["a", "b"], latent={"Z"})


# --------------------------------------------------------------------------- marks and kinds


def test_marked_edges_lists_each_adjacency_once(pag):
    edges = marked_edges(pag)
    assert len(edges) == 6 == skeleton(pag).number_of_edges()
    assert ("a", "f", "o-o") in edges and ("c", "d", "<->") in edges  # earlier node first
    assert ("a", "c", "o->") in edges and ("e", "f", "---") in edges
    assert edges == marked_edges(pag.copy())
    S = skeleton(pag)
    assert isinstance(S, nx.Graph) and not S.is_directed() and S.has_edge("f", "a")


def test_add_marked_edge_replaces_and_stores_symmetric_twice():
    G = nx.DiGraph(kind="pag")
    add_marked_edge(G, "u", "v", "o->")
    assert G.has_edge("u", "v") and not G.has_edge("v", "u")
    add_marked_edge(G, "v", "u", "<->", weight=2.0)
    assert G.edges["u", "v"] == G.edges["v", "u"] == {"mark": "<->", "weight": 2.0}
    add_marked_edge(G, "u", "v", "-->")
    assert marked_edges(G) == [("u", "v", "-->")]
    assert G.nodes["u"]["latent"] is False
    with pytest.raises(CRLError, match="^mark:"):
        add_marked_edge(G, "u", "v", "->")


def test_graph_kind_checks_marks(dag, cpdag, pag):
    assert graph_kind(dag) == "dag" and graph_kind(cpdag) == "cpdag" and graph_kind(pag) == "pag"
    bad = cpdag.copy()
    bad.graph["kind"] = "dag"
    with pytest.raises(GraphTypeError, match="'---'"):
        graph_kind(bad)
    bad.graph["kind"] = "mag"
    with pytest.raises(GraphTypeError, match="kind"):
        graph_kind(bad)


def test_malformed_graphs_are_rejected(cpdag):
    one_way = cpdag.copy()
    one_way.remove_edge("e", "d")  # "---" stored once only
    with pytest.raises(GraphTypeError, match="both"):
        marked_edges(one_way)
    odd = cpdag.copy()
    odd.edges["a", "c"]["mark"] = "->"
    with pytest.raises(GraphTypeError, match="'->'"):
        to_adjacency(odd)
    with pytest.raises(GraphTypeError, match="^G:"):
        to_adjacency(nx.MultiDiGraph())


# --------------------------------------------------------------------------- causal-learn


def test_causallearn_endpoint_encoding():
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode

    nodes = [GraphNode("i"), GraphNode("j")]
    cl = GeneralGraph(nodes)
    cl.add_directed_edge(nodes[0], nodes[1])  # i --> j
    assert cl.graph[1, 0] == 1 and cl.graph[0, 1] == -1  # ARROW at j, TAIL at i
    G = from_causallearn(cl)
    assert marked_edges(G) == [("i", "j", "-->")] and G.graph["kind"] == "dag"


@pytest.mark.parametrize("name", ["dag", "cpdag", "pag", "hidden"])
def test_causallearn_round_trip(name, request):
    from causallearn.graph.NodeType import NodeType

    G = request.getfixturevalue(name)
    cl = to_causallearn(G)
    types = {n.get_name(): n.get_node_type() for n in cl.get_nodes()}
    assert [t == NodeType.LATENT for t in types.values()] == [G.nodes[v]["latent"] for v in G]
    H = from_causallearn(cl)
    same_graph(G, H)
    assert canon(edges_from_causallearn_strings(cl)) == canon(marked_edges(G))
    # integer node names come back through node_names
    K = nx.relabel_nodes(G, {v: k for k, v in enumerate(G)})
    same_graph(K, from_causallearn(to_causallearn(K), node_names=list(K)))


def test_causallearn_latency_comes_from_node_type_not_name():
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.graph.NodeType import NodeType

    nodes = [GraphNode(s) for s in ("Length", "L1", "H")]
    nodes[2].set_node_type(NodeType.LATENT)
    cl = GeneralGraph(nodes)
    cl.add_directed_edge(nodes[2], nodes[0])
    cl.add_directed_edge(nodes[2], nodes[1])
    G = from_causallearn(cl)
    assert latent_nodes(G) == ["H"] and observed_nodes(G) == ["Length", "L1"]
    assert G.graph["kind"] == "latent_dag"


def test_to_causallearn_endpoints_per_mark(pag):
    from causallearn.graph.Endpoint import Endpoint

    cl = to_causallearn(pag)
    node = {n.get_name(): n for n in cl.get_nodes()}
    # get_endpoint(x, y) is the endpoint at y of the edge x *-* y
    assert cl.get_endpoint(node["c"], node["a"]) == Endpoint.CIRCLE
    assert cl.get_endpoint(node["a"], node["c"]) == Endpoint.ARROW
    assert cl.get_endpoint(node["d"], node["c"]) == Endpoint.ARROW
    assert cl.get_endpoint(node["c"], node["d"]) == Endpoint.ARROW
    assert cl.get_endpoint(node["e"], node["d"]) == Endpoint.TAIL
    assert cl.get_endpoint(node["d"], node["e"]) == Endpoint.ARROW
    assert cl.is_pag()


def test_from_causallearn_errors():
    with pytest.raises(GraphTypeError, match="^obj:"):
        from_causallearn("X1 --> X2")
    M = np.array([[0, -1], [1, 0]])
    with pytest.raises(ValidationError, match="^node_names:"):
        from_causallearn(M, node_names=["a"])
    with pytest.raises(GraphTypeError, match="TAIL_AND_ARROW"):
        from_causallearn(np.array([[0, 4], [5, 0]]))  # --> and <-> between one pair
    with pytest.raises(GraphTypeError, match="CIRCLE"):
        from_causallearn(np.array([[0, -1], [2, 0]]))  # tail-circle edge has no mark here
    two_cycle = nx.DiGraph([("a", "b"), ("b", "a")], kind="dag")
    with pytest.raises(GraphTypeError, match="at most one edge"):
        to_causallearn(two_cycle)


@pytest.fixture(scope="module")
def linear_gaussian_data():
    """x1 -> x3 <- x2, x3 -> x4, x5 -> x6; hidden h -> x7, x8; x5 -> x7 <- h -> x8 <- x9."""
    rng = np.random.default_rng(0)
    n = 3000
    e = rng.standard_normal((n, 10))
    x1, x2, x5, x9, h = e[:, 0], e[:, 1], e[:, 4], e[:, 8], e[:, 9]
    x3 = 0.8 * x1 + 0.8 * x2 + e[:, 2]
    x4 = 0.8 * x3 + e[:, 3]
    x6 = 0.8 * x5 + e[:, 5]
    x7 = 0.8 * x5 + 0.9 * h + e[:, 6]
    x8 = 0.9 * h + 0.8 * x9 + e[:, 7]
    return np.column_stack([x1, x2, x3, x4, x5, x6, x7, x8, x9])


def test_decode_pc_output(linear_gaussian_data):
    from causallearn.search.ConstraintBased.PC import pc

    names = [f"x{k}" for k in range(1, 7)]
    cg = pc(linear_gaussian_data[:, :6], 0.001, show_progress=False, node_names=names)
    G = from_causallearn(cg)
    assert list(G.nodes) == names and not latent_nodes(G)
    assert canon(marked_edges(G)) == canon(edges_from_causallearn_strings(cg.G))
    assert G.graph["kind"] == "cpdag"
    truth = np.zeros((6, 6))
    truth[0, 2] = truth[1, 2] = truth[2, 3] = truth[4, 5] = 1
    assert canon(marked_edges(G)) == canon(marked_edges(dag_to_cpdag(from_adjacency(truth, names))))


def test_decode_fci_output(linear_gaussian_data):
    from causallearn.search.ConstraintBased.FCI import fci

    result = fci(linear_gaussian_data, alpha=0.01, show_progress=False)
    G = from_causallearn(result)  # the (graph, edges) tuple
    assert list(G.nodes) == [f"X{k}" for k in range(1, 10)]
    assert canon(marked_edges(G)) == canon(edges_from_causallearn_strings(result[0]))
    marks = {m for _, _, m in marked_edges(G)}
    assert G.graph["kind"] == "pag" and {"o->", "<->"} <= marks
    assert ("X7", "X8", "<->") in marked_edges(G)


def test_decode_ges_output(linear_gaussian_data):
    from causallearn.search.ScoreBased.GES import ges

    record = ges(linear_gaussian_data[:, :6])
    G = from_causallearn(record)  # the record dict
    assert canon(marked_edges(G)) == canon(edges_from_causallearn_strings(record["G"]))
    assert G.graph["kind"] in ("dag", "cpdag")
    # GES returns a CPDAG: it is closed under Meek's rules
    assert canon(marked_edges(meek_orient(G))) == canon(marked_edges(G))


def test_decode_gin_output_latent_types():
    from causallearn.search.HiddenCausal.GIN.GIN import GIN

    rng = np.random.default_rng(1)
    n = 200
    l1 = rng.uniform(-1, 1, n) ** 3
    l2 = 0.9 * l1 + rng.uniform(-1, 1, n) ** 3
    cols = [
        a * lat + 0.3 * rng.uniform(-1, 1, n) ** 3
        for lat, a in [(l1, 1), (l1, 0.8), (l1, 1.2), (l2, 1), (l2, 0.7), (l2, 1.1)]
    ]
    cl, _ = result = GIN(np.column_stack(cols), "hsic", 0.05)
    G = from_causallearn(result)  # the (graph, causal_order) tuple
    latent_names = [n.get_name() for n in cl.get_nodes() if n.get_node_type().name == "LATENT"]
    assert latent_names and latent_nodes(G) == latent_names
    assert canon(marked_edges(G)) == canon(edges_from_causallearn_strings(cl))
    assert G.graph["kind"] in ("latent_dag", "latent_cpdag")


# --------------------------------------------------------------------------- CPDAG and Meek


def test_dag_to_cpdag_matches_causallearn():
    from causallearn.graph.Dag import Dag
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.utils.DAG2CPDAG import dag2cpdag

    rng = np.random.default_rng(42)
    n_directed = n_undirected = 0
    for _ in range(30):
        d = int(rng.integers(3, 9))
        A = random_dag_matrix(d, 0.45, rng)
        names = [f"X{k}" for k in range(d)]
        G = from_adjacency(A, names)
        nodes = [GraphNode(s) for s in names]
        cl_dag = Dag(nodes)
        for i, j in zip(*np.nonzero(A), strict=True):
            cl_dag.add_directed_edge(nodes[i], nodes[j])
        expected = from_causallearn(dag2cpdag(cl_dag))
        ours = dag_to_cpdag(G)
        assert canon(marked_edges(ours)) == canon(marked_edges(expected))
        # the ndarray path gives the same matrix, undirected edges as symmetric 1s
        np.testing.assert_array_equal(dag_to_cpdag(A), to_adjacency(ours))
        # directed CPDAG edges keep the DAG's direction; the CPDAG is Meek-closed
        for u, v, mark in marked_edges(ours):
            assert G.has_edge(u, v) or mark == "---"
        assert canon(marked_edges(meek_orient(ours))) == canon(marked_edges(ours))
        marks = [m for _, _, m in marked_edges(ours)]
        n_directed += marks.count("-->")
        n_undirected += marks.count("---")
    assert n_directed > 10 and n_undirected > 10  # both kinds of edges were exercised


def test_dag_to_cpdag_keeps_attributes_and_sets_kind(hidden):
    cp = dag_to_cpdag(hidden)
    assert cp.graph["kind"] == "latent_cpdag" and latent_nodes(cp) == ["H"]
    # L1 -> X <- Length is a v-structure; the edges out of H are reversible
    assert marked_edges(cp) == [
        ("H", "L1", "---"),
        ("H", "Length", "---"),
        ("L1", "X", "-->"),
        ("Length", "X", "-->"),
    ]
    assert cp.edges["L1", "X"]["weight"] == 0.5 and cp.edges["L1", "H"]["weight"] == 1.0
    assert hidden.graph["kind"] == "latent_dag"  # input untouched


def _pdag(directed=(), undirected=(), nodes="abcd"):
    G = nx.DiGraph(kind="cpdag")
    G.add_nodes_from(nodes, latent=False)
    for u, v in directed:
        add_marked_edge(G, u, v, "-->")
    for u, v in undirected:
        add_marked_edge(G, u, v, "---")
    return G


def test_meek_collider_stays():
    G = _pdag(directed=[("a", "c"), ("b", "c")], nodes="abc")
    assert canon(marked_edges(meek_orient(G))) == canon(marked_edges(G))
    assert canon(marked_edges(dag_to_cpdag(G))) == canon(marked_edges(G))


def test_meek_r1_chain():
    G = _pdag(directed=[("a", "b")], undirected=[("b", "c")], nodes="abc")
    assert canon(marked_edges(meek_orient(G))) == {(("a", "b"), "-->"), (("b", "c"), "-->")}
    # not when a and c are adjacent
    H = _pdag(directed=[("a", "b")], undirected=[("b", "c"), ("a", "c")], nodes="abc")
    assert canon(marked_edges(meek_orient(H))) == canon(marked_edges(H))
    # ndarray input: symmetric pair = undirected
    A = np.array([[0, 1, 0], [0, 0, 1], [0, 1, 0]], dtype=float)
    np.testing.assert_array_equal(meek_orient(A), np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]))


def test_meek_r2():
    G = _pdag(directed=[("a", "b"), ("b", "c")], undirected=[("a", "c")], nodes="abc")
    assert (("a", "c"), "-->") in canon(marked_edges(meek_orient(G)))


def test_meek_r3():
    G = _pdag(directed=[("c", "b"), ("d", "b")], undirected=[("a", "b"), ("a", "c"), ("a", "d")])
    out = canon(marked_edges(meek_orient(G)))
    assert (("a", "b"), "-->") in out
    assert (frozenset("ac"), "---") in out and (frozenset("ad"), "---") in out


def test_meek_r4():
    G = _pdag(directed=[("c", "d"), ("d", "b")], undirected=[("a", "b"), ("a", "c"), ("a", "d")])
    out = canon(marked_edges(meek_orient(G)))
    assert (("a", "b"), "-->") in out
    assert (frozenset("ac"), "---") in out and (frozenset("ad"), "---") in out


def test_meek_rejects_pag_marks_and_cycles(pag):
    with pytest.raises(GraphTypeError, match="'o->'"):
        meek_orient(pag)
    with pytest.raises(CyclicGraphError, match="^G:"):
        meek_orient(_pdag(directed=[("a", "b"), ("b", "c"), ("c", "a")], nodes="abc"))


# --------------------------------------------------------------------------- closure, reduction, orders


def test_closure_and_reduction_known_graphs():
    diamond = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d")], kind="dag")
    red = transitive_reduction(diamond)
    assert set(red.edges) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}
    assert red.graph["kind"] == "dag"
    chain = from_adjacency(np.eye(4, k=1), list("wxyz"))
    clo = transitive_closure(chain)
    assert set(clo.edges) == set(itertools.combinations("wxyz", 2))
    assert clo.edges["w", "x"]["weight"] == 1.0 and clo.edges["w", "z"] == {"mark": "-->"}
    np.testing.assert_array_equal(transitive_closure(np.eye(4, k=1)), np.triu(np.ones((4, 4)), k=1))
    np.testing.assert_array_equal(
        transitive_reduction(np.triu(np.ones((4, 4)), k=1)), np.eye(4, k=1)
    )


def test_closure_reduction_identities():
    rng = np.random.default_rng(3)
    for _ in range(20):
        A = random_dag_matrix(int(rng.integers(2, 9)), 0.4, rng)
        C, R = transitive_closure(A), transitive_reduction(A)
        np.testing.assert_array_equal(transitive_closure(R), C)
        np.testing.assert_array_equal(transitive_reduction(C), R)
        assert np.all(R <= (A != 0)) and np.all((A != 0) <= C)
        G = from_adjacency(A)
        np.testing.assert_array_equal(to_adjacency(transitive_closure(G)), C)
        np.testing.assert_array_equal(to_adjacency(transitive_reduction(G)), R)


def test_topological_orders():
    diamond = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    orders = list(topological_orders(diamond))
    assert sorted(map(tuple, orders)) == [("a", "b", "c", "d"), ("a", "c", "b", "d")]
    assert topological_order(diamond) == ["a", "b", "c", "d"]
    empty = np.zeros((4, 4))
    assert len(list(topological_orders(empty))) == 24
    assert len(list(topological_orders(empty, limit=5))) == 5
    G = nx.DiGraph()
    G.add_nodes_from(["z", "y", "x"])
    G.add_edge("x", "y")
    assert topological_order(G) == ["z", "x", "y"]  # earliest available in G.nodes first
    assert topological_order(np.array([[0, 0], [1, 0]])) == [1, 0]
    # "---" edges do not constrain orders
    assert len(list(topological_orders(_pdag(undirected=[("a", "b")], nodes="ab")))) == 2
    with pytest.raises(ValidationError, match="^limit:"):
        topological_orders(empty, limit=-1)


def test_cycles_raise():
    A = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    G = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    assert not is_acyclic(A) and not is_acyclic(G)
    with pytest.raises(CyclicGraphError, match=r"^truth: .*'a' -> 'b' -> 'c' -> 'a'"):
        check_acyclic(G, name="truth")
    for f in (
        topological_order,
        topological_orders,
        transitive_closure,
        transitive_reduction,
        dag_to_cpdag,
    ):
        with pytest.raises(CyclicGraphError, match="^G:"):
            f(A)
        with pytest.raises(CyclicGraphError):
            f(G)
    with pytest.raises(CyclicGraphError, match="^A:"):
        from_adjacency(A)
    # a symmetric pair is a 2-cycle in a matrix, but "---" is not directed in a graph
    assert not is_acyclic(np.array([[0, 1], [1, 0]]))
    assert is_acyclic(_pdag(undirected=[("a", "b")], nodes="ab"))
    check_acyclic(_pdag(directed=[("a", "b")], undirected=[("b", "c")], nodes="abc"))


def test_dag_only_functions_reject_other_marks(cpdag):
    for f in (transitive_closure, transitive_reduction, dag_to_cpdag):
        with pytest.raises(GraphTypeError, match="'---'"):
            f(cpdag)


def test_errors_name_the_argument(dag):
    with pytest.raises(ValidationError, match=r"^nodelist: .*'zz'"):
        to_adjacency(dag, ["a", "zz"])
    with pytest.raises(ValidationError, match=r"^weight: .*'strength'"):
        to_adjacency(dag, weight="strength")
    with pytest.raises(ValidationError, match=r"^G: expected a square matrix"):
        is_acyclic(np.zeros((2, 3)))
    with pytest.raises(GraphTypeError, match="^G: expected a networkx.DiGraph"):
        dag_to_cpdag("a -> b")
    with pytest.raises(GraphTypeError, match="^G:"):
        to_causallearn(nx.Graph())


def test_latent_names_avoid_observed_names():
    assert latent_names(2, ["a", "b"]) == ["L1", "L2"]
    assert latent_names(2, ["L2", "x"]) == ["_L1", "_L2"]
    assert latent_names(1, ["L1", "_L1"]) == ["__L1"]
    assert latent_names(0, ["L1"]) == []
