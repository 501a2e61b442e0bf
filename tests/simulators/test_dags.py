import networkx as nx
import numpy as np
import pytest

from crl.exceptions import CRLError, CyclicGraphError
from simulators.dags import causal_order, check_dag, random_dag, sample_weights


@pytest.mark.parametrize("kind", ["er", "sf"])
def test_exact_edge_count_and_acyclic(kind):
    for seed in range(10):
        A = random_dag(12, n_edges=20, kind=kind, random_state=seed)
        assert A.sum() == 20
        assert nx.is_directed_acyclic_graph(nx.from_numpy_array(A, create_using=nx.DiGraph))
        assert np.all(np.diag(A) == 0)


def test_expected_degree_matches_on_average():
    # mean total degree 2m/n; 200 graphs of 20 nodes give a standard error of about 0.03
    degs = [2 * random_dag(20, expected_degree=3.0, random_state=s).sum() / 20 for s in range(200)]
    assert abs(np.mean(degs) - 3.0) < 0.15


def test_node_order_does_not_leak_causal_order():
    # Without permutation the matrix is upper triangular; with it, roughly half
    # of the edges point from a higher to a lower index.
    A = random_dag(30, n_edges=100, random_state=0, permute=False)
    assert np.all(np.tril(A) == 0)
    frac = np.mean([np.tril(random_dag(30, n_edges=100, random_state=s)).sum() / 100 for s in range(20)])
    assert 0.4 < frac < 0.6


def test_scale_free_has_hubs():
    # preferential attachment: the largest out-degree far exceeds the ER one on average
    sf = np.mean([random_dag(50, n_edges=100, kind="sf", random_state=s).sum(1).max() for s in range(20)])
    er = np.mean([random_dag(50, n_edges=100, kind="er", random_state=s).sum(1).max() for s in range(20)])
    assert sf > 1.5 * er


def test_weights_bounded_away_from_zero_with_both_signs():
    A = random_dag(30, n_edges=200, random_state=1)
    W = sample_weights(A, (0.5, 2.0), random_state=2)
    w = W[A != 0]
    assert np.all((np.abs(w) >= 0.5) & (np.abs(w) <= 2.0))
    assert (w > 0).any() and (w < 0).any()
    assert np.all(W[A == 0] == 0)


def test_seeds():
    assert np.array_equal(random_dag(10, random_state=3), random_dag(10, random_state=3))
    assert not all(np.array_equal(random_dag(10, random_state=3), random_dag(10, random_state=s)) for s in range(4, 8))


def test_causal_order_is_topological():
    A = random_dag(15, n_edges=40, random_state=5)
    pos = {v: i for i, v in enumerate(causal_order(A))}
    for i, j in zip(*np.nonzero(A)):
        assert pos[i] < pos[j]


def test_bad_input():
    with pytest.raises(CRLError, match="n_nodes"):
        random_dag(-1)
    with pytest.raises(CRLError, match="n_edges"):
        random_dag(4, n_edges=7)
    with pytest.raises(CRLError, match="kind"):
        random_dag(4, kind="bogus")
    with pytest.raises(CRLError, match="weight_range"):
        sample_weights(np.ones((2, 2)), (0.0, 1.0))
    with pytest.raises(CyclicGraphError, match="cycle"):
        check_dag(np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]]))
