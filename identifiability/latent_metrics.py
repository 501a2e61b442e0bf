"""Representation metrics: compare true latents ``Z`` with an estimate ``Z_hat``.

Pure functions on arrays (``reference/evaluation.md`` §0, §1, §5). Shapes:
``z_true`` is (n_samples, d) and ``z_hat`` is (n_samples, d_hat); a 1-D array
is read as a single column. ``d_hat != d`` is allowed everywhere unless a
function says otherwise.

Protocol shared by every fitted metric (MCC, weak MCC, R² readouts, DCI):

- ``split="held_out"`` (default): the rows are shuffled with ``random_state``
  and ``test_size`` of them are held out; alignments, CCA and regressors are
  fitted on the train rows and the score is computed on the test rows.
- ``split="in_sample"``: fit and score on the same rows (comparison with
  papers only; labelled as such in the returned conventions).
- ``train=(z_true_train, z_hat_train)``: explicit train rows; every row passed
  as ``z_true``/``z_hat`` is then a test row.

Disentanglement scores (DCI, MIG) live in :mod:`identifiability.disentanglement`.
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata

from crl.exceptions import ValidationError
from crl.validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_random_state,
    check_square,
)

__all__ = [
    "permutation_from_correlation",
    "mcc",
    "mcc_details",
    "weak_mcc",
    "r2_readout",
    "amari_index",
    "mixing_error",
    "extrapolation_error",
    "null_encoder",
    "KERNEL_RIDGE_MAX_TRAIN",
    "KERNEL_RIDGE_MAX_CV",
]

logger = logging.getLogger(__name__)

#: Kernel ridge is fitted on at most this many (seeded, randomly chosen) train rows.
KERNEL_RIDGE_MAX_TRAIN = 3000
#: Its (alpha, gamma) grid search uses at most this many of those rows (3-fold CV).
KERNEL_RIDGE_MAX_CV = 1000
_KR_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0)
_KR_GAMMAS = (0.1, 0.3, 1.0, 3.0)  # divided by the number of (standardised) inputs
_SPLITS = ("held_out", "in_sample")
_REGRESSORS = ("linear", "kernel_ridge", "mlp")
_CORRELATIONS = ("pearson", "spearman")


# ---------------------------------------------------------------------------
# validation and splitting (shared with identifiability.disentanglement)
# ---------------------------------------------------------------------------


def _as_2d(x, name: str, *, min_rows: int = 1) -> np.ndarray:
    arr = check_array(x, name, ndim=(1, 2), min_rows=min_rows)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[1] < 1:
        raise ValidationError(f"{name}: expected at least one column, got shape {arr.shape}")
    return arr


def _check_pair(z_true, z_hat, names=("z_true", "z_hat"), *, min_rows: int = 1):
    a = _as_2d(z_true, names[0], min_rows=min_rows)
    b = _as_2d(z_hat, names[1], min_rows=min_rows)
    if a.shape[0] != b.shape[0]:
        raise ValidationError(
            f"{names[1]}: expected the same number of rows as {names[0]} ({a.shape[0]}), "
            f"got {b.shape[0]} (shape {b.shape})"
        )
    return a, b


def _seed_label(random_state):
    return int(random_state) if isinstance(random_state, numbers.Integral) else type(random_state).__name__


def _split_rows(z_true, z_hat, *, split, test_size, random_state, train, min_rows=2):
    """Validate and split; returns ``(zt_tr, zh_tr, zt_te, zh_te, rng, conventions)``."""
    check_choice(split, "split", _SPLITS)
    test_size = check_float(test_size, "test_size", minimum=0.0, maximum=1.0, strict_min=True)
    if test_size >= 1.0:
        raise ValidationError(f"test_size: expected a number in (0, 1), got {test_size}")
    rng = check_random_state(random_state)
    conv = {"split": split, "random_state": _seed_label(random_state)}
    if train is not None:
        if split != "held_out":
            raise ValidationError(
                f"split: explicit train rows are held-out scoring; expected split='held_out' "
                f"with train=..., got split={split!r}"
            )
        zt_te, zh_te = _check_pair(z_true, z_hat, min_rows=min_rows)
        if not isinstance(train, Sequence) or len(train) != 2:
            raise ValidationError(
                f"train: expected a pair (z_true_train, z_hat_train), got {type(train).__name__}"
            )
        zt_tr, zh_tr = _check_pair(*train, names=("train[0]", "train[1]"), min_rows=min_rows)
        for nm, tr, te in (("train[0]", zt_tr, zt_te), ("train[1]", zh_tr, zh_te)):
            if tr.shape[1] != te.shape[1]:
                raise ValidationError(
                    f"{nm}: expected {te.shape[1]} columns like the test rows, got shape {tr.shape}"
                )
        conv["train"] = "explicit"
    else:
        zt, zh = _check_pair(z_true, z_hat, min_rows=2 * min_rows if split == "held_out" else min_rows)
        n = zt.shape[0]
        if split == "in_sample":
            zt_tr = zt_te = zt
            zh_tr = zh_te = zh
        else:
            n_test = min(max(int(round(test_size * n)), min_rows), n - min_rows)
            order = rng.permutation(n)
            te, tr = np.sort(order[:n_test]), np.sort(order[n_test:])
            zt_tr, zh_tr, zt_te, zh_te = zt[tr], zh[tr], zt[te], zh[te]
            conv["test_size"] = test_size
    conv["n_train"] = int(zt_tr.shape[0])
    conv["n_test"] = int(zt_te.shape[0])
    return zt_tr, zh_tr, zt_te, zh_te, rng, conv


def _constant_columns(A: np.ndarray) -> np.ndarray:
    mu = A.mean(axis=0)
    return (np.ptp(A, axis=0) == 0) | (A.std(axis=0) <= 1e-12 * np.abs(mu))


def _standardize(A: np.ndarray, ref: np.ndarray | None = None):
    """Centre and scale ``A`` with the moments of ``ref`` (default ``A``); constant columns -> 0."""
    ref = A if ref is None else ref
    mu, sd = ref.mean(axis=0), ref.std(axis=0)
    const = _constant_columns(ref)
    out = (A - mu) / np.where(const, 1.0, sd)
    out[:, const] = 0.0
    return out, const


def _cross_corr(A: np.ndarray, B: np.ndarray):
    """Pearson correlations (d_a, d_b) between columns; constant columns give 0."""
    As, ca = _standardize(A)
    Bs, cb = _standardize(B)
    C = np.clip(As.T @ Bs / A.shape[0], -1.0, 1.0)
    return C, ca, cb


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


# ---------------------------------------------------------------------------
# MCC
# ---------------------------------------------------------------------------


def permutation_from_correlation(C):
    """Best one-to-one matching of rows to columns of ``|C|`` (Hungarian algorithm).

    Parameters
    ----------
    C : array_like of shape (d, d_hat)
        A score matrix, typically correlations between true latent ``i``
        (rows) and estimated component ``j`` (columns). Rectangular is allowed.

    Returns
    -------
    perm : ndarray of int of shape (d,)
        ``perm[i]`` is the column matched to row ``i``, or ``-1`` when row
        ``i`` is unmatched (only when ``d > d_hat``).
    score : float
        ``sum_i |C[i, perm[i]]| / d`` over matched rows (unmatched rows
        contribute 0); in [0, 1] when ``|C| <= 1``.
    """
    C = check_array(C, "C", ndim=2)
    if C.shape[0] < 1 or C.shape[1] < 1:
        raise ValidationError(f"C: expected a matrix with at least one row and column, got shape {C.shape}")
    absC = np.abs(C)
    rows, cols = linear_sum_assignment(absC, maximize=True)
    perm = np.full(C.shape[0], -1, dtype=int)
    perm[rows] = cols
    return perm, float(absC[rows, cols].sum() / C.shape[0])


def mcc_details(z_true, z_hat, *, correlation="pearson", split="held_out", test_size=0.5,
                random_state=0, train=None) -> dict:
    """Mean correlation coefficient with everything needed to audit it (§1.1).

    Protocol: on the train rows, match true latents to estimated components
    with the Hungarian algorithm on ``|corr|`` and record the sign of each
    matched correlation; on the test rows, report
    ``(1/d) sum_i s_i corr(z_i, z_hat_perm(i))`` (signs kept, unmatched true
    latents contribute 0). With ``split="in_sample"`` the match and the score
    use the same rows and the score is ``|corr|`` as in papers.

    Parameters
    ----------
    z_true : array_like of shape (n_samples, d)
    z_hat : array_like of shape (n_samples, d_hat)
    correlation : {"pearson", "spearman"}
        ``"pearson"`` is invariant to per-component affine maps; ``"spearman"``
        rank-transforms each column (within the train and the test rows
        separately) first and is invariant to strictly monotone maps.
    split : {"held_out", "in_sample"}
    test_size : float in (0, 1)
        Fraction of rows held out when ``split="held_out"`` and ``train`` is None.
    random_state : None, int or numpy.random.Generator
        Seed of the row split.
    train : pair of array_like, optional
        ``(z_true_train, z_hat_train)`` of shapes (n_train, d), (n_train, d_hat).

    Returns
    -------
    dict
        ``score`` (float; in [-1, 1] held-out, in [0, 1] in-sample),
        ``permutation`` (int array (d,), -1 for unmatched),
        ``signs`` (array (d,) of ±1, 0 for unmatched),
        ``per_latent`` (array (d,): the signed test correlation of each true
        latent with its match, |corr| in-sample, 0 if unmatched),
        ``train_abs_corr`` (array (d,): matched |corr| on the train rows),
        ``d``, ``d_hat``, ``constant_columns`` (``{"z_true": [...], "z_hat": [...]}``:
        columns constant on the train or test rows; their correlations are
        taken as 0) and ``conventions`` (correlation, split, matching,
        averaging, n_train, n_test, random_state, test_size).
    """
    check_choice(correlation, "correlation", _CORRELATIONS)
    zt_tr, zh_tr, zt_te, zh_te, _, conv = _split_rows(
        z_true, z_hat, split=split, test_size=test_size, random_state=random_state, train=train
    )
    if correlation == "spearman":
        zt_tr, zh_tr = rankdata(zt_tr, axis=0), rankdata(zh_tr, axis=0)
        zt_te, zh_te = rankdata(zt_te, axis=0), rankdata(zh_te, axis=0)
    d, d_hat = zt_tr.shape[1], zh_tr.shape[1]
    C_tr, ca_tr, cb_tr = _cross_corr(zt_tr, zh_tr)
    perm, _ = permutation_from_correlation(C_tr)
    matched = perm >= 0
    rows, cols = np.flatnonzero(matched), perm[matched]
    signs = np.zeros(d)
    signs[rows] = np.where(C_tr[rows, cols] < 0, -1.0, 1.0)
    train_abs = np.zeros(d)
    train_abs[rows] = np.abs(C_tr[rows, cols])
    per_latent = np.zeros(d)
    if split == "in_sample":
        per_latent[rows] = np.abs(C_tr[rows, cols])
        ca, cb = ca_tr, cb_tr
        lo = 0.0
    else:
        C_te, ca_te, cb_te = _cross_corr(zt_te, zh_te)
        per_latent[rows] = signs[rows] * C_te[rows, cols]
        ca, cb = ca_tr | ca_te, cb_tr | cb_te
        lo = -1.0
    constant = {"z_true": np.flatnonzero(ca).tolist(), "z_hat": np.flatnonzero(cb).tolist()}
    if constant["z_true"] or constant["z_hat"]:
        logger.info("mcc: constant columns %s; their correlations are taken as 0", constant)
    conv.update(correlation=correlation, matching="hungarian_abs_corr_on_train",
                average="over_true_latents", constant_columns="corr_0")
    return {
        "score": float(np.clip(per_latent.sum() / d, lo, 1.0)),
        "permutation": perm,
        "signs": signs,
        "per_latent": per_latent,
        "train_abs_corr": train_abs,
        "d": int(d),
        "d_hat": int(d_hat),
        "constant_columns": constant,
        "conventions": conv,
    }


def mcc(z_true, z_hat, *, correlation="pearson", split="held_out", test_size=0.5, random_state=0,
        train=None) -> float:
    """Mean correlation coefficient (§1.1); see :func:`mcc_details` for the protocol.

    Parameters
    ----------
    z_true : array_like of shape (n_samples, d)
    z_hat : array_like of shape (n_samples, d_hat)
    correlation, split, test_size, random_state, train
        As in :func:`mcc_details`.

    Returns
    -------
    float
        In [-1, 1] for held-out scoring (≈ 0 under the null), in [0, 1] in-sample.
    """
    return mcc_details(z_true, z_hat, correlation=correlation, split=split, test_size=test_size,
                       random_state=random_state, train=train)["score"]


# ---------------------------------------------------------------------------
# weak MCC (CCA)
# ---------------------------------------------------------------------------


def _whitener(A: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Map (p, r) whitening the centred, standardised ``A`` on its numerical rank r."""
    cov = A.T @ A / A.shape[0]
    w, V = np.linalg.eigh(cov)
    if w.size == 0 or w[-1] <= 0:
        return np.zeros((A.shape[1], 0))
    keep = w > tol * w[-1]
    return V[:, keep] / np.sqrt(w[keep])


