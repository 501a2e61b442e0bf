"""Cumulant estimators, the OLC closed form, surrogates and the HSIC test (crl.cumulant)."""

import numpy as np
import pytest
from scipy import stats

from crl.cumulant import (
    CumulantCache,
    IndependenceTester,
    cross_cumulant_test,
    cumulant_tensor,
    fisher_combine,
    hsic_test,
    joint_cumulant,
    k4_standard_error,
    kstat,
    median_bandwidth,
    olc_loadings,
    surrogate,
    surrogate_weights,
)
from crl.exceptions import CRLError

SQ3 = np.sqrt(3.0)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small matrix products: one BLAS thread avoids oversubscribing a shared 2-core machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield



def _mean_within(draws, truth, k=4.0):
    """|mean - truth| within k Monte-Carlo standard errors."""
    draws = np.asarray(draws)
    se = draws.std(ddof=1) / np.sqrt(draws.size)
    return abs(draws.mean() - truth) <= k * se, draws.mean(), se


# --- k-statistics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, cumulants",
    [
        # Exp(1): kappa_r = (r - 1)!
        ("exponential", {2: 1.0, 3: 2.0, 4: 6.0}),
        # U(-sqrt3, sqrt3): variance 1, kappa_3 = 0, kappa_4 = -6/5
        ("uniform", {2: 1.0, 3: 0.0, 4: -1.2}),
    ],
)
def test_kstatistics_are_unbiased_at_small_n(kind, cumulants):
    rng = np.random.default_rng(11)
    R, n = 40_000, 10  # many small samples: bias would be O(1/n) = 10%
    X = rng.exponential(size=(n, R)) if kind == "exponential" else rng.uniform(-SQ3, SQ3, size=(n, R))
    for order, truth in cumulants.items():
        ok, mean, se = _mean_within(kstat(X, order), truth)
        assert ok, f"k{order} of {kind}: mean {mean:.4f} vs {truth} (se {se:.4f})"
    # the plug-in m4 - 3 m2^2 is biased at this n, and the simulation can tell
    Z = X - X.mean(axis=0)
    naive = np.mean(Z**4, axis=0) - 3 * np.mean(Z**2, axis=0) ** 2
    ok, mean, _ = _mean_within(naive, cumulants[4])
    assert not ok, f"plug-in fourth cumulant of {kind} unexpectedly unbiased ({mean:.3f})"


def test_joint_kstatistics_are_unbiased():
    """x = s + a, y = s + b, s ~ Exp(1) - 1: every cross-cumulant equals that of s."""
    rng = np.random.default_rng(12)
    R, n = 6000, 12
    draws = {"xxyy": [], "xyyy": [], "xxy": [], "xy": []}
    for _ in range(R):
        s = rng.exponential(size=n) - 1.0
        x, y = s + rng.uniform(-1, 1, n), s + rng.laplace(size=n)
        draws["xxyy"].append(joint_cumulant(x, x, y, y))
        draws["xyyy"].append(joint_cumulant(x, y, y, y))
        draws["xxy"].append(joint_cumulant(x, x, y))
        draws["xy"].append(joint_cumulant(x, y))
    for key, truth in (("xxyy", 6.0), ("xyyy", 6.0), ("xxy", 2.0), ("xy", 1.0)):
        ok, mean, se = _mean_within(draws[key], truth)
        assert ok, f"kappa({key}): mean {mean:.3f} vs {truth} (se {se:.3f})"


def test_joint_cumulant_reduces_to_kstat_and_matches_tensor_and_cache():
    rng = np.random.default_rng(13)
    X = rng.exponential(size=(200, 3)) @ rng.normal(size=(3, 3))
    x = X[:, 0]
    assert np.isclose(joint_cumulant(x, x, x, x), kstat(x, 4))
    assert np.isclose(joint_cumulant(x, x, x), kstat(x, 3))
    assert np.isclose(joint_cumulant(x, x), kstat(x, 2))
    T4, T3, T2 = cumulant_tensor(X, 4), cumulant_tensor(X, 3), cumulant_tensor(X, 2)
    cache = CumulantCache(X)
    pairs = cache.k4_all_pairs()
    for i, j, k, m in [(0, 1, 2, 2), (0, 0, 1, 1), (1, 2, 2, 2), (0, 1, 1, 2)]:
        ref = joint_cumulant(X[:, i], X[:, j], X[:, k], X[:, m])
        assert np.isclose(T4[i, j, k, m], ref) and np.isclose(T4[m, k, j, i], ref)
        assert np.isclose(cache.k4(i, j, k, m), ref) and np.isclose(cache.k4(k, i, m, j), ref)
    assert np.isclose(T3[0, 1, 2], joint_cumulant(X[:, 0], X[:, 1], X[:, 2]))
    assert np.isclose(cache.k3(2, 0, 1), T3[0, 1, 2])
    assert np.allclose(T2, np.cov(X, rowvar=False)) and np.allclose(cache.covariance(), T2)
    for (i, j), (k_ijjj, k_iijj, k_iiij) in pairs.items():
        xi, xj = X[:, i], X[:, j]
        assert np.isclose(k_ijjj, joint_cumulant(xi, xj, xj, xj))
        assert np.isclose(k_iijj, joint_cumulant(xi, xi, xj, xj))
        assert np.isclose(k_iiij, joint_cumulant(xi, xi, xi, xj))


