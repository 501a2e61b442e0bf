"""R² readouts: how well each true latent can be read out of an estimate (``reference/evaluation.md`` §1.3).

:func:`r2_readout` with a linear, kernel ridge or MLP regressor, and its
per-block variant. Shapes and the held-out protocol are those of
:mod:`identifiability.latent_metrics` (which re-exports :func:`r2_readout`).
"""

from __future__ import annotations

import logging
import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_choice
from identifiability._protocol import _constant_columns, _r2, _seed, _split_rows, _standardize

__all__ = ["r2_readout", "KERNEL_RIDGE_MAX_TRAIN", "KERNEL_RIDGE_MAX_CV"]

logger = logging.getLogger(__name__)

#: Kernel ridge is fitted on at most this many (seeded, randomly chosen) train rows.
KERNEL_RIDGE_MAX_TRAIN = 3000
#: Its (alpha, gamma) grid search uses at most this many of those rows (3-fold CV).
KERNEL_RIDGE_MAX_CV = 1000
_KR_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0)
_KR_GAMMAS = (0.1, 0.3, 1.0, 3.0)  # divided by the number of (standardised) inputs
_REGRESSORS = ("linear", "kernel_ridge", "mlp")


# ---------------------------------------------------------------------------
# R² readouts
# ---------------------------------------------------------------------------


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
        As in :func:`identifiability.latent_metrics.mcc_details`; ``random_state``
        also seeds the regressors.

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
