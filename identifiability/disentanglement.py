"""Disentanglement scores for continuous latents: DCI (regressor variant) and MIG.

Pure functions on arrays (``reference/evaluation.md`` §1.4, §1.5). Shapes:
``z_true`` is (n_samples, K) with K = d true factors and ``z_hat`` is
(n_samples, d_hat) codes; ``d_hat != K`` is allowed and every matrix says its
shape. Both scores are small and depend on conventions (regressor, bins), so
always report them next to a null encoder
(:func:`identifiability.latent_metrics.null_encoder`).
"""

from __future__ import annotations

import logging

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_int
from identifiability._protocol import _check_pair, _r2, _seed, _split_rows, _standardize

__all__ = ["dci", "mig"]

logger = logging.getLogger(__name__)

_DCI_REGRESSORS = ("gradient_boosting", "lasso")


def _entropy(P: np.ndarray, base: int, axis: int) -> np.ndarray:
    """Entropy with logarithm base ``base`` of the distributions along ``axis``; 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)
    return -terms.sum(axis=axis) / np.log(base)


def _normalise(R: np.ndarray, axis: int) -> np.ndarray:
    """Normalise importances along ``axis``; an all-zero slice becomes uniform."""
    s = R.sum(axis=axis, keepdims=True)
    uniform = np.full_like(R, 1.0 / R.shape[axis])
    return np.where(s > 0, R / np.where(s > 0, s, 1.0), uniform)


def dci(z_true, z_hat, *, regressor="gradient_boosting", split="held_out", test_size=0.5,
        random_state=0, train=None) -> dict:
    """Disentanglement, completeness and informativeness with a regressor (§1.4).

    For each factor ``j`` a regressor from the standardised codes to the
    (standardised) factor is fitted on the train rows; its absolute
    importances form column ``j`` of the importance matrix ``R`` (d_hat, K).
    ``"gradient_boosting"`` uses ``GradientBoostingRegressor`` (100 trees of
    depth 3, seeded) and its impurity importances; ``"lasso"`` uses
    ``LassoCV`` (3-fold) and ``|coef|``.

    - Disentanglement: ``P_ij = R_ij / sum_k R_ik``, ``D_i = 1 - H_K(P_i.)``
      (entropy in log base K), ``D = sum_i rho_i D_i`` with
      ``rho_i = sum_j R_ij / sum_ij R_ij``.
    - Completeness: ``P~_ij = R_ij / sum_i R_ij``, ``C_j = 1 - H_{d_hat}(P~_.j)``,
      ``C = sum_j w_j C_j`` with ``w_j`` the factor's share of the total
      importance (as disentanglement_lib).
    - Informativeness: mean test R² of the same regressors.

    A code (factor) whose importances are all zero gets a uniform
    distribution (and weight 0). If every importance is zero the weights
    ``rho`` and ``w`` are uniform (disentanglement_lib's fallback) and
    ``all_zero_importance`` is True.

    Parameters
    ----------
    z_true : array_like of shape (n_samples, K), K >= 2
    z_hat : array_like of shape (n_samples, d_hat), d_hat >= 2
    regressor : {"gradient_boosting", "lasso"}
    split, test_size, random_state, train
        As in :func:`identifiability.latent_metrics.mcc_details`;
        ``random_state`` also seeds the regressors.

    Returns
    -------
    dict
        ``disentanglement``, ``completeness`` (floats in [0, 1]),
        ``informativeness`` (mean test R², ≤ 1, may be negative),
        ``informativeness_mse`` (mean test MSE of the standardised factors),
        ``importance`` (ndarray (d_hat, K)), ``per_code_disentanglement``
        (d_hat,), ``code_weights`` (d_hat,), ``per_factor_completeness`` (K,),
        ``factor_weights`` (K,), ``per_factor_r2`` (K,), ``per_factor_mse``
        (K,), ``all_zero_importance`` (bool), ``d``, ``d_hat`` and
        ``conventions``.
    """
    check_choice(regressor, "regressor", _DCI_REGRESSORS)
    zt_tr, zh_tr, zt_te, zh_te, rng, conv = _split_rows(
        z_true, z_hat, split=split, test_size=test_size, random_state=random_state, train=train
    )
    K, d_hat = zt_tr.shape[1], zh_tr.shape[1]
    if K < 2:
        raise ValidationError(f"z_true: DCI needs K >= 2 factors (entropy in log base K), got shape {zt_tr.shape}")
    if d_hat < 2:
        raise ValidationError(
            f"z_hat: DCI needs d_hat >= 2 codes (entropy in log base d_hat), got shape {zh_tr.shape}"
        )
    seed = _seed(rng)
    Htr, _ = _standardize(zh_tr)
    Hte, _ = _standardize(zh_te, zh_tr)
    Ytr, _ = _standardize(zt_tr)
    Yte, _ = _standardize(zt_te, zt_tr)
    R = np.zeros((d_hat, K))
    r2 = np.zeros(K)
    mse = np.zeros(K)
    for j in range(K):
        model = _dci_model(regressor, seed).fit(Htr, Ytr[:, j])
        R[:, j] = np.abs(model.feature_importances_ if regressor == "gradient_boosting" else model.coef_)
        pred = model.predict(Hte)
        r2[j] = _r2(Yte[:, j], pred)
        mse[j] = float(np.mean((Yte[:, j] - pred) ** 2))
    total = R.sum()
    all_zero = not total > 0
    if all_zero:
        logger.warning("dci: every importance is zero; weighting codes and factors uniformly")
    D_i = np.clip(1.0 - _entropy(_normalise(R, axis=1), K, axis=1), 0.0, 1.0)
    C_j = np.clip(1.0 - _entropy(_normalise(R, axis=0), d_hat, axis=0), 0.0, 1.0)
    rho = np.full(d_hat, 1.0 / d_hat) if all_zero else R.sum(axis=1) / total
    w = np.full(K, 1.0 / K) if all_zero else R.sum(axis=0) / total
    conv.update(regressor=regressor, importance="impurity" if regressor == "gradient_boosting" else "abs_coef",
                completeness_weights="importance_share", inputs="standardised_z_hat")
    return {
        "disentanglement": float(np.clip(rho @ D_i, 0.0, 1.0)),
        "completeness": float(np.clip(w @ C_j, 0.0, 1.0)),
        "informativeness": float(r2.mean()),
        "informativeness_mse": float(mse.mean()),
        "importance": R,
        "per_code_disentanglement": D_i,
        "code_weights": rho,
        "per_factor_completeness": C_j,
        "factor_weights": w,
        "per_factor_r2": r2,
        "per_factor_mse": mse,
        "all_zero_importance": bool(all_zero),
        "d": int(K),
        "d_hat": int(d_hat),
        "conventions": conv,
    }


def _dci_model(regressor: str, seed: int):
    if regressor == "gradient_boosting":
        from sklearn.ensemble import GradientBoostingRegressor

        return GradientBoostingRegressor(random_state=seed)
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import KFold

    return LassoCV(cv=KFold(3, shuffle=True, random_state=seed), n_jobs=1)


def _discretise(A: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins per column over its range; a constant column is one bin."""
    out = np.zeros(A.shape, dtype=int)
    for j in range(A.shape[1]):
        lo, hi = A[:, j].min(), A[:, j].max()
        if hi > lo:
            edges = np.linspace(lo, hi, bins + 1)
            out[:, j] = np.clip(np.searchsorted(edges, A[:, j], side="right") - 1, 0, bins - 1)
    return out


def mig(z_true, z_hat, *, bins=20) -> float:
    """Mutual information gap (§1.5), both sides discretised with equal-width bins.

    ``MIG = (1/K) sum_k [I(z_hat_j1; v_k) - I(z_hat_j2; v_k)] / H(v_k)`` where
    ``j1``, ``j2`` are the two codes with the largest mutual information with
    factor ``v_k``. Every code and every factor is discretised into ``bins``
    equal-width bins over its observed range, and mutual information is the
    plug-in estimate (``sklearn.metrics.mutual_info_score``, nats). It is a
    descriptive statistic of all given rows (nothing is fitted). A constant
    factor (``H = 0``) contributes 0 and is logged.

    Parameters
    ----------
    z_true : array_like of shape (n_samples, K)
    z_hat : array_like of shape (n_samples, d_hat), d_hat >= 2
    bins : int >= 2

    Returns
    -------
    float
        In [0, 1]. Values are typically small and depend on ``bins``; compare
        with a null encoder.
    """
    from sklearn.metrics import mutual_info_score

    zt, zh = _check_pair(z_true, z_hat, min_rows=2)
    bins = check_int(bins, "bins", minimum=2)
    if zh.shape[1] < 2:
        raise ValidationError(f"z_hat: MIG needs d_hat >= 2 codes (a gap between two), got shape {zh.shape}")
    V, C = _discretise(zt, bins), _discretise(zh, bins)
    gaps = np.zeros(V.shape[1])
    for k in range(V.shape[1]):
        H = mutual_info_score(V[:, k], V[:, k])
        if H <= 0:
            logger.info("mig: factor %d is constant; it contributes 0", k)
            continue
        mi = np.sort([mutual_info_score(V[:, k], C[:, j]) for j in range(C.shape[1])])[::-1]
        gaps[k] = (mi[0] - mi[1]) / H
    return float(np.clip(gaps.mean(), 0.0, 1.0))