def test_k4_standard_error_matches_the_spread_over_draws():
    rng = np.random.default_rng(14)
    n, R = 2000, 300
    est, ses = [], []
    for _ in range(R):
        s = rng.uniform(-SQ3, SQ3, n)
        x, e = 0.8 * s + 0.6 * rng.uniform(-SQ3, SQ3, n), 0.7 * s + rng.exponential(size=n) * 0.5
        est.append(joint_cumulant(x, x, e, e))
        ses.append(k4_standard_error(x, x, e, e))
    ratio = np.mean(ses) / np.std(est, ddof=1)
    assert 0.8 < ratio < 1.25, ratio


# --- OLC closed form ---------------------------------------------------------------------------


def _olc_pair(rng, n, a=1.3, b=0.7):
    s = rng.uniform(-SQ3, SQ3, n)  # unit variance, kappa_4 = -1.2
    x = a * s + rng.exponential(size=n) - 1.0
    e = b * s + rng.uniform(-1.0, 1.0, n) * 0.8
    return x, e


def test_olc_closed_form_recovers_the_loadings_within_a_tolerance_set_by_n():
    """b^2 = cov(x,e) k(x,e,e,e) / k(x,x,e,e) is exact in population; its error shrinks like 1/sqrt(n)."""
    rng = np.random.default_rng(21)
    a, b = 1.3, 0.7
    sds = {}
    for n in (5000, 20000):
        est = np.array([[r.a, r.b] for r in (olc_loadings(*_olc_pair(rng, n, a, b)) for _ in range(30))])
        sds[n] = est.std(axis=0, ddof=1)
        # unbiased up to Monte-Carlo error and O(1/n) ratio bias
        assert np.all(np.abs(est.mean(axis=0) - [a, b]) <= 4 * sds[n] / np.sqrt(len(est)) + 0.01)
    # consistency: the spread scales like 1/sqrt(n) (a factor 2 between n = 5000 and 20000)
    assert np.all((sds[5000] / sds[20000] > 1.4) & (sds[5000] / sds[20000] < 2.9)), sds
    # one large sample: within 5 standard deviations extrapolated from n = 20000
    n_big = 400_000
    res = olc_loadings(*_olc_pair(rng, n_big, a, b))
    tol = 5 * sds[20000] * np.sqrt(20000 / n_big)
    assert res.valid and abs(res.a - a) <= tol[0] and abs(res.b - b) <= tol[1], (res, tol)


def test_olc_closed_form_refuses_a_gaussian_shared_component():
    rng = np.random.default_rng(22)
    n = 20000
    s = rng.normal(size=n)
    res = olc_loadings(s + rng.normal(size=n), 0.8 * s + rng.normal(size=n))
    assert not res.valid and res.a == 0.0 and res.b == 0.0 and res.reason


def test_surrogate_removes_the_given_components():
    rng = np.random.default_rng(23)
    n = 50000
    S = rng.uniform(-SQ3, SQ3, size=(n, 3))  # sources; the first two are "identified"
    M_all = rng.normal(size=(3, 3))  # loadings of three variables on three sources
    X = S @ M_all.T
    e, w = surrogate(X, M_all[:, :2])
    assert np.allclose(w @ M_all[:, :2], 0.0, atol=1e-10) and np.isclose(np.linalg.norm(w), 1.0)
    # e is a multiple of the third source only
    assert abs(np.corrcoef(e, S[:, 2])[0, 1]) > 0.9999
    assert np.allclose(surrogate_weights(M_all[:, :2]), w)


# --- HSIC --------------------------------------------------------------------------------------


def _level(method, n, reps, rng):
    ps = []
    for _ in range(reps):
        x, y = rng.uniform(-1, 1, n), rng.exponential(size=n)
        ps.append(hsic_test(x, y, method=method).pvalue)
    return np.mean(np.asarray(ps) < 0.05)


