import numpy as np
import pytest

from crl.exceptions import CRLError
from simulators.latent import (
    latent_problem,
    linear_cd_problem,
    polynomial_problem,
    precision_matrices,
)
from simulators.scm import linear_scm


def test_linear_cd_truth_is_consistent():
    P = linear_cd_problem(d=5, p=10, n_per_env=20_000, random_state=0)
    H, B = P.truth.params["H"], P.truth.params["B"]
    G = P.truth.mixing
    assert np.allclose(H @ G, np.eye(5), atol=1e-10)
    assert np.allclose(np.max(H, axis=1), 1.0) or np.allclose(
        H[np.arange(5), np.argmax(np.abs(H), 1)], 1.0
    )
    # X = G Z exactly, and the data reproduce the population precisions per context
    assert np.allclose(P.X, P.truth.Z @ G.T)
    Theta = precision_matrices(P.truth.params["environments"], H)
    for k in range(6):
        Xk = P.X[P.env == k]
        Zk = P.truth.Z[P.env == k]
        K_hat = np.linalg.inv(np.cov(Zk, rowvar=False))
        K = B[k].T @ B[k]
        # relative error of a precision estimate from n rows ~ sqrt(2 d / n)
        assert np.linalg.norm(K_hat - K) / np.linalg.norm(K) < 5 * np.sqrt(2 * 5 / 20_000)
        assert np.allclose(np.linalg.pinv(np.cov(Xk, rowvar=False)) @ G, H.T @ K_hat @ H @ G, atol=1e-6 * np.abs(Theta[k]).max())


def test_linear_cd_perfect_interventions():
    P = linear_cd_problem(d=6, p=8, n_per_env=100, random_state=1)
    B, T = P.truth.params["B"], P.truth.targets
    assert T.shape == (7, 6) and not T[0].any() and np.array_equal(T[1:].sum(0), np.ones(6))
    for k in range(1, 7):
        i = int(np.argmax(T[k]))
        row = B[k][i]
        assert np.count_nonzero(row) == 1 and 6 <= row[i] <= 8  # lambda e_i
        others = [r for r in range(6) if r != i]
        assert np.allclose(B[k][others], B[0][others])
    diag = np.diag(B[0])
    assert np.all((diag >= 2) & (diag <= 4))
    off = B[0][~np.eye(6, dtype=bool)]
    nz = np.abs(off[off != 0]) / np.repeat(diag, 5)[off != 0]
    assert np.all((nz >= 0.25 - 1e-12) & (nz <= 1 + 1e-12))


def test_linear_cd_context_order_is_shuffled():
    orders = {tuple(np.argmax(linear_cd_problem(n_per_env=10, random_state=s).truth.targets[1:], 1)) for s in range(5)}
    assert len(orders) > 1


def test_linear_cd_wishart_is_unbiased_for_precision():
    n, d = 50, 3
    P = linear_cd_problem(d=d, p=d, n_per_env=n, sampling="wishart", random_state=7)
    again = linear_cd_problem(d=d, p=d, n_per_env=n, sampling="wishart", random_state=7)
    assert P.X is None and P.n_samples == 0 and P.n_envs == d + 1
    assert P.statistics["precisions"].shape == (d + 1, d, d)
    assert np.array_equal(again.statistics["precisions"], P.statistics["precisions"])
    # E[n W^{-1}] = n / (n - d - 1) K for W ~ Wishart(n, K^{-1}): averaging 4000 draws
    # (each with relative sd ~ sqrt(2/n) = 0.2) leaves a relative error ~ 0.2/sqrt(4000) = 0.003
    from scipy.stats import wishart

    B = P.truth.params["B"][0]
    K = B.T @ B
    W = wishart.rvs(df=n, scale=np.linalg.inv(K), size=4000, random_state=0)
    mean = np.mean([n * np.linalg.inv(w) for w in W], axis=0) * (n - d - 1) / n
    assert np.linalg.norm(mean - K) / np.linalg.norm(K) < 0.03


def test_linear_cd_missing_and_degenerate_targets():
    P = linear_cd_problem(d=4, p=6, n_per_env=50, missing_targets=1, random_state=2)
    assert P.setting["one_per_latent"] is False and len(P.setting["unintervened_latents"]) == 1
    assert P.truth.targets.shape == (4, 4)
    P = linear_cd_problem(d=4, p=6, n_per_env=50, degenerate_target=2, random_state=2)
    B = P.truth.params["B"]
    k = int(np.flatnonzero(P.truth.targets[:, 2])[0])
    assert B[k][2, 2] == pytest.approx(B[0][2, 2])


def test_linear_cd_soft_keeps_support():
    P = linear_cd_problem(d=5, p=7, n_per_env=50, interventions="soft", random_state=3)
    B, T = P.truth.params["B"], P.truth.targets
    for k in range(1, 6):
        i = int(np.argmax(T[k]))
        assert np.array_equal(B[k][i] != 0, B[0][i] != 0)


def test_linear_cd_bad_input():
    with pytest.raises(CRLError, match="p >= d"):
        linear_cd_problem(d=5, p=3)
    with pytest.raises(CRLError, match="n_per_env"):
        linear_cd_problem(n_per_env=-5)
    with pytest.raises(CRLError, match="sampling"):
        linear_cd_problem(sampling="exact")


def test_polynomial_problem_do_values():
    P = polynomial_problem(d=3, p=30, n_obs=500, n_per_target=200, random_state=0)
    Z, env = P.truth.Z, P.env
    for j in range(3):
        assert np.all(Z[env == j + 1, j] == 2.0)
    assert np.allclose(P.truth.mixing.inverse(P.X), Z, atol=1e-6)
    assert P.setting["latent_model"] == "independent"


def test_latent_problem_records_setting():
    scm = linear_scm(4, n_edges=3, random_state=0)
    P = latent_problem(scm, n_per_env=200, mixing="mlp", p=6, random_state=1)
    assert P.X.shape == (1000, 6) and P.setting["one_per_latent"]
    assert set(P.truth.graph.nodes) == {"Z0", "Z1", "Z2", "Z3"}
    assert all(d["latent"] for _, d in P.truth.graph.nodes(data=True))
    assert np.allclose(P.truth.mixing.inverse(P.X), P.truth.Z, atol=1e-8)


def test_linear_cd_wishart_statistics_match_population():
    n = 100_000
    P = linear_cd_problem(d=5, p=10, n_per_env=n, sampling="wishart", random_state=11)
    pop = P.truth.params["population_precisions"]
    for k in range(6):
        rel = np.linalg.norm(P.statistics["precisions"][k] - pop[k]) / np.linalg.norm(pop[k])
        assert rel < 5 * np.sqrt(2 * 5 / n)
        assert np.linalg.matrix_rank(P.statistics["precisions"][k], tol=1e-8 * np.abs(pop[k]).max()) == 5
