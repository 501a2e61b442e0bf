"""Validation, row splitting and standardisation shared by the fitted latent metrics.

Private helpers of :mod:`identifiability.latent_metrics`,
:mod:`identifiability.readouts` and :mod:`identifiability.disentanglement`.
They implement the protocol shared by every fitted metric (MCC, weak MCC,
R² readouts, DCI):

- ``split="held_out"`` (default): the rows are shuffled with ``random_state``
  and ``test_size`` of them are held out; alignments, CCA and regressors are
  fitted on the train rows and the score is computed on the test rows.
- ``split="in_sample"``: fit and score on the same rows (comparison with
  papers only; labelled as such in the returned conventions).
- ``train=(z_true_train, z_hat_train)``: explicit train rows; every row passed
  as ``z_true``/``z_hat`` is then a test row.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_array, check_choice, check_float, check_random_state

__all__: list[str] = []  # private helpers only, imported by name inside identifiability

_SPLITS = ("held_out", "in_sample")


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


def _r2(y, pred) -> float:
    """Test R² = 1 - SSE/SST; a constant test target gives 1 if predicted exactly, else 0."""
    sst = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum((y - pred) ** 2))
    if sst <= 1e-24 * max(1.0, float(np.sum(y**2))):
        return 1.0 if sse <= 1e-24 * max(1.0, float(np.sum(y**2))) else 0.0
    return 1.0 - sse / sst