def weak_mcc(z_true, z_hat, *, split="held_out", test_size=0.5, random_state=0, train=None) -> float:
    """Weak (affine) MCC: mean test correlation of paired canonical variates (§1.2).

    CCA is computed in closed form on the train rows: both blocks are
    standardised, whitened on their numerical rank (eigenvalues below 1e-10
    of the largest are dropped, so constant or collinear columns are
    harmless), and the SVD of the whitened cross-covariance gives the
    canonical directions. The ``k = min(d, d_hat)`` leading pairs are applied
    to the test rows; the score is the sum of the signed test correlations of
    the pairs divided by ``d`` (as for MCC, true directions that cannot be
    matched because ``d_hat < d`` contribute 0).

    Parameters
    ----------
    z_true : array_like of shape (n_samples, d)
    z_hat : array_like of shape (n_samples, d_hat)
    split, test_size, random_state, train
        As in :func:`mcc_details`.

    Returns
    -------
    float
        In [-1, 1] held-out (≈ 0 under the null), in [0, 1] in-sample; 1 when
        ``z_hat`` is an invertible affine map of ``z_true``.
    """
    zt_tr, zh_tr, zt_te, zh_te, _, _ = _split_rows(
        z_true, z_hat, split=split, test_size=test_size, random_state=random_state, train=train
    )
    d = zt_tr.shape[1]
    k = min(d, zh_tr.shape[1])
    X, _ = _standardize(zt_tr)
    Y, _ = _standardize(zh_tr)
    Wx, Wy = _whitener(X), _whitener(Y)
    U, _, Vt = np.linalg.svd((X @ Wx).T @ (Y @ Wy) / X.shape[0])
    k = min(k, U.shape[1], Vt.shape[0])
    if k == 0:
        return 0.0
    u = _standardize(zt_te, zt_tr)[0] @ (Wx @ U[:, :k])
    v = _standardize(zh_te, zh_tr)[0] @ (Wy @ Vt[:k].T)
    corr = np.diag(_cross_corr(u, v)[0])
    lo = 0.0 if split == "in_sample" else -1.0
    return float(np.clip(corr.sum() / d, lo, 1.0))


