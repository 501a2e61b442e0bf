"""Properties of the representation metrics (reference/evaluation.md §1)."""

import itertools

import numpy as np
import pytest

from crl.exceptions import CRLError, UnknownNameError, ValidationError
from identifiability.disentanglement import dci, mig
from identifiability.latent_metrics import (
    amari_index,
    extrapolation_error,
    mcc,
    mcc_details,
    mixing_error,
    null_encoder,
    permutation_from_correlation,
    r2_readout,
    weak_mcc,
)
from simulators.mixing import invertible_mlp, linear_mixing


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    # The matrices here are small: multi-threaded BLAS only adds contention (10x slower on a
    # loaded 2-core machine). threadpoolctl ships with scikit-learn.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _gauss(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# An orthogonal matrix with all entries ±1/2: every code mixes every factor equally.
HADAMARD4 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0


def _rotation(d, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


# --------------------------------------------------------------------------- MCC


def test_mcc_is_one_for_permuted_rescaled_shifted_copy():
    Z = _gauss(2000, 5)
    perm = np.array([3, 0, 4, 1, 2])
    scales = np.array([2.0, -0.5, 3.0, -7.0, 0.1])
    Z_hat = Z[:, perm] * scales + np.arange(5) * 10.0
    det = mcc_details(Z, Z_hat)
    assert det["score"] > 1 - 1e-12
    # true latent i is column j of Z_hat with perm[j] = i
    assert np.array_equal(det["permutation"], np.argsort(perm))
    assert np.array_equal(det["signs"], np.sign(scales[np.argsort(perm)]))
    assert det["conventions"]["split"] == "held_out" and det["conventions"]["n_test"] == 1000
    assert det["d"] == det["d_hat"] == 5


def test_spearman_mcc_invariant_to_monotone_maps_pearson_is_not():
    Z = _gauss(2000, 4, seed=1)
    Z_hat = np.column_stack([Z[:, 2] ** 3, np.tanh(2 * Z[:, 0]), -np.exp(Z[:, 3]), Z[:, 1]])
    assert mcc(Z, Z_hat, correlation="spearman") > 1 - 1e-12
    assert mcc(Z, Z_hat, correlation="pearson") < 0.95


def test_affine_mix_weak_mcc_one_strong_mcc_lower():
    Z = _gauss(2000, 4, seed=2)
    A = linear_mixing(4, 4, random_state=1)
    Z_hat = Z @ A.T + 3.0
    assert weak_mcc(Z, Z_hat) > 1 - 1e-8
    assert mcc(Z, Z_hat) < 0.85
    # in-sample and explicit-train variants agree on an exact affine map
    assert weak_mcc(Z, Z_hat, split="in_sample") > 1 - 1e-8
    assert weak_mcc(Z[:1000], Z_hat[:1000], train=(Z[1000:], Z_hat[1000:])) > 1 - 1e-8


def test_null_encoder_held_out_signed_mcc_near_zero_in_sample_biased():
    # Under independence each signed held-out correlation is ~N(0, 1/n_test); their mean over
    # d latents has sd 1/sqrt(d n_test), so 4/sqrt(n_test) is a > 8-sigma bound for d = 5.
    # In-sample, the matched |corr| is at least the average |corr| over all pairs, whose
    # expectation is sqrt(2/pi)/sqrt(n) ~ 0.8/sqrt(n): a positive score for a useless encoder.
    n, d, seeds = 1000, 5, range(10)
    held, ins = [], []
    for s in seeds:
        Z = _gauss(n, d, seed=s)
        N = null_encoder(Z, d, kind="noise", random_state=100 + s)
        det = mcc_details(Z, N, random_state=s)
        assert abs(det["score"]) < 4 / np.sqrt(det["conventions"]["n_test"])
        held.append(det["score"])
        ins.append(mcc(Z, N, split="in_sample"))
    n_test = n // 2
    assert abs(np.mean(held)) < 4 / np.sqrt(d * n_test * len(seeds))
    assert min(ins) > 0 and np.mean(ins) > 0.8 / np.sqrt(n)
    assert np.mean(ins) > abs(np.mean(held)) + 4 / np.sqrt(d * n_test * len(seeds))


def _brute_force(C):
    d, d_hat = C.shape
    A = np.abs(C)
    if d <= d_hat:
        return max(sum(A[i, p[i]] for i in range(d)) for p in itertools.permutations(range(d_hat), d)) / d
    return max(sum(A[p[j], j] for j in range(d_hat)) for p in itertools.permutations(range(d), d_hat)) / d


@pytest.mark.parametrize(("d", "d_hat"), [(1, 1), (2, 3), (3, 3), (4, 2), (4, 6), (5, 5), (6, 6), (6, 3)])
def test_hungarian_matches_brute_force(d, d_hat):
    rng = np.random.default_rng(10 * d + d_hat)
    for _ in range(5):
        C = rng.uniform(-1, 1, (d, d_hat))
        perm, score = permutation_from_correlation(C)
        assert score == pytest.approx(_brute_force(C), abs=1e-12)
        matched = perm >= 0
        assert matched.sum() == min(d, d_hat)
        assert len(set(perm[matched])) == matched.sum()  # one-to-one
        assert score == pytest.approx(np.abs(C[matched.nonzero()[0], perm[matched]]).sum() / d)


def test_mcc_rectangular_d_hat_not_d():
    Z = _gauss(2000, 3, seed=3)
    extra = np.column_stack([Z[:, [2, 0, 1]] * [1, -2, 3], _gauss(2000, 2, seed=4)])
    det = mcc_details(Z, extra)
    assert det["d_hat"] == 5 and det["score"] > 0.999
    assert np.array_equal(det["permutation"], [1, 2, 0])
    fewer = mcc_details(Z, Z[:, [2, 0]])
    assert fewer["d_hat"] == 2 and fewer["permutation"][1] == -1 and fewer["per_latent"][1] == 0
    assert fewer["score"] == pytest.approx(2 / 3, abs=1e-9)  # averaged over the d true latents


def test_mcc_constant_column_gives_zero_not_nan():
    Z = _gauss(500, 3, seed=5)
    Z_hat = np.column_stack([Z[:, 0], np.full(500, 2.0), Z[:, 2]])
    det = mcc_details(Z, Z_hat)
    assert np.isfinite(det["score"]) and det["score"] == pytest.approx(2 / 3, abs=1e-9)
    assert det["constant_columns"]["z_hat"] == [1]
    assert np.isfinite(weak_mcc(Z, Z_hat)) and weak_mcc(Z, Z_hat) == pytest.approx(2 / 3, abs=1e-8)


def test_split_is_deterministic_and_seeded():
    Z = _gauss(300, 3, seed=6)
    Z_hat = Z + _gauss(300, 3, seed=7)
    assert mcc(Z, Z_hat, random_state=3) == mcc(Z, Z_hat, random_state=3)
    assert mcc(Z, Z_hat, random_state=3) != mcc(Z, Z_hat, random_state=4)
    r1 = r2_readout(Z, Z_hat, regressor="kernel_ridge", random_state=1)
    r2 = r2_readout(Z, Z_hat, regressor="kernel_ridge", random_state=1)
    assert np.array_equal(r1["per_factor"], r2["per_factor"])


# --------------------------------------------------------------------------- R² readouts


def test_r2_linear_readout_of_affine_map():
    Z = _gauss(1000, 3, seed=8)
    Z_hat = Z @ linear_mixing(3, 5, random_state=0).T - 1.0  # d_hat = 5 > d
    r = r2_readout(Z, Z_hat)
    assert r["per_factor"].shape == (3,) and r["mean"] > 1 - 1e-10
    assert r["conventions"]["regressor"] == "linear"


def test_r2_nonlinear_readout_recovers_invertible_mlp_linear_does_not():
    Z = _gauss(2000, 3, seed=9)
    Z_hat = invertible_mlp(3, 3, n_layers=1, random_state=0)(Z)
    lin = r2_readout(Z, Z_hat, regressor="linear")
    ker = r2_readout(Z, Z_hat, regressor="kernel_ridge")
    assert ker["mean"] > 0.97
    assert lin["mean"] < 0.9 and ker["mean"] - lin["mean"] > 0.1
    assert np.all(ker["per_factor"] <= 1)


@pytest.mark.slow
def test_r2_mlp_readout_recovers_invertible_mlp():
    Z = _gauss(2000, 2, seed=10)
    Z_hat = invertible_mlp(2, 2, n_layers=1, random_state=0)(Z)
    assert r2_readout(Z, Z_hat, regressor="mlp")["mean"] > 0.95


def _block_map(Z, seed):
    g1 = invertible_mlp(2, 2, n_layers=1, random_state=seed)
    g2 = invertible_mlp(2, 2, n_layers=1, random_state=seed + 1)
    return np.column_stack([g2(Z[:, 2:]), g1(Z[:, :2])])  # block (2, 3) first, then (0, 1)


def test_block_readout_independent_latents():
    Z = _gauss(1500, 4, seed=11)
    Z_hat = _block_map(Z, 0)
    r = r2_readout(Z, Z_hat, regressor="kernel_ridge", blocks={(0, 1): [2, 3], "b": ((2, 3), (0, 1))})
    assert r["in_block_mean"] > 0.95 and min(r["in_block"].values()) > 0.95
    assert abs(r["out_block_mean"]) < 0.03 and abs(r["oracle_out_block_mean"]) < 0.03
    assert r["blocks"][(0, 1)]["out_factors"] == (2, 3)
    assert r["blocks"]["b"]["in_block"].shape == (2,)
    assert set(r["out_block_excess"]) == {(0, 1), "b"}


def test_block_readout_dependent_latents_matches_oracle():
    E = _gauss(2000, 4, seed=12)
    Z = E.copy()
    Z[:, 2] = 0.8 * E[:, 0] + 0.6 * E[:, 2]  # z2 depends on block (0, 1)
    Z[:, 3] = 0.5 * E[:, 1] - 0.5 * E[:, 0] + 0.7 * E[:, 3]
    A1, A2 = linear_mixing(2, 2, random_state=1), linear_mixing(2, 2, random_state=2)
    Z_hat = np.column_stack([Z[:, :2] @ A1.T, Z[:, 2:] @ A2.T])
    # any key with a (true_indices, hat_columns) pair, as the equivalence classes pass it
    r = r2_readout(Z, Z_hat, blocks={0: ([0, 1], [0, 1]), 1: ([2, 3], [2, 3])})
    assert r["in_block_mean"] > 1 - 1e-10
    # z2, z3 are legitimately predictable from block (0, 1): out-of-block R² is far from 0 ...
    assert r["blocks"][0]["out_block"].min() > 0.3 and r["out_block"][0] > 0.3
    # ... and equal to the oracle readout from the true z_S (the block is affine in z_S)
    for key, b in r["blocks"].items():
        assert np.allclose(b["out_block"], b["oracle_out_block"], atol=1e-8)
        assert r["out_block_excess"][key] == pytest.approx(0.0, abs=1e-8)


def test_block_covering_every_latent_has_no_out_of_block_score():
    Z = _gauss(400, 2, seed=24)
    r = r2_readout(Z, Z @ linear_mixing(2, 2, random_state=0).T, blocks={"all": ((0, 1), (0, 1))})
    assert r["in_block"]["all"] > 1 - 1e-10
    assert r["out_block"]["all"] is None and r["out_block_excess"]["all"] is None
    assert r["out_block_mean"] is None


# --------------------------------------------------------------------------- DCI and MIG


def test_dci_identity_vs_rotation():
    Z = _gauss(800, 4, seed=13)
    ident = dci(Z, Z * [2.0, -1.0, 0.5, 3.0] + 1.0)
    rot = dci(Z, Z @ HADAMARD4)
    assert ident["disentanglement"] > 0.95 and ident["completeness"] > 0.95
    assert ident["informativeness"] > 0.9
    assert rot["disentanglement"] < 0.5 and rot["completeness"] < 0.5
    assert rot["informativeness"] > 0.6  # the information is there, only entangled
    assert ident["importance"].shape == (4, 4) and not ident["all_zero_importance"]
    lasso = dci(Z, Z[:, [1, 2, 3, 0]], regressor="lasso")
    assert lasso["disentanglement"] > 0.99 and lasso["completeness"] > 0.99


def test_dci_rectangular_and_all_zero_importances():
    Z = _gauss(400, 2, seed=14)
    r = dci(Z, np.column_stack([Z, _gauss(400, 2, seed=15)]), regressor="lasso")
    assert r["importance"].shape == (4, 2) and r["per_factor_completeness"].shape == (2,)
    const = dci(Z, np.ones((400, 3)), regressor="lasso")
    assert const["all_zero_importance"]
    for key in ("disentanglement", "completeness"):
        assert 0.0 <= const[key] <= 1.0
    assert np.allclose(const["code_weights"], 1 / 3)


def test_mig_identity_rotation_and_null():
    Z = _gauss(3000, 4, seed=16)
    m_id = mig(Z, Z * [1.0, -2.0, 3.0, 0.5])
    m_rot = mig(Z, Z @ HADAMARD4)
    nulls = [mig(Z, null_encoder(Z, 4, random_state=s)) for s in range(3)]
    m_noise = mig(Z, _gauss(3000, 4, seed=99))
    assert m_id > 0.9 and m_id > m_rot + 0.3
    assert m_noise < 0.05 and abs(m_noise - np.mean(nulls)) < 0.03
    assert all(0 <= v <= 1 for v in [m_id, m_rot, m_noise, *nulls])


# --------------------------------------------------------------------------- linear mixing


def test_amari_index_properties():
    rng = np.random.default_rng(17)
    d = 5
    PD = np.eye(d)[rng.permutation(d)] * rng.choice([-1, 1], d) * rng.uniform(0.1, 5, d)
    assert amari_index(PD) <= 1e-12 and amari_index(PD, power=2) <= 1e-12
    for _ in range(20):
        M = rng.standard_normal((d, d))
        assert 0.0 <= amari_index(M) <= 1.0 and 0.0 <= amari_index(M, power=2) <= 1.0
    B = rng.uniform(0, 1, (d, d))
    np.fill_diagonal(B, 0)
    values = [amari_index(PD @ (np.eye(d) + t * B)) for t in (0.0, 0.1, 0.3, 0.6, 0.9)]
    assert values[0] <= 1e-12 and np.all(np.diff(values) > 0)
    assert amari_index(np.ones((d, d))) == pytest.approx(1.0)


def test_mixing_error_zero_up_to_permutation_and_scale():
    rng = np.random.default_rng(18)
    A = linear_mixing(4, 8, random_state=3)
    P = np.eye(4)[rng.permutation(4)]
    D = np.diag([2.0, -0.3, 5.0, -1.0])
    assert mixing_error(A, A @ P @ D) <= 1e-10
    noisy = mixing_error(A, A + 0.1 * rng.standard_normal(A.shape))
    rotated = mixing_error(A, A @ _rotation(4, 2))
    assert 0 < noisy < rotated <= 1


# --------------------------------------------------------------------------- extrapolation, null


def test_extrapolation_error_inside_outside_and_curve():
    n = 100
    dist = np.r_[np.zeros(50), np.linspace(0.5, 4.5, 50)]
    y = np.random.default_rng(19).standard_normal((n, 2))
    err = np.where(dist[:, None] > 0, 1.0, 0.1) * [1.0, -1.0]
    out = extrapolation_error(y, y + err, in_support=dist == 0, distance=dist, distance_bins=[0, 0.25, 2.5, 5])
    assert out["mse_in"] == pytest.approx(0.01) and out["mse_out"] == pytest.approx(1.0)
    assert out["n_in"] == 50 and out["n_out"] == 50
    assert out["mse"] == pytest.approx((50 * 0.01 + 50 * 1.0) / 100)
    curve = out["curve"]
    assert np.allclose(curve["mse"], [0.01, 1.0, 1.0]) and curve["count"].sum() == n
    only_in = extrapolation_error(y[:50], y[:50], in_support=np.ones(50, bool), distance=dist[:50])
    assert only_in["mse_out"] is None and only_in["curve"]["count"].tolist() == [50]


def test_null_encoder_shapes_and_determinism():
    X = _gauss(200, 6, seed=20)
    for kind in ("noise", "projection"):
        a = null_encoder(X, 3, kind=kind, random_state=5)
        assert a.shape == (200, 3) and np.array_equal(a, null_encoder(X, 3, kind=kind, random_state=5))
    # a projection of all of Z is an orthogonal map of the standardised Z: affine-identified
    Z = _gauss(1000, 3, seed=21)
    assert weak_mcc(Z, null_encoder(Z, 3, kind="projection")) > 1 - 1e-8


def test_scores_lie_in_documented_ranges():
    rng = np.random.default_rng(22)
    for s in range(5):
        Z = rng.standard_normal((60, 3))
        Z_hat = rng.standard_normal((60, 4)) + 0.5 * Z[:, [0, 1, 2, 0]]
        for split in ("held_out", "in_sample"):
            lo = 0.0 if split == "in_sample" else -1.0
            assert lo <= mcc(Z, Z_hat, split=split, random_state=s) <= 1
            assert lo <= mcc(Z, Z_hat, split=split, correlation="spearman") <= 1
            assert lo <= weak_mcc(Z, Z_hat, split=split, random_state=s) <= 1
        assert 0 <= mig(Z, Z_hat, bins=5) <= 1
        r = r2_readout(Z, Z_hat, random_state=s)
        assert np.all(r["per_factor"] <= 1)


# --------------------------------------------------------------------------- bad input


Z0 = _gauss(50, 3, seed=23)
BAD = [
    (lambda: mcc(Z0, Z0[:40]), "z_hat"),
    (lambda: mcc(Z0, np.where(np.eye(50, 3) > 0, np.nan, Z0)), "z_hat"),
    (lambda: mcc(Z0[None], Z0), "z_true"),
    (lambda: mcc(Z0, Z0, test_size=1.5), "test_size"),
    (lambda: mcc(Z0, Z0, correlation="kendall"), "correlation"),
    (lambda: mcc(Z0, Z0, split="in_sample", train=(Z0, Z0)), "split"),
    (lambda: mcc(Z0, Z0, train=(Z0, Z0[:, :2])), "train[1]"),
    (lambda: weak_mcc(Z0, np.inf * Z0), "z_hat"),
    (lambda: r2_readout(Z0, Z0, regressor="svm"), "regressor"),
    (lambda: r2_readout(Z0, Z0, blocks={(0, 5): [0]}), "blocks"),
    (lambda: r2_readout(Z0, Z0, blocks={(0,): [7]}), "blocks"),
    (lambda: r2_readout(Z0, Z0, blocks={"a": [0, 1, 2]}), "blocks"),
    (lambda: r2_readout(Z0, Z0, blocks=[(0, 1)]), "blocks"),
    (lambda: dci(Z0[:, :1], Z0), "z_true"),
    (lambda: dci(Z0, Z0[:, :1]), "z_hat"),
    (lambda: mig(Z0, Z0[:, :1]), "z_hat"),
    (lambda: mig(Z0, Z0, bins=1), "bins"),
    (lambda: amari_index(np.ones((3, 2))), "M"),
    (lambda: amari_index(np.diag([1.0, 0.0])), "M"),
    (lambda: mixing_error(np.ones((4, 2)), np.ones((4, 3))), "A_hat"),
    (lambda: mixing_error(np.c_[np.ones(4), np.zeros(4)], np.ones((4, 2))), "A_true"),
    (lambda: extrapolation_error(np.ones(5), np.ones(4)), "do_hat"),
    (lambda: extrapolation_error(np.ones(5), np.ones(5), in_support=np.ones(4, bool)), "in_support"),
    (lambda: extrapolation_error(np.ones(5), np.ones(5), distance=np.ones(3)), "distance"),
    (lambda: null_encoder(Z0, 4, kind="projection"), "d_hat"),
    (lambda: null_encoder(Z0, 0), "d_hat"),
    (lambda: permutation_from_correlation(np.ones(3)), "C"),
]


@pytest.mark.parametrize(("call", "argument"), BAD, ids=[f"{i}-{a}" for i, (_, a) in enumerate(BAD)])
def test_bad_input_raises_crl_error_naming_argument(call, argument):
    with pytest.raises(CRLError) as info:
        call()
    assert argument in str(info.value)
    assert isinstance(info.value, (ValidationError, UnknownNameError))
