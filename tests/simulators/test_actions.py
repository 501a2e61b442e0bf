import numpy as np
import pytest

from crl.exceptions import CRLError
from simulators.actions import Outcome, action_problem, do_effect


def test_rep4ex_problem_structure():
    P = action_problem(n=5000, d=2, random_state=0)
    A, Z = P.actions, P.truth.Z
    assert P.X.shape == (5000, 10) and A.shape == (5000, 2) and P.y.shape == (5000,)
    assert A.min() >= -1 and A.max() <= 1
    M0 = P.truth.params["M0"]
    assert np.linalg.svd(M0, compute_uv=False).min() >= 0.5 - 1e-12
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