# ---------------------------------------------------------------------------
# R² readouts
# ---------------------------------------------------------------------------


def _r2(y, pred) -> float:
    """Test R² = 1 - SSE/SST; a constant test target gives 1 if predicted exactly, else 0."""
    sst = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum((y - pred) ** 2))
    if sst <= 1e-24 * max(1.0, float(np.sum(y**2))):
        return 1.0 if sse <= 1e-24 * max(1.0, float(np.sum(y**2))) else 0.0
    return 1.0 - sse / sst


def _fit_predict(regressor: str, X_tr, Y_tr, X_te, seed: int) -> np.ndarray:
    """Regress each column of ``Y_tr`` (n_train, m) on ``X_tr``; return test predictions (n_test, m).

    Targets are standardised with their train moments (and mapped back); a
    target constant on the train rows is predicted by its value.
    """
    mu, sd = Y_tr.mean(axis=0), Y_tr.std(axis=0)
    const = _constant_columns(Y_tr)
    pred = np.tile(mu, (X_te.shape[0], 1))
    live = np.flatnonzero(~const)
    if live.size == 0:
        return pred
    Y = (Y_tr[:, live] - mu[live]) / sd[live]
    if regressor == "linear":
        from sklearn.linear_model import LinearRegression

        P = LinearRegression(n_jobs=1).fit(X_tr, Y).predict(X_te).reshape(X_te.shape[0], -1)
    elif regressor == "kernel_ridge":
        P = _kernel_ridge(X_tr, Y, X_te, seed)
    else:
        P = np.column_stack([_mlp(X_tr, Y[:, c], X_te, seed) for c in range(Y.shape[1])])
    pred[:, live] = P * sd[live] + mu[live]
    return pred


