"""Rank tests on cross-covariance blocks: canonical correlations, statistics, calibration, oracle, cache."""

import numpy as np
import pytest
from scipy.stats import chi2

from crl.exceptions import CRLError, UnknownNameError, ValidationError
from crl.rank import (
    STATISTICS,
    OracleRankTest,
    RankTest,
    canonical_correlations,
    numerical_rank,
    rank_statistic,
)


def _factor_data(n, rng, *, p=3, q=3, r=1, shared=0, loading=0.8):
    """Columns A (p), B (q) and ``shared`` columns in both, with rank(Σ[A ∪ S, B ∪ S]) = r + shared.

    ``r`` common factors drive A and B; the shared columns are independent noise.
    Returns the data and the index sets (A ∪ S, B ∪ S).
    """
    F = rng.standard_normal((n, r)) if r else np.zeros((n, 0))
    A = F @ rng.uniform(0.5, 1.5, (r, p)) * loading + rng.standard_normal((n, p))
    B = F @ rng.uniform(0.5, 1.5, (r, q)) * loading + rng.standard_normal((n, q))
    S = rng.standard_normal((n, shared))
    X = np.hstack([A, B, S])
    a = list(range(p)) + list(range(p + q, p + q + shared))
    b = list(range(p, p + q)) + list(range(p + q, p + q + shared))
    return X, a, b


# --- canonical correlations -----------------------------------------------------------------


def test_canonical_correlations_match_the_eigenproblem():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((7, 7))
    S = M @ M.T + 7 * np.eye(7)
    A, B = [0, 2, 4], [1, 3, 5, 6]
    rho = canonical_correlations(S, A, B)
    K = np.linalg.solve(S[np.ix_(A, A)], S[np.ix_(A, B)]) @ np.linalg.solve(S[np.ix_(B, B)], S[np.ix_(B, A)])
    expected = np.sqrt(np.sort(np.linalg.eigvals(K).real)[::-1])
    np.testing.assert_allclose(rho, expected, atol=1e-10)
    assert np.all(np.diff(rho) <= 1e-12)


def test_shared_columns_give_exact_ones_and_partial_correlations():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 5)) @ rng.standard_normal((5, 5))
    S = np.cov(X.T)
    rho = canonical_correlations(S, [0, 1, 4], [2, 4])
    assert rho.shape == (2,) and rho[0] == 1.0
    # the other one is the canonical correlation of {0, 1} and {2} after regressing out column 4
    Z = X - X.mean(0)
    resid = Z[:, :4] - np.outer(Z[:, 4], Z[:, 4] @ Z[:, :4]) / (Z[:, 4] @ Z[:, 4])
    expected = canonical_correlations(np.cov(resid.T), [0, 1], [2])[0]
    assert rho[1] == pytest.approx(expected, abs=1e-10)
    # order of the sets and inside them does not matter
    np.testing.assert_allclose(canonical_correlations(S, [4, 2], [4, 1, 0]), rho)


# --- statistics ------------------------------------------------------------------------------


def test_bartlett_and_bartlett_lawley_formulas():
    rho = np.array([0.9, 0.5, 0.2])
    n, p, q, r = 1000, 3, 4, 1
    tail = -np.log(1 - 0.5**2) - np.log(1 - 0.2**2)
    T, df = rank_statistic(rho, n, p, q, r, statistic="bartlett")
    assert df == (p - r) * (q - r) == 6
    assert T == pytest.approx((n - (p + q + 3) / 2) * tail)
    T2, _ = rank_statistic(rho, n, p, q, r, statistic="bartlett_lawley", n_scaling=1.0)
    assert T2 == pytest.approx((n - r - (p + q + 1) / 2 + (1 / 0.81 - 1)) * tail)
    # shared columns (rho = 1) among the first r add nothing to the Lawley term
    T3, _ = rank_statistic(np.array([1.0, 0.5]), n, 2, 2, 1, statistic="bartlett_lawley")
    assert T3 == pytest.approx((n - 1 - 2.5) * -np.log(1 - 0.25))
    assert rank_statistic(rho, n, p, q, 3) == (0.0, 0)  # r >= min(p, q): nothing to test


def test_rank_below_the_number_of_shared_columns_is_rejected():
    rng = np.random.default_rng(2)
    X, a, b = _factor_data(300, rng, r=0, shared=2)
    test = RankTest(X, alpha=0.01)
    assert not test.test(a, b, 1)  # two shared columns: rank >= 2
    assert test.test(a, b, 2)
    assert test.rank(a, b) == 2


