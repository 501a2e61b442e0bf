"""Input checks of RLCD and the construction of its rank test (private)."""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError
from crl.rank.ranktest import OracleRankTest, RankTest
from crl.validation import check_array, check_int, check_node_names, check_square

__all__ = ["check_correlation", "build_rank_test"]


def check_correlation(R: np.ndarray, names: list, what: str) -> None:
    """Reject duplicated (perfectly correlated) or linearly dependent columns."""
    off = np.abs(R - np.diag(np.diag(R)))
    i, j = np.unravel_index(np.argmax(off), off.shape) if R.shape[0] > 1 else (0, 0)
    if R.shape[0] > 1 and off[i, j] > 1 - 1e-10:
        raise ValidationError(
            f"{what}: expected distinct columns, got duplicated (perfectly correlated) columns "
            f"{names[min(i, j)]!r} and {names[max(i, j)]!r}"
        )
    eig = np.linalg.eigvalsh(R)[0]
    if eig <= 1e-12:
        raise ValidationError(
            f"{what}: expected linearly independent columns (a non-singular covariance), got smallest "
            f"correlation eigenvalue {eig:.3g}"
        )


def build_rank_test(X, covariance, n_samples, cfg: dict, feature_names=None):
    """Validate the input of :meth:`RLCD.fit <crl.rank.RLCD.fit>` and build its rank test.

    Returns ``(test, names, correlation, n, oracle)``: a :class:`RankTest` (data, or a sample
    covariance with ``n_samples``) or an :class:`OracleRankTest` (a population covariance,
    ``n`` None, ``oracle`` True). ``cfg`` holds the checked options of :meth:`RLCD._check_params`.
    """
    max_k = cfg["max_k"]
    if (X is None) == (covariance is None):
        raise ValidationError(
            "X, covariance: expected data X or a covariance matrix, got " + ("both" if X is not None else "neither")
        )
    if X is not None:
        columns = getattr(X, "columns", None)
        arr = check_array(X, "X", min_rows=1)
        n, p = arr.shape
        if p < 2:
            raise ValidationError(f"X: expected at least 2 columns (variables), got {p}")
        names = check_node_names(feature_names, columns, p, "X")
        n_min = max(p + 2, 2 * max_k + 4, 10)
        if n < n_min:
            raise ValidationError(
                f"X: expected at least {n_min} rows for max_k={max_k} and {p} columns (rank tests on "
                f"up to {p} columns need n > p + 1 and at least 2 * max_k + 4 samples), got {n}"
            )
        sd = arr.std(axis=0)
        if np.any(sd <= 0):
            raise ValidationError(
                f"X: expected non-constant columns, got constant columns {[names[k] for k in np.flatnonzero(sd <= 0)]}"
            )
        test = RankTest(arr, alpha=cfg["alpha"], statistic=cfg["statistic"], n_scaling=cfg["n_scaling"])
        R = test.correlation
        check_correlation(R, names, "X")
        return test, names, R, n, False
    columns = getattr(covariance, "columns", None)
    C = check_square(covariance, "covariance")
    p = C.shape[0]
    if p < 2:
        raise ValidationError(f"covariance: expected at least 2 variables, got {p}")
    if not np.allclose(C, C.T, atol=1e-10 * max(1.0, float(np.max(np.abs(C))))):
        raise ValidationError("covariance: expected a symmetric matrix, got an asymmetric one")
    names = check_node_names(feature_names, columns, p, "covariance")
    d = np.diag(C)
    if np.any(d <= 0):
        raise ValidationError(
            f"covariance: expected positive variances, got non-positive ones for {[names[k] for k in np.flatnonzero(d <= 0)]}"
        )
    R = C / np.sqrt(np.outer(d, d))
    check_correlation(R, names, "covariance")
    if n_samples is None:
        return OracleRankTest(R, tol=cfg["oracle_tol"]), names, R, None, True
    n = check_int(n_samples, "n_samples", minimum=1)
    n_min = max(p + 2, 2 * max_k + 4, 10)
    if n < n_min:
        raise ValidationError(f"n_samples: expected at least {n_min} for max_k={max_k} and {p} variables, got {n}")
    test = RankTest(covariance=R, n=n, alpha=cfg["alpha"], statistic=cfg["statistic"], n_scaling=cfg["n_scaling"])
    return test, names, R, n, False