def _mlp(X_tr, y, X_te, seed: int) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=(64, 64), early_stopping=True, validation_fraction=0.1,
                         n_iter_no_change=20, max_iter=1000, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X_tr, y)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        logger.warning("r2_readout: MLPRegressor did not converge in %d iterations", model.max_iter)
    return model.predict(X_te)


def _rbf(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    sq = (A**2).sum(axis=1)[:, None] + (B**2).sum(axis=1)[None, :] - 2.0 * (A @ B.T)
    return np.exp(-gamma * np.maximum(sq, 0.0))


def _kernel_ridge(X_tr, Y, X_te, seed: int) -> np.ndarray:
    """RBF kernel ridge, ``(alpha, gamma)`` per target by 3-fold CV; standardised ``Y`` (n, m).

    The solution is sklearn's ``KernelRidge`` (no intercept, coefficients
    ``(K + alpha I)^-1 y``), computed directly so that one kernel matrix per
    (gamma, fold) and one Cholesky factor per alpha serve every target.
    """
    rng = np.random.default_rng(seed)
    if X_tr.shape[0] > KERNEL_RIDGE_MAX_TRAIN:
        rows = np.sort(rng.choice(X_tr.shape[0], KERNEL_RIDGE_MAX_TRAIN, replace=False))
        X_tr, Y = X_tr[rows], Y[rows]
    n, m = Y.shape
    gammas = [g / X_tr.shape[1] for g in _KR_GAMMAS]
    cv = rng.permutation(n)[:KERNEL_RIDGE_MAX_CV]
    folds = np.array_split(cv, 3)
    sse = np.zeros((len(gammas), len(_KR_ALPHAS), m))
    if len(cv) >= 6:
        for gi, gamma in enumerate(gammas):
            for f, val in enumerate(folds):
                fit = np.concatenate([folds[g] for g in range(3) if g != f])
                K = _rbf(X_tr[fit], X_tr[fit], gamma)
                K_val = _rbf(X_tr[val], X_tr[fit], gamma)
                for ai, alpha in enumerate(_KR_ALPHAS):
                    pred = K_val @ _kr_solve(K, alpha, Y[fit])
                    sse[gi, ai] += ((Y[val] - pred) ** 2).sum(axis=0)
    if len(cv) >= 6:
        best = sse.reshape(-1, m).argmin(axis=0)
    else:  # too few rows to cross-validate: gamma = 1 / n_inputs, alpha = 0.1
        best = np.full(m, _KR_GAMMAS.index(1.0) * len(_KR_ALPHAS) + _KR_ALPHAS.index(1e-1))
    out = np.empty((X_te.shape[0], m))
    for flat in np.unique(best):
        gi, ai = divmod(int(flat), len(_KR_ALPHAS))
        cols = np.flatnonzero(best == flat)
        coef = _kr_solve(_rbf(X_tr, X_tr, gammas[gi]), _KR_ALPHAS[ai], Y[:, cols])
        out[:, cols] = _rbf(X_te, X_tr, gammas[gi]) @ coef
    return out


def _kr_solve(K: np.ndarray, alpha: float, Y: np.ndarray) -> np.ndarray:
    """Dual coefficients ``(K + alpha I)^-1 Y`` by Cholesky (K is PSD, alpha > 0)."""
    from scipy.linalg import cho_factor, cho_solve

    A = K + alpha * np.eye(K.shape[0])
    return cho_solve(cho_factor(A, lower=True, overwrite_a=True, check_finite=False), Y, check_finite=False)


def _index_tuple(value, name: str, size: int) -> tuple:
    items = [value] if isinstance(value, numbers.Integral) else value
    try:
        items = list(items)
    except TypeError:
        raise ValidationError(f"{name}: expected an int or a sequence of ints, got {value!r}") from None
    if not items or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in items):
        raise ValidationError(f"{name}: expected a non-empty sequence of ints, got {value!r}")
    items = [int(i) for i in items]
    if min(items) < 0 or max(items) >= size or len(set(items)) != len(items):
        raise ValidationError(f"{name}: expected distinct indices in [0, {size - 1}], got {value!r}")
    return tuple(items)


