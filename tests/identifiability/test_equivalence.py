"""Each equivalence class: an estimate inside the class scores perfectly with zero violation."""

import numpy as np
import pytest

from crl.exceptions import CRLError, UnknownNameError
from crl.graphs import from_adjacency
from identifiability.equivalence import EQUIVALENCE_CLASSES, Pair, get_equivalence


def _chain_graph(d=3):
    A = np.diag(np.ones(d - 1), 1)  # 0 -> 1 -> 2
    return from_adjacency(A, [f"Z{i}" for i in range(d)], latent=[True] * d)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # kernel-ridge readouts thrash when BLAS threads compete for 2 cores
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _rows(n=4000, d=3, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    return Z[: n // 2], Z[n // 2 :]


def test_registry_covers_every_class_name():
    from crl.base import EQUIVALENCES

    assert set(EQUIVALENCE_CLASSES) == set(EQUIVALENCES)
    with pytest.raises(UnknownNameError, match="permutation_scaling"):
        get_equivalence("rotation")


def test_ancestors_allowed_mixing_has_no_violation():
    ztr, zte = _rows()
    G = _chain_graph()
    # row i of M mixes z_i with its ancestors only (lower triangular for the chain 0 -> 1 -> 2)
    M = np.array([[1.0, 0, 0], [0.7, 1.0, 0], [-0.5, 0.8, 1.0]])
    P = np.eye(3)[[2, 0, 1]]  # estimated columns permuted
    enc = lambda z: z @ (P @ M).T  # noqa: E731
    pair = Pair(z_train=ztr, z_test=zte, zhat_train=enc(ztr), zhat_test=enc(zte), true_graph=G, est_graph=None)
    alignment, scores = get_equivalence("ancestors")(pair)
    assert scores["extra_nz"] == 0 and scores["violation"] == pytest.approx(0, abs=1e-8)
    assert np.array_equal(alignment.permutation, [1, 2, 0])
    # a mixing that uses a descendant is outside the class
    bad = np.array([[1.0, 0.9, 0], [0, 1.0, 0], [0, 0, 1.0]])
    pair = Pair(z_train=ztr, z_test=zte, zhat_train=ztr @ bad.T, zhat_test=zte @ bad.T, true_graph=G)
    _, scores = get_equivalence("ancestors")(pair)
    assert scores["extra_nz"] >= 1 and scores["violation"] > 0.5


def test_ancestors_graph_scores_use_the_alignment():
    ztr, zte = _rows()
    G = _chain_graph()
    P = np.eye(3)[[1, 2, 0]]
    enc = lambda z: z @ P.T  # noqa: E731
    perm = np.argmax(P, axis=0)  # estimated column of each true latent
    A_hat = np.zeros((3, 3))
    A_hat[perm[0], perm[1]] = A_hat[perm[1], perm[2]] = 1  # the chain, in estimated labels
    est = from_adjacency(A_hat, [0, 1, 2], latent=[True] * 3)
    pair = Pair(z_train=ztr, z_test=zte, zhat_train=enc(ztr), zhat_test=enc(zte), true_graph=G, est_graph=est)
    _, scores = get_equivalence("ancestors")(pair)
    assert scores["graph_shd_tc"] == 0 and scores["graph_shd_tr"] == 0 and scores["graph_shd"] == 0


def test_block_invertible_map_of_the_block_scores_one():
    ztr, zte = _rows(n=1200, d=4)

    def enc(z):  # an invertible nonlinear map of the block (z0, z1), and of (z2,) alone
        a, b = z[:, 0], z[:, 1]
        return np.c_[a + 0.3 * np.tanh(b), b + 0.2 * a**3 / 3, np.sinh(z[:, 2])]

    blocks = {"v01": ((0, 1), (0, 1)), "v2": ((2,), (2,))}
    pair = Pair(z_train=ztr, z_test=zte, zhat_train=enc(ztr), zhat_test=enc(zte), blocks=blocks)
    _, scores = get_equivalence("block")(pair)
    assert scores["in_block_r2"] > 0.95 and scores["violation"] < 0.05 and scores["n_blocks"] == 2
    with pytest.raises(CRLError, match="blocks"):
        get_equivalence("block")(Pair(z_train=ztr, z_test=zte, zhat_train=ztr, zhat_test=zte))


def test_mec_markov_equivalent_dags_score_zero():
    names = ["a", "b", "c"]
    chain = from_adjacency(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]), names)  # a -> b -> c
    fork = from_adjacency(np.array([[0, 0, 0], [1, 0, 1], [0, 0, 0]]), names)  # a <- b -> c
    collider = from_adjacency(np.array([[0, 1, 0], [0, 0, 0], [0, 1, 0]]), names)  # a -> b <- c
    _, same = get_equivalence("mec")(Pair(true_graph=chain, est_graph=fork))
    assert same["shd_cpdag"] == 0 and same["skeleton_f1"] == 1
    _, other = get_equivalence("mec")(Pair(true_graph=chain, est_graph=collider))
    assert other["shd_cpdag"] > 0 and other["skeleton_f1"] == 1


def test_permutation_scaling_from_matrices_alone():
    rng = np.random.default_rng(3)
    G = rng.normal(size=(8, 4))  # true mixing, X = Z G^T
    H = np.linalg.pinv(G)
    P = np.eye(4)[rng.permutation(4)]
    D = np.diag(rng.uniform(0.5, 2, 4) * rng.choice([-1, 1], 4))
    _, scores = get_equivalence("permutation_scaling")(Pair(mixing=G, unmixing=D @ P @ H))
    assert scores["amari"] == pytest.approx(0, abs=1e-10)
    assert scores["mixing_error"] == pytest.approx(0, abs=1e-10)
    _, worse = get_equivalence("permutation_scaling")(Pair(mixing=G, unmixing=rng.normal(size=(4, 4)) @ H))
    assert worse["amari"] > 0.1 and worse["mixing_error"] > 0.1


def test_permutation_monotone_accepts_monotone_maps_only():
    ztr, zte = _rows(d=2)
    enc = lambda z: np.c_[np.exp(z[:, 1]), z[:, 0] ** 3]  # noqa: E731
    _, scores = get_equivalence("permutation_monotone")(Pair(z_train=ztr, z_test=zte, zhat_train=enc(ztr), zhat_test=enc(zte)))
    assert scores["mcc"] > 0.999 and scores["pearson_gap"] > 0.05
