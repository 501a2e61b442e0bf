import numpy as np
import pytest

from crl.exceptions import CRLError
from simulators.interventions import intervene, make_environments, sample_environments
from simulators.noise import NOISE_KINDS, sample_noise
from simulators.scm import linear_scm, nonlinear_scm


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_is_standardised(kind):
    e = sample_noise(kind, 400_000, random_state=0)
    # standard errors: mean 1/sqrt(n) ~ 0.0016; variance depends on the kurtosis, < 0.02 here
    assert abs(e.mean()) < 0.01
    assert abs(e.var() - 1.0) < 0.03


def test_noise_kurtosis_distinguishes_families():
    from scipy.stats import kurtosis

    k = {kind: kurtosis(sample_noise(kind, 200_000, random_state=1)) for kind in ("gaussian", "uniform", "laplace")}
    assert abs(k["gaussian"]) < 0.05
    assert k["uniform"] == pytest.approx(-1.2, abs=0.05)
    assert k["laplace"] == pytest.approx(3.0, abs=0.3)


def test_linear_scm_population_covariance():
    scm = linear_scm(6, expected_degree=2.5, random_state=0)
    n = 200_000
    Z, _ = scm.sample(n, random_state=1)
    W, s = scm.weights, scm.noise_std
    inv = np.linalg.inv(np.eye(6) - W)
    # Z = Z W + E (rows)  =>  Cov = (I - W)^{-T} Omega (I - W)^{-1}
    pop = inv.T @ np.diag(s**2) @ inv
    err = np.abs(np.cov(Z, rowvar=False) - pop) / np.sqrt(np.outer(np.diag(pop), np.diag(pop)))
    # a normalised covariance entry has sd sqrt(1 + rho^2)/sqrt(n) <= sqrt(2/n): allow 6 sd
    assert err.max() < 6 * np.sqrt(2.0 / n)


def test_perfect_intervention_cuts_parents():
    scm = linear_scm(weights=np.array([[0, 2.0, 0], [0, 0, 1.5], [0, 0, 0]]), noise_std=1.0, random_state=0)
    do1 = intervene(scm, [1], "perfect", noise_std=0.5)
    Z, _ = do1.sample(100_000, random_state=2)
    C = np.corrcoef(Z, rowvar=False)
    assert abs(C[0, 1]) < 0.02  # parent cut
    assert C[1, 2] > 0.5  # child still depends on the target
    assert np.std(Z[:, 1]) == pytest.approx(0.5, rel=0.02)
    assert do1.adjacency[0, 1] == 0 and do1.adjacency[1, 2] == 1
    fixed = intervene(scm, [1], "perfect", value=3.0).sample(1000, random_state=0)[0]
    assert np.all(fixed[:, 1] == 3.0)
    assert fixed[:, 2].mean() == pytest.approx(4.5, abs=0.15)


@pytest.mark.parametrize("model", ["linear", "additive", "location_scale"])
def test_soft_intervention_keeps_support_changes_mechanism(model):
    if model == "linear":
        scm = linear_scm(5, n_edges=6, random_state=3)
    else:
        scm = nonlinear_scm(5, n_edges=6, kind=model, random_state=3)
    child = int(np.flatnonzero(scm.adjacency.sum(0))[0])
    soft = intervene(scm, [child], "soft", random_state=4)
    assert np.array_equal(soft.adjacency, scm.adjacency)
    eps = sample_noise("gaussian", (2000, 5), random_state=5)
    z0, _ = scm.sample(2000, eps=eps)
    z1, _ = soft.sample(2000, eps=eps)
    assert not np.allclose(z0[:, child], z1[:, child])
    others = [j for j in range(5) if j != child and not _is_descendant(scm.adjacency, child, j)]
    assert np.allclose(z0[:, others], z1[:, others])


def _is_descendant(A, i, j):
    import networkx as nx

    return nx.has_path(nx.from_numpy_array(A, create_using=nx.DiGraph), i, j)


def test_shift_and_scale():
    scm = linear_scm(weights=np.zeros((2, 2)), noise_std=1.0)
    z = intervene(scm, [0], "shift", shift=3.0).sample(50_000, random_state=0)[0]
    assert z[:, 0].mean() == pytest.approx(3.0, abs=0.03)
    z = intervene(scm, [1], "scale", factor=2.0).sample(50_000, random_state=0)[0]
    assert z[:, 1].std() == pytest.approx(2.0, rel=0.02)


def test_nonlinear_values_stay_bounded_on_long_chains():
    A = np.triu(np.ones((12, 12)), 1)
    Z, _ = nonlinear_scm(graph=A, random_state=0).sample(5000, random_state=1)
    assert np.isfinite(Z).all() and np.abs(Z).max() < 50


def test_location_scale_noise_depends_on_parents():
    A = np.array([[0, 1], [0, 0]])
    scm = nonlinear_scm(graph=A, kind="location_scale", random_state=2)
    Z, _ = scm.sample(100_000, random_state=3)
    resid = Z[:, 1] - scm.loc[1](Z)
    lo, hi = np.quantile(Z[:, 0], [0.2, 0.8])
    s_lo, s_hi = resid[Z[:, 0] < lo].std(), resid[Z[:, 0] > hi].std()
    assert max(s_lo, s_hi) / min(s_lo, s_hi) > 1.05


def test_environments_single_and_multi():
    scm = linear_scm(4, n_edges=3, random_state=0)
    envs, T = make_environments(scm, targets="single", random_state=1)
    assert T.shape == (5, 4) and not T[0].any()
    assert np.array_equal(np.sort(np.argmax(T[1:], axis=1)), np.arange(4))
    envs, T = make_environments(scm, targets="multi", n_envs=6, targets_per_env=2, random_state=1)
    assert T.shape == (7, 4) and np.all(T[1:].sum(1) == 2)
    Z, env, eps = sample_environments(envs, 100, random_state=0)
    assert Z.shape == (700, 4) and np.array_equal(np.bincount(env), [100] * 7)


def test_bad_intervention_input():
    scm = linear_scm(3, n_edges=0, random_state=0)
    with pytest.raises(CRLError, match="targets"):
        intervene(scm, [3])
    with pytest.raises(CRLError, match="targets"):
        intervene(scm, [0, 0])
    with pytest.raises(CRLError, match="kind"):
        intervene(scm, [0], "bogus")
    with pytest.raises(CRLError, match="no parents"):
        intervene(scm, [0], "soft")
    with pytest.raises(CRLError, match="noise_std"):
        linear_scm(3, noise_std=-1.0)
    with pytest.raises(CRLError, match="graph"):
        linear_scm(graph=np.array([[0, 1], [1, 0]]))