def _is_index_seq(v) -> bool:
    return isinstance(v, Sequence | np.ndarray) and not isinstance(v, str)


def _parse_blocks(blocks, d: int, d_hat: int) -> list:
    """``[(key, S, columns)]`` from ``{S: columns}`` or ``{name: (S, columns)}``."""
    if not isinstance(blocks, Mapping) or not blocks:
        raise ValidationError(f"blocks: expected a non-empty mapping, got {type(blocks).__name__}")
    parsed = []
    for key, value in blocks.items():
        pair = _is_index_seq(value) and len(value) == 2
        if isinstance(key, str) or (pair and all(_is_index_seq(v) for v in value)):
            if not pair:
                raise ValidationError(
                    f"blocks[{key!r}]: a named block expects a pair (true_indices, hat_columns), got {value!r}"
                )
            S = _index_tuple(value[0], f"blocks[{key!r}] true indices", d)
            cols = _index_tuple(value[1], f"blocks[{key!r}] columns", d_hat)
        else:
            S = _index_tuple(key, f"blocks key {key!r}", d)
            cols = _index_tuple(value, f"blocks[{key!r}]", d_hat)
        parsed.append((key, S, cols))
    return parsed


def _readout(regressor, Xtr, Xte, Ytr, Yte, seed) -> np.ndarray:
    """Test R² (m,) of each column of ``Yte`` predicted from ``Xte`` after fitting on the train rows."""
    if Ytr.shape[1] == 0:
        return np.zeros(0)
    pred = _fit_predict(regressor, Xtr, Ytr, Xte, seed)
    return np.array([_r2(Yte[:, c], pred[:, c]) for c in range(Yte.shape[1])])


def _mean_or_none(values):
    values = [v for arr in values for v in np.atleast_1d(arr)]
    return float(np.mean(values)) if values else None


