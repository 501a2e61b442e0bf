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
R² readouts live in :mod:`identifiability.readouts` (:func:`r2_readout` is
re-exported here); the protocol helpers in :mod:`identifiability._protocol`.
"""

from __future__ import annotations

import logging
import numbers

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
from identifiability._protocol import _as_2d, _cross_corr, _split_rows, _standardize
from identifiability.readouts import KERNEL_RIDGE_MAX_CV, KERNEL_RIDGE_MAX_TRAIN, r2_readout

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

_CORRELATIONS = ("pearson", "spearman")


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
