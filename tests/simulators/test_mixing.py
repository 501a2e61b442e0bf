import numpy as np
import pytest

from crl.exceptions import CRLError
from simulators.mixing import invertible_mlp, linear_mixing, monomial_exponents, polynomial_mixing
from simulators.multiview import YAO_SUBSETS, content_sets, multi_view, multiview_problem


def test_linear_mixing_condition_and_reconstruction():
    G = linear_mixing(5, 12, max_condition=4.0, random_state=0)
    assert G.shape == (12, 5) and np.linalg.cond(G) <= 4.0
    Z = np.random.default_rng(1).normal(size=(500, 5))
    Z_hat = (Z @ G.T) @ np.linalg.pinv(G).T
    assert np.allclose(Z_hat, Z, atol=1e-10)


@pytest.mark.parametrize(("d", "p"), [(3, 3), (4, 10)])
def test_mlp_is_invertible_and_nonlinear(d, p):
    g = invertible_mlp(d, p, n_layers=3, random_state=0)
    Z = np.random.default_rng(1).normal(size=(2000, d)) * 2
    X = g(Z)
    assert np.allclose(g.inverse(X), Z, atol=1e-8)
    # not affine: the best linear fit leaves a clear residual
    coef, *_ = np.linalg.lstsq(np.c_[Z, np.ones(len(Z))], X, rcond=None)
    resid = X - np.c_[Z, np.ones(len(Z))] @ coef
    assert resid.var() / X.var() > 1e-3


def test_mlp_jacobian_matches_finite_differences():
    g = invertible_mlp(3, 6, random_state=2)
    z = np.array([0.3, -0.7, 1.1])
    h = 1e-6
    fd = np.column_stack([(g((z + h * e)[None]) - g((z - h * e)[None]))[0] / (2 * h) for e in np.eye(3)])
    assert np.allclose(g.jacobian(z), fd, atol=1e-5)
    assert np.linalg.matrix_rank(g.jacobian(z)) == 3


def test_polynomial_mixing():
    assert monomial_exponents(6, 2).shape == (27, 6)  # 6 linear + 21 quadratic
    Z = np.random.default_rng(0).uniform(-5, 5, (1000, 6))
    g = polynomial_mixing(6, 200, degree=2, Z_reference=Z, random_state=1)
    X = g(Z)
    lin = np.abs(g.features(Z)[:, :6] @ g.C[:, :6].T).max()
    nonlin = np.abs(g.features(Z)[:, 6:] @ g.C[:, 6:].T).max()
    assert nonlin == pytest.approx(2 * lin)
    assert np.allclose(g.inverse(X), Z, atol=1e-8)


def test_mixing_errors_name_the_argument():
    with pytest.raises(CRLError, match="p >= d"):
        linear_mixing(5, 3)
    with pytest.raises(CRLError, match="p >= d"):
        invertible_mlp(4, 2)
    with pytest.raises(CRLError, match="monomials"):
        polynomial_mixing(6, 20, degree=2)
    with pytest.raises(CRLError, match="slope"):
        invertible_mlp(2, slope=1.5)


def test_view_depends_only_on_its_latents():
    Z = np.random.default_rng(0).normal(size=(50, 6))
    views, mixings = multi_view(Z, YAO_SUBSETS, random_state=0)
    h = 1e-6
    z = Z[0]
    for k, (m, S) in enumerate(zip(mixings, YAO_SUBSETS)):
        J = np.column_stack([(m((z + h * e)[None]) - m((z - h * e)[None]))[0] / (2 * h) for e in np.eye(6)])
        outside = [j for j in range(6) if j not in S]
        assert np.all(J[:, outside] == 0), k
        assert np.linalg.matrix_rank(J[:, list(S)], tol=1e-6) == len(S)
        assert np.allclose(m.inverse(views[k]), Z[:, list(S)], atol=1e-8)


def test_content_sets_of_the_paper_example():
    C = content_sets(YAO_SUBSETS)
    assert C[(0, 1)] == (0, 1, 2, 4) and C[(2, 3)] == (0, 1, 3, 5)
    assert C[(0, 1, 2)] == (0, 1, 2) and C[(1, 2, 3)] == (0, 1, 5)
    assert C[(0, 1, 2, 3)] == (0, 1)
    assert len(C) == 11


def test_multiview_problem_dependent_latents():
    P = multiview_problem(5000, dependent_dims=3, random_state=0)
    assert P.X is None and len(P.views) == 4
    C = np.corrcoef(P.truth.Z, rowvar=False)
    assert np.abs(C[3:, 3:] - np.eye(3)).max() < 0.06  # independent part, sd ~ 0.014
    assert np.allclose(P.truth.params["latent_covariance"][3:, :3], 0)