def r2_readout(z_true, z_hat, *, regressor="linear", blocks=None, split="held_out", test_size=0.5,
               random_state=0, train=None) -> dict:
    """Test R² of reading each true latent out of the (standardised) estimate (§1.3).

    For each true factor ``z_k`` a regressor is fitted on the train rows from
    ``z_hat`` (standardised with the train moments; the target is standardised
    too and mapped back) and scored by R² on the test rows.

    Parameters
    ----------
    z_true : array_like of shape (n_samples, d)
    z_hat : array_like of shape (n_samples, d_hat)
    regressor : {"linear", "kernel_ridge", "mlp"}
        ``"linear"``: OLS. ``"kernel_ridge"``: RBF kernel ridge with
        ``alpha`` in {1e-3, 1e-2, 1e-1, 1} and ``gamma`` in
        {0.1, 0.3, 1, 3} / n_inputs chosen by 3-fold CV on at most
        ``KERNEL_RIDGE_MAX_CV`` train rows, then refitted on at most
        ``KERNEL_RIDGE_MAX_TRAIN`` train rows (seeded subsamples; the cost is
        cubic in the rows). ``"mlp"``: ``MLPRegressor`` with two hidden layers
        of 64, early stopping on 10 % of the train rows and a fixed seed.
        Linear R² tests the affine class, nonlinear R² invertible maps.
    blocks : mapping, optional
        Claimed blocks, in either form: ``{S: hat_columns}`` with ``S`` an
        int or a tuple of true-latent indices, or ``{key: (S, hat_columns)}``
        with any key (a string key always takes this form). ``hat_columns``
        are the columns of ``z_hat`` that estimate block ``S``.
    split, test_size, random_state, train
        As in :func:`mcc_details`; ``random_state`` also seeds the regressors.

    Returns
    -------
    dict
        ``per_factor`` : ndarray (d,), test R² of ``z_k`` from all of ``z_hat``;
        ``mean`` : their mean; ``d``, ``d_hat``; ``conventions`` (regressor,
        split, sizes and, for kernel ridge, the grid and subsampling caps).
        R² values are ≤ 1 and may be negative on test rows (worse than the
        test mean). With ``blocks``, per block key:
        ``in_block[key]`` : mean R² of ``z_k``, k in S, from the block's columns;
        ``out_block[key]`` : mean R² of ``z_k``, k not in S, from the block's columns;
        ``oracle_out_block[key]`` : mean R² of those ``z_k`` from the TRUE ``z_S``
        (same regressor); ``out_block_excess[key]`` : ``out_block - oracle_out_block``.
        Dependent latents make out-of-block R² legitimately positive: compare
        it with the oracle, not with 0. The three ``out`` values are ``None``
        when the block covers every latent. ``blocks[key]`` holds the arrays:
        ``{"true": S, "hat": columns, "in_block": (|S|,), "out_factors": the
        k not in S, "out_block": (d - |S|,), "oracle_out_block": (d - |S|,)}``;
        ``in_block_mean``, ``out_block_mean``, ``oracle_out_block_mean`` pool
        all blocks' factors (``None`` when empty).
    """
    check_choice(regressor, "regressor", _REGRESSORS)
    zt_tr, zh_tr, zt_te, zh_te, rng, conv = _split_rows(
        z_true, z_hat, split=split, test_size=test_size, random_state=random_state, train=train
    )
    d, d_hat = zt_tr.shape[1], zh_tr.shape[1]
    parsed = _parse_blocks(blocks, d, d_hat) if blocks is not None else None
    seed = _seed(rng)
    Htr, _ = _standardize(zh_tr)
    Hte, _ = _standardize(zh_te, zh_tr)
    per_factor = _readout(regressor, Htr, Hte, zt_tr, zt_te, seed)
    conv.update(regressor=regressor, inputs="standardised_z_hat")
    if regressor == "kernel_ridge":
        conv.update(kr_alphas=list(_KR_ALPHAS), kr_gammas_times_n_inputs=list(_KR_GAMMAS),
                    kr_max_train=KERNEL_RIDGE_MAX_TRAIN, kr_max_cv=KERNEL_RIDGE_MAX_CV)
    out = {"per_factor": per_factor, "mean": float(per_factor.mean()), "d": d, "d_hat": d_hat,
           "conventions": conv}
    if parsed is None:
        return out
    Ztr_s, _ = _standardize(zt_tr)
    Zte_s, _ = _standardize(zt_te, zt_tr)
    block_out = {}
    for key, S, cols in parsed:
        c, s_, o = list(cols), list(S), [k for k in range(d) if k not in S]
        from_block = _readout(regressor, Htr[:, c], Hte[:, c], zt_tr, zt_te, seed)  # every z_k
        block_out[key] = {
            "true": S,
            "hat": cols,
            "in_block": from_block[s_],
            "out_factors": tuple(o),
            "out_block": from_block[o],
            "oracle_out_block": _readout(regressor, Ztr_s[:, s_], Zte_s[:, s_], zt_tr[:, o], zt_te[:, o], seed),
        }
    out["blocks"] = block_out
    for name in ("in_block", "out_block", "oracle_out_block"):
        out[name] = {key: _mean_or_none([b[name]]) for key, b in block_out.items()}
        out[f"{name}_mean"] = _mean_or_none(b[name] for b in block_out.values())
    out["out_block_excess"] = {
        key: None if out["out_block"][key] is None else out["out_block"][key] - out["oracle_out_block"][key]
        for key in block_out
    }
    return out


