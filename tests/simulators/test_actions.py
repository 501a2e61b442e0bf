import numpy as np
import pytest

from crl.exceptions import CRLError
from simulators.actions import Outcome, action_matrix, action_problem, do_effect


def test_rep4ex_problem_structure():
    P = action_problem(n=5000, d=2, random_state=0)
    A, Z = P.actions, P.truth.Z
    assert P.X.shape == (5000, 10) and A.shape == (5000, 2) and P.y.shape == (5000,)
    assert A.min() >= -1 and A.max() <= 1
    M0 = P.truth.params["M0"]
    sv = np.linalg.svd(M0, compute_uv=False)
    assert sv.min() >= 1.0 - 1e-12 and sv.max() <= 2.0 + 1e-12
    # Z = M0 A + V with V independent of A: OLS of Z on A recovers M0 (se ~ 1/sqrt(n var A))
    coef, *_ = np.linalg.lstsq(np.c_[A, np.ones(len(A))], Z, rcond=None)
    assert np.abs(coef[:2].T - M0).max() < 0.1
    # X is an injective function of Z
    assert np.allclose(P.truth.mixing.inverse(P.X), Z, atol=1e-8)
    # hidden confounding: U correlates with V
    U, V = P.truth.noise["U"], P.truth.noise["V"]
    assert abs(np.corrcoef(U, V @ P.truth.params["u_direction"])[0, 1] - 0.5) < 0.05
    # test grid reaches outside the support
    ins = P.truth.params["in_support"]
    assert ins.any() and (~ins).any()


@pytest.mark.parametrize(("d", "k"), [(1, 1), (2, 2), (2, 3), (3, 5)])
def test_action_matrix_singular_values_lie_in_the_stated_range(d, k):
    lo, hi = 1.0, 2.0
    conds = []
    for seed in range(200):
        M0 = action_matrix(d, k, singular_values=(lo, hi), random_state=seed)
        assert M0.shape == (d, k)
        sv = np.linalg.svd(M0, compute_uv=False)
        assert len(sv) == d and sv.min() >= lo - 1e-12 and sv.max() <= hi + 1e-12
        conds.append(sv.max() / sv.min())
    # the condition number is bounded by hi / lo (the old rescaled-Gaussian draw reached 124)
    assert max(conds) <= hi / lo + 1e-9
    # and the range is used, not a single value
    if d > 1:
        assert max(conds) > 1.5


def test_action_matrix_directions_are_not_axis_aligned():
    # Haar-distributed singular vectors: the entries of M0 vary in sign and size across draws
    M = np.stack([action_matrix(2, 2, random_state=s) for s in range(300)])
    assert abs(M[:, 0, 1].mean()) < 0.2 and M[:, 0, 1].std() > 0.5
    assert (M[:, 0, 0] < 0).mean() > 0.3


def test_action_matrix_errors():
    with pytest.raises(CRLError, match="singular_values"):
        action_matrix(2, 2, singular_values=(0.0, 1.0))
    with pytest.raises(CRLError, match="singular_values"):
        action_matrix(2, 2, singular_values=(2.0, 1.0))
    with pytest.raises(CRLError, match="k"):
        action_matrix(3, 2)


def test_default_mixing_is_clearly_nonlinear_but_injective():
    # the linear part of X's first two principal components reads Z far from perfectly
    P = action_problem(n=4000, random_state=2)
    X = (P.X - P.X.mean(0)) / P.X.std(0)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    pcs = np.c_[X @ Vt[:2].T, np.ones(len(X))]
    coef, *_ = np.linalg.lstsq(pcs, P.truth.Z, rcond=None)
    resid = P.truth.Z - pcs @ coef
    r2 = 1 - resid.var(0) / P.truth.Z.var(0)
    assert r2.mean() < 0.9
    assert np.allclose(P.truth.mixing.inverse(P.X), P.truth.Z, atol=1e-8)


def test_do_effect_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(0)
    M0 = rng.normal(size=(2, 2))
    a = np.linspace(-3, 3, 7)[:, None].repeat(2, 1)
    exact = do_effect(a, M0, Outcome("sin_quad"))
    V = rng.standard_normal((400_000, 2))
    mc = np.array([Outcome("sin_quad")(m + V).mean() for m in a @ M0.T])
    # MC standard error ~ sd(l) / sqrt(n), sd(l) < 5 on this grid
    assert np.abs(exact - mc).max() < 5 * 5 / np.sqrt(400_000)


def test_do_effect_differs_from_conditional_mean_under_confounding():
    # E[Y | A = a] = E[Y | do(A = a)] since A is exogenous; but E[Y | Z] != l(Z) because of U-V confounding
    P = action_problem(n=200_000, d=1, random_state=1, rho=0.8)
    Z, y = P.truth.Z[:, 0], P.y
    resid = y - P.truth.params["outcome"](P.truth.Z)
    assert abs(np.corrcoef(resid, Z)[0, 1]) > 0.2


def test_rep4ex_errors():
    with pytest.raises(CRLError, match="k"):
        action_problem(n=100, d=3, k=2)
    with pytest.raises(CRLError, match="rho"):
        action_problem(n=100, rho=1.5)
    with pytest.raises(CRLError, match="outcome"):
        action_problem(n=100, outcome="nope")
    with pytest.raises(CRLError, match="slope"):
        action_problem(n=100, slope=1.5)
    with pytest.raises(CRLError, match="singular_values"):
        action_problem(n=100, singular_values=(-1.0, 1.0))