def test_overlapping_sets_equal_the_partial_correlation_test():
    """x ⊥ y | S as rank(Σ[{x} ∪ S, {y} ∪ S]) <= |S| is Bartlett's test of the partial correlation."""
    rng = np.random.default_rng(3)
    n = 400
    Z = rng.standard_normal((n, 2))
    x = Z @ [1.0, 0.5] + rng.standard_normal(n)
    y = Z @ [0.7, -0.4] + 0.1 * x + rng.standard_normal(n)
    X = np.column_stack([x, y, Z])
    test = RankTest(X, alpha=0.05)
    C = np.corrcoef(X.T)
    P = np.linalg.inv(C)
    partial = -P[0, 1] / np.sqrt(P[0, 0] * P[1, 1])
    T = -(n - (3 + 3 + 3) / 2) * np.log(1 - partial**2)
    assert test.pvalue([0, 2, 3], [1, 2, 3], 2) == pytest.approx(chi2.sf(T, 1), rel=1e-8)


@pytest.mark.parametrize("statistic", STATISTICS)
@pytest.mark.parametrize(("r", "shared"), [(0, 0), (1, 0), (1, 2)])
def test_false_positive_rate_is_nominal_under_the_null(statistic, r, shared):
    """Simulated level of H0: rank <= r when the rank is exactly r (overlapping sets included)."""
    rng = np.random.default_rng(100 + 10 * r + shared)
    alpha, reps = 0.05, 400
    rejected = 0
    for _ in range(reps):
        X, a, b = _factor_data(300, rng, r=r, shared=shared)
        rejected += not RankTest(X, alpha=alpha, statistic=statistic).test(a, b, r + shared)
    rate = rejected / reps
    tol = 3.5 * np.sqrt(alpha * (1 - alpha) / reps)  # about +-0.038
    assert abs(rate - alpha) <= tol, rate


def test_power_against_a_higher_rank():
    """Two factors with loadings 1 on disjoint column pairs: rank 2, so rank <= 1 must be rejected."""
    rng = np.random.default_rng(5)
    load = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    rejected = 0
    for _ in range(20):
        F = rng.standard_normal((2000, 2))
        X = np.hstack([F @ load + rng.standard_normal((2000, 3)), F @ load + rng.standard_normal((2000, 3))])
        rejected += not RankTest(X, alpha=0.05).test([0, 1, 2], [3, 4, 5], 1)
    assert rejected == 20


def test_batch_pvalues_match_scalar_ones():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    for statistic in STATISTICS:
        test = RankTest(X, statistic=statistic)
        As = [[0, 1, 2], [0, 3, 4], [1, 2, 5]]
        Bs = [[3, 4, 2], [1, 2, 3], [0, 3, 4]]  # overlapping and disjoint pairs
        batch = test.pvalues_batch(As, Bs, 1)
        scalar = [test.pvalue(a, b, 1) for a, b in zip(As, Bs)]
        np.testing.assert_allclose(batch, scalar, rtol=1e-6, atol=1e-12)


def test_per_rank_levels_and_covariance_input():
    rng = np.random.default_rng(7)
    X, a, b = _factor_data(1000, rng, r=1, loading=0.15)  # weak dependence: a moderate p-value
    pval = RankTest(X).pvalue(a, b, 0)
    assert 1e-12 < pval < 0.5
    # the decision at rank 0 follows the rank-0 level only
    assert not RankTest(X, alpha={0: min(1.0, 2 * pval), 1: 1e-9}).test(a, b, 0)
    assert RankTest(X, alpha={0: pval / 2, 1: 0.9}).test(a, b, 0)
    levels = RankTest(X, alpha={0: 0.01, 1: 0.5})
    assert levels.level(0) == 0.01 and levels.level(1) == 0.5
    with pytest.raises(ValidationError, match="rank 2"):
        levels.test(a, b, 2)
    from_cov = RankTest(covariance=np.cov(X.T), n=1000)
    assert from_cov.pvalue(a, b, 1) == pytest.approx(RankTest(X).pvalue(a, b, 1), rel=1e-6)


def test_cache_counts_hits_for_reordered_sets():
    rng = np.random.default_rng(8)
    test = RankTest(rng.standard_normal((200, 5)))
    test.test([0, 1], [2, 3], 0)
    test.test([1, 0], [3, 2], 1)  # same pair of sets, other rank
    test.test([3, 2], [0, 1], 0)  # swapped sets
    counts = test.counts()
    assert counts["tests"] == 3 and counts["cache_hits"] == 2
    assert counts["hit_rate"] == pytest.approx(2 / 3)