# ---------------------------------------------------------------------------
# linear mixing
# ---------------------------------------------------------------------------


def amari_index(M, *, power=1) -> float:
    """Amari index of a square matrix, 0 iff ``M`` is a scaled permutation (§1.6).

    ``[sum_i (sum_j |m_ij|^q / max_k |m_ik|^q - 1) + sum_j (sum_i |m_ij|^q /
    max_k |m_kj|^q - 1)] / (2 d (d - 1))`` with ``q = power``.

    Parameters
    ----------
    M : array_like of shape (d, d)
        Typically the estimated unmixing times the true mixing (``W_hat @ A``).
    power : float > 0
        1 (default) uses ``|m_ij|``; 2 the squared entries of some papers.

    Returns
    -------
    float
        In [0, 1]; 0 for ``d = 1``.
    """
    M = check_square(M, "M")
    power = check_float(power, "power", minimum=0.0, strict_min=True)
    d = M.shape[0]
    if d == 0:
        raise ValidationError("M: expected a non-empty square matrix, got shape (0, 0)")
    P = np.abs(M) ** power
    row_max, col_max = P.max(axis=1), P.max(axis=0)
    if np.any(row_max == 0) or np.any(col_max == 0):
        raise ValidationError(
            f"M: expected no all-zero row or column (the index is undefined), got zero rows "
            f"{np.flatnonzero(row_max == 0).tolist()} and zero columns {np.flatnonzero(col_max == 0).tolist()}"
        )
    if d == 1:
        return 0.0
    rows = (P.sum(axis=1) / row_max - 1.0).sum()
    cols = (P.sum(axis=0) / col_max - 1.0).sum()
    return float(np.clip((rows + cols) / (2.0 * d * (d - 1)), 0.0, 1.0))