@pytest.mark.parametrize("method, n, reps", [("exact", 200, 300), ("rff", 1500, 300)])
def test_hsic_level_is_close_to_nominal_under_the_null(method, n, reps):
    rate = _level(method, n, reps, np.random.default_rng(31))
    # binomial tolerance: 3.5 standard errors of a 5% rate over `reps` draws
    tol = 3.5 * np.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) <= tol, f"{method} n={n}: rejection rate {rate:.3f}"


@pytest.mark.parametrize("method", ["exact", "rff"])
def test_hsic_has_power_on_a_dependent_nonlinear_pair(method):
    rng = np.random.default_rng(32)
    rejections = 0
    for _ in range(20):
        x = rng.uniform(-1, 1, 300)
        y = x**2 + 0.3 * rng.normal(size=300)  # uncorrelated with x, yet dependent
        rejections += hsic_test(x, y, method=method).pvalue < 0.05
    assert rejections >= 19


def test_hsic_exact_centring_matches_the_dense_HKH_form():
    rng = np.random.default_rng(33)
    n = 60
    x, y = rng.normal(size=n), rng.normal(size=n) + 0.5 * rng.normal(size=n)
    res = hsic_test(x, y, method="exact")
    sx, sy = median_bandwidth(x), median_bandwidth(y)
    Kx = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * sx**2))
    Ky = np.exp(-((y[:, None] - y[None, :]) ** 2) / (2 * sy**2))
    H = np.eye(n) - 1.0 / n
    Kxc, Kyc = H @ Kx @ H, H @ Ky @ H
    assert np.isclose(res.statistic, np.sum(Kxc * Kyc))
    assert np.isclose(res.mean, np.trace(Kxc) * np.trace(Kyc) / n)
    assert np.isclose(res.var, 2 * np.sum(Kxc**2) * np.sum(Kyc**2) / n**2)


def test_hsic_features_approximate_the_exact_statistic_and_are_scale_free():
    rng = np.random.default_rng(34)
    x = rng.uniform(-1, 1, 800)
    y = np.sin(3 * x) + 0.5 * rng.normal(size=800)
    exact, rff = hsic_test(x, y, method="exact"), hsic_test(x, y, method="rff", n_features=100)
    assert abs(rff.statistic / exact.statistic - 1) < 0.05 and abs(rff.mean / exact.mean - 1) < 0.05
    # median heuristic: rescaling a variable changes nothing
    assert np.isclose(median_bandwidth(7.0 * x), 7.0 * median_bandwidth(x))
    for method in ("exact", "rff"):
        assert np.isclose(hsic_test(x, y, method=method).pvalue, hsic_test(1e3 * x, 1e-2 * y, method=method).pvalue)


def test_independence_tester_counts_and_handles_constant_samples():
    rng = np.random.default_rng(35)
    t = IndependenceTester(method="rff")
    x = rng.normal(size=500)
    assert t.test(x, np.zeros(500)) == 1.0 and t.n_degenerate == 1
    p1 = t.test(x, x**2, key_x="a", key_y="b")
    assert p1 < 1e-3 and t.n_tests == 2 and t.method_used == "rff"
    assert t.test(x, x**2, key_x="a", key_y="b") == p1  # cached features give the same answer


# --- cross-cumulant test --------------------------------------------------------------------


def _noise(kind, n, rng):
    if kind == "uniform":
        return rng.uniform(-SQ3, SQ3, n)
    return rng.exponential(size=n) - 1.0


def _ols_null(n, rng, kind_y, kind_u):
    """Residual of x on y for an unconfounded y -> x: independent of y, slope estimated."""
    y = _noise(kind_y, n, rng)
    x = 0.8 * y + _noise(kind_u, n, rng)
    r = x - np.cov(x, y)[0, 1] / np.var(y, ddof=1) * y
    return r, y


def _iv_null(n, rng, kind):
    """OLC's phase-3c surrogate: L -> x, y, z; e = cov(y, z) x - cov(x, z) y is independent of z."""
    L = _noise(kind, n, rng)
    x, y, z = L + _noise(kind, n, rng), 0.7 * L + _noise(kind, n, rng), -1.2 * L + _noise(kind, n, rng)
    e = np.cov(y, z)[0, 1] * x - np.cov(x, z)[0, 1] * y
    return e, y, z