@pytest.mark.parametrize("statistic", STATISTICS)
def test_rank_search_matches_the_test_by_test_descent(statistic):
    """``rank``, ``rank_sorted`` and ``rank_masks`` decide and count as a descent of ``test`` calls, repeats too."""
    rng = np.random.default_rng(9)
    X, a, b = _factor_data(800, rng, p=3, q=4, r=1, shared=1)
    slow, fast, fast_sorted, fast_masks = (RankTest(X, statistic=statistic) for _ in range(4))
    ma, mb = sum(1 << i for i in set(a)), sum(1 << i for i in set(b))
    for _repeat in range(2):  # the second pass is answered from the caches and must count the same
        for k in range(4):
            expected = k + 1 if not slow.test(a, b, k) else k
            if expected == k:
                for r in range(k - 1, -1, -1):
                    if not slow.test(a, b, r):
                        break
                    expected = r
            assert fast.rank(a, b, k) == expected
            assert fast_sorted.rank_sorted(tuple(sorted(b)), tuple(sorted(a)), k) == expected
            assert fast_masks.rank_masks(mb if k % 2 else ma, ma if k % 2 else mb, k) == expected
        assert fast.counts() == slow.counts() == fast_sorted.counts() == fast_masks.counts()
    assert 0 < slow.counts()["hit_rate"] < 1
    oracle = OracleRankTest(slow.correlation)
    assert oracle.rank_masks(ma, mb, 3) == oracle.rank(a, b, 3)
    # the cached statistic adds the same floats as rank_statistic: bit-identical p-values
    rho = canonical_correlations(slow.correlation, a, b)
    for r in range(4):
        T, df = rank_statistic(rho, 800, len(set(a)), len(set(b)), r, statistic=statistic)
        assert slow.pvalue(a, b, r) == (1.0 if df == 0 else float(chi2.sf(T, df)))

# --- oracle ----------------------------------------------------------------------------------


def test_oracle_rank_is_the_trek_separation_rank():
    """L -> X1, X2, X3 and L -> M -> X4, X5: rank(Σ[{X1, X2}, {X3, X4, X5}]) = 1."""
    d = 7  # X1..X5, L, M
    W = np.zeros((d, d))
    W[5, [0, 1, 2]] = [1.0, -2.0, 1.5]
    W[5, 6] = 2.0
    W[6, [3, 4]] = [1.0, 0.7]
    M = np.linalg.inv(np.eye(d) - W)
    S = (M.T @ np.diag(np.full(d, 0.5)) @ M)[:5, :5]
    oracle = OracleRankTest(S)
    assert oracle.exact_rank([0, 1], [2, 3, 4]) == 1
    assert numerical_rank(S, [0, 1], [2, 3, 4]) == 1
    assert oracle.test([0, 1], [2, 3, 4], 1) and not oracle.test([0, 1], [2, 3, 4], 0)
    assert oracle.rank([0, 1, 2], [0, 3]) == 2  # overlapping: X1 shared, plus L
    np.testing.assert_array_equal(
        oracle.pvalues_batch([[0, 1], [0, 3]], [[2, 3], [1, 2]], 1), [1.0, 1.0]
    )
    assert oracle.pvalues_batch([[0, 1, 2]], [[0, 3, 4]], 1)[0] == 0.0


# --- errors ----------------------------------------------------------------------------------


def test_bad_arguments_raise_crl_errors():
    X = np.random.default_rng(9).standard_normal((50, 3))
    with pytest.raises(UnknownNameError, match="statistic"):
        RankTest(X, statistic="wilks")
    with pytest.raises(ValidationError, match="alpha"):
        RankTest(X, alpha=0.0)
    with pytest.raises(ValidationError, match="constant"):
        RankTest(np.column_stack([X, np.ones(50)]))
    with pytest.raises(ValidationError, match="NaN"):
        RankTest(np.where(X > 2, np.nan, X))
    with pytest.raises(ValidationError, match="X, covariance"):
        RankTest()
    with pytest.raises(ValidationError, match="n:"):
        RankTest(covariance=np.eye(3))
    with pytest.raises(ValidationError, match="A:"):
        RankTest(X).test([0, 7], [1], 0)
    with pytest.raises(CRLError):
        canonical_correlations(np.ones((3, 3)), [0, 1], [2])  # singular block