def _unit_columns(A: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(A, axis=0)
    if np.any(norms == 0):
        raise ValidationError(f"{name}: expected no all-zero column, got zero columns {np.flatnonzero(norms == 0).tolist()}")
    return A / norms


def mixing_error(A_true, A_hat) -> float:
    """Relative error of an estimated mixing matrix up to permutation, sign and scale (§1.6).

    Columns of both matrices are normalised to unit norm; estimated columns
    are matched to true ones by the Hungarian algorithm on ``|A_hat.T @ A|``;
    each matched column gets the closed-form scale
    ``d_j = <a_hat_pi(j), a_j> / ||a_hat_pi(j)||^2``; the score is
    ``||A - A_hat P D||_F / ||A||_F`` on the normalised matrices, i.e. the
    root mean squared sine of the angles between matched columns.

    Parameters
    ----------
    A_true : array_like of shape (p, d)
        True mixing, ``X = Z @ A_true.T``.
    A_hat : array_like of shape (p, d)
        Estimate, same shape.

    Returns
    -------
    float
        In [0, 1]; 0 iff ``A_hat = A_true P D`` with P a permutation and D an
        invertible diagonal matrix.
    """
    A = check_array(A_true, "A_true", ndim=2)
    B = check_array(A_hat, "A_hat", ndim=2)
    if A.shape != B.shape or A.size == 0:
        raise ValidationError(f"A_hat: expected a non-empty matrix of shape {A.shape} like A_true, got {B.shape}")
    A, B = _unit_columns(A, "A_true"), _unit_columns(B, "A_hat")
    G = B.T @ A  # (d_hat, d): G[i, j] = <a_hat_i, a_j>
    rows, cols = linear_sum_assignment(np.abs(G), maximize=True)
    B_aligned = np.empty_like(A)
    B_aligned[:, cols] = B[:, rows] * G[rows, cols]  # unit columns: d_j = <a_hat, a_j>
    err = np.linalg.norm(A - B_aligned) / np.linalg.norm(A)
    return float(np.clip(err, 0.0, 1.0))


# ---------------------------------------------------------------------------
# extrapolation and null encoders
# ---------------------------------------------------------------------------


def extrapolation_error(do_true, do_hat, *, in_support=None, distance=None, distance_bins=10) -> dict:
    """Mean squared error of interventional predictions, inside and outside the training support.

    Parameters
    ----------
    do_true : array_like of shape (n_samples,) or (n_samples, m)
        True outcomes (or latents) under the interventions.
    do_hat : array_like, same shape as ``do_true``
        Predicted ones.
    in_support : array_like of bool of shape (n_samples,), optional
        True for rows whose intervention lies inside the training support.
    distance : array_like of shape (n_samples,), optional
        Distance of each row's intervention from the training support (e.g.
        0 inside); gives an error curve over equal-width distance bins.
    distance_bins : int or array_like
        Number of equal-width bins over ``[min(distance), max(distance)]``,
        or explicit increasing bin edges (rows outside the edges are dropped
        from the curve).

    Returns
    -------
    dict
        ``mse`` (float, mean over all entries), ``n``; with ``in_support``:
        ``mse_in``, ``mse_out`` (float, ``None`` when that group is empty),
        ``n_in``, ``n_out``; with ``distance``: ``curve`` =
        ``{"bin_low", "bin_high", "mse", "count"}``, arrays over the
        non-empty bins only (no NaN).
    """
    y = check_array(do_true, "do_true", ndim=(1, 2))
    yh = check_array(do_hat, "do_hat", ndim=(1, 2))
    if y.shape != yh.shape:
        raise ValidationError(f"do_hat: expected shape {y.shape} like do_true, got {yh.shape}")
    n = y.shape[0]
    sq = ((y - yh) ** 2).reshape(n, -1).mean(axis=1)  # per-row MSE
    out = {"mse": float(sq.mean()), "n": int(n)}
    if in_support is not None:
        mask = np.asarray(in_support)
        if mask.shape != (n,) or not (mask.dtype == bool or np.isin(mask, (0, 1)).all()):
            raise ValidationError(
                f"in_support: expected a boolean array of shape ({n},), got dtype {mask.dtype} shape {mask.shape}"
            )
        mask = mask.astype(bool)
        out.update(
            mse_in=float(sq[mask].mean()) if mask.any() else None,
            mse_out=float(sq[~mask].mean()) if (~mask).any() else None,
            n_in=int(mask.sum()),
            n_out=int((~mask).sum()),
        )
    if distance is not None:
        dist = check_array(distance, "distance", ndim=1)
        if dist.shape != (n,):
            raise ValidationError(f"distance: expected shape ({n},), got {dist.shape}")
        if isinstance(distance_bins, numbers.Integral) and not isinstance(distance_bins, bool):
            nb = check_int(distance_bins, "distance_bins", minimum=1)
            edges = np.linspace(dist.min(), dist.max(), nb + 1)
            if edges[-1] == edges[0]:
                edges = np.array([edges[0], edges[0] + 1.0])
        else:
            edges = check_array(distance_bins, "distance_bins", ndim=1, min_rows=2)
            if np.any(np.diff(edges) <= 0):
                raise ValidationError(f"distance_bins: expected strictly increasing edges, got {edges.tolist()}")
        idx = np.searchsorted(edges, dist, side="right") - 1
        idx[dist == edges[-1]] = len(edges) - 2  # the last bin is closed on the right
        valid = (idx >= 0) & (idx < len(edges) - 1)
        count = np.bincount(idx[valid], minlength=len(edges) - 1)
        total = np.bincount(idx[valid], weights=sq[valid], minlength=len(edges) - 1)
        keep = count > 0
        out["curve"] = {"bin_low": edges[:-1][keep], "bin_high": edges[1:][keep],
                        "mse": total[keep] / count[keep], "count": count[keep]}
    return out


def null_encoder(X_or_z, d_hat, *, kind="noise", random_state=0) -> np.ndarray:
    """A null representation to put next to every representation score (§1.1).

    Parameters
    ----------
    X_or_z : array_like of shape (n_samples, p)
        Observations (for ``kind="projection"``) or any array with the
        right number of rows (for ``kind="noise"``).
    d_hat : int
        Dimension of the null representation.
    kind : {"noise", "projection"}
        ``"noise"``: standard Gaussian noise independent of everything.
        ``"projection"``: the standardised ``X`` times a random (p, d_hat)
        matrix with orthonormal columns (requires ``d_hat <= p``); a random
        encoder that still carries information about ``X``.
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_samples, d_hat)
    """
    X = _as_2d(X_or_z, "X_or_z")
    d_hat = check_int(d_hat, "d_hat", minimum=1)
    check_choice(kind, "kind", ("noise", "projection"))
    rng = check_random_state(random_state)
    if kind == "noise":
        return rng.standard_normal((X.shape[0], d_hat))
    p = X.shape[1]
    if d_hat > p:
        raise ValidationError(f"d_hat: a projection of X needs d_hat <= p = {p}, got {d_hat}")
    Q, R = np.linalg.qr(rng.standard_normal((p, d_hat)))
    Q = Q * np.where(np.diag(R) < 0, -1.0, 1.0)  # Haar-distributed orthonormal columns
    return _standardize(X)[0] @ Q
