"""Dataset diagnostics: var- and R²-sortability (Reisach et al., 2021, 2023).

A simulator whose variances (or R² values) grow along the causal order lets a
method "discover" the graph by sorting. Values near 0.5 are uninformative;
values near 1 (or 0) mean the order leaks through scale.
"""

from __future__ import annotations

import numpy as np

__all__ = ["path_counts", "var_sortability", "r2_sortability", "sortability"]


def path_counts(A) -> np.ndarray:
    """Number of directed paths ``i ⇝ j`` of length >= 1 in the DAG ``A`` (``A[i, j]`` = i → j)."""
    B = (np.asarray(A) != 0).astype(float)
    total = np.zeros_like(B)
    power = B.copy()
    for _ in range(B.shape[0]):
        if not power.any():
            break
        total += power
        power = power @ B
    return total


def _sortability(scores: np.ndarray, A) -> float | None:
    P = path_counts(A)
    if P.sum() == 0:
        return None
    s = np.asarray(scores, dtype=float)
    # Reisach et al. compare with a relative tolerance so that float noise is a tie.
    diff = s[None, :] - s[:, None]
    tol = 1e-9 * np.maximum(np.abs(s[None, :]), np.abs(s[:, None]))
    up = (diff > tol).astype(float) + 0.5 * (np.abs(diff) <= tol)
    return float((P * up).sum() / P.sum())


def var_sortability(X, A) -> float | None:
    """Fraction of directed paths ``i ⇝ j`` along which the marginal variance increases.

    Each path counts once (a pair joined by several paths counts several
    times, as in Reisach et al.); ties count 1/2. ``None`` for a graph without
    edges.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
        Samples of the graph's variables, column ``j`` = node ``j``.
    A : ndarray of shape (d, d)
        Adjacency, ``A[i, j] != 0`` iff ``i -> j``.
    """
    return _sortability(np.var(np.asarray(X, dtype=float), axis=0), A)


def r2_sortability(X, A) -> float | None:
    """Like :func:`var_sortability` with the R² of regressing each variable on all others."""
    X = np.asarray(X, dtype=float)
    cov = np.cov(X, rowvar=False).reshape(X.shape[1], X.shape[1])
    prec = np.linalg.pinv(cov, hermitian=True)
    r2 = 1.0 - 1.0 / np.maximum(np.diag(prec) * np.diag(cov), 1.0)
    return _sortability(r2, A)


def sortability(X, A, *, max_rows: int = 20000) -> dict[str, float | None]:
    """Both sortabilities, on at most ``max_rows`` rows (the first ones)."""
    X = np.asarray(X, dtype=float)[:max_rows]
    return {"var_sortability": var_sortability(X, A), "r2_sortability": r2_sortability(X, A)}