@pytest.mark.parametrize(
    "case, kind",
    [("ols", ("uniform", "uniform")), ("ols", ("exponential", "uniform")), ("ols", ("uniform", "exponential")),
     ("iv", "uniform"), ("iv", "exponential"), ("even", "exponential")],
)
def test_cross_cumulant_level_is_close_to_nominal_with_estimated_residuals(case, kind):
    """The influence correction keeps the level although the slope (OLS or IV) is estimated."""
    rng, reps, n = np.random.default_rng(41), 400, 1500
    ps = []
    for _ in range(reps):
        if case == "ols":
            r, y = _ols_null(n, rng, *kind)
            ps.append(cross_cumulant_test(r, y, regressors=y).pvalue)
        else:
            e, y, z = _iv_null(n, rng, kind)
            res = (cross_cumulant_test(e, z, regressors=y, instruments=z) if case == "iv"
                   else cross_cumulant_test(e, z, odd=False))
            ps.append(res.pvalue)
    rate = np.mean(np.asarray(ps) < 0.05)
    tol = 3.5 * np.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) <= tol, f"{case} {kind}: rejection rate {rate:.3f}"


def test_cross_cumulant_without_the_correction_would_be_anticonservative():
    """The estimated slope matters: ignoring it (no regressors) inflates the level of the odd moments."""
    rng, reps, n = np.random.default_rng(42), 200, 1500
    naive = []
    for _ in range(reps):
        r, y = _ols_null(n, rng, "exponential", "exponential")
        naive.append(cross_cumulant_test(r, y).pvalue < 0.05)
    assert np.mean(naive) > 0.12  # 0.05 + 4.5 binomial standard errors


def test_cross_cumulant_drops_the_moment_that_is_zero_by_construction():
    rng = np.random.default_rng(43)
    r, y = _ols_null(2000, rng, "uniform", "uniform")
    assert cross_cumulant_test(r, y, regressors=y).df == 5  # cov(r, y) = 0 by least squares
    assert cross_cumulant_test(r, y).df == 6
    assert cross_cumulant_test(r, y, odd=False).df == 2
    Y = np.column_stack([y, rng.uniform(size=2000)])
    res = cross_cumulant_test(r, Y, regressors=y[:, None])
    assert len(res.pvalues) == 2 and np.isclose(res.pvalue, min(1.0, 2 * min(res.pvalues)))


def test_cross_cumulant_has_more_power_than_hsic_against_a_hidden_confounder():
    """L -> x, y and y -> x: the residual of x on y shares L with y (phase 1 must not orient it)."""
    rng, reps, n = np.random.default_rng(44), 60, 3000
    cc = hs = 0
    for _ in range(reps):
        L = rng.uniform(-SQ3, SQ3, n)
        y = L + 0.6 * rng.uniform(-SQ3, SQ3, n)
        x = 0.8 * y + 0.6 * L + rng.uniform(-SQ3, SQ3, n)
        r = x - np.cov(x, y)[0, 1] / np.var(y, ddof=1) * y
        cc += cross_cumulant_test(r, y, regressors=y).pvalue < 0.05
        hs += hsic_test(r, y).pvalue < 0.05
    assert cc / reps >= 0.7 and cc / reps >= hs / reps + 0.4, (cc / reps, hs / reps)


def test_fisher_combine_matches_scipy_with_a_floor():
    p = [0.2, 0.03, 0.5]
    assert np.isclose(fisher_combine(p), stats.combine_pvalues(p, method="fisher").pvalue)
    assert np.isclose(fisher_combine([0.0, 0.5]), fisher_combine([1e-5, 0.5]))


def test_bad_inputs_raise_errors_naming_the_argument():
    x = np.arange(10.0)
    with pytest.raises(CRLError, match="y"):
        hsic_test(x, np.arange(9.0))
    with pytest.raises(CRLError, match="method"):
        hsic_test(x, x, method="fast")
    with pytest.raises(CRLError, match="x"):
        hsic_test(np.array([1.0, np.nan] * 5), x)
    with pytest.raises(CRLError, match="order"):
        kstat(x, 5)
    with pytest.raises(CRLError, match="arrays"):
        joint_cumulant(x, x[:5])
    with pytest.raises(CRLError, match="pvalues"):
        fisher_combine([])
    with pytest.raises(CRLError, match="M"):
        surrogate_weights(np.ones((2, 2)))
    with pytest.raises(CRLError, match="Y"):
        cross_cumulant_test(np.arange(20.0), np.ones((19, 1)))
    with pytest.raises(CRLError, match="instruments"):
        cross_cumulant_test(np.arange(20.0), np.arange(20.0), regressors=np.ones((20, 2)),
                            instruments=np.ones((20, 1)))
