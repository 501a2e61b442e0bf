"""Small argument validators shared by simulators and learners.

Each raises :class:`crl.exceptions.ValidationError` (or :class:`UnknownNameError`)
with a message that names the argument, what was expected and what was received.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

from crl.exceptions import UnknownNameError, ValidationError

__all__ = [
    "check_random_state",
    "check_int",
    "check_float",
    "check_interval",
    "check_choice",
    "check_array",
    "check_square",
    "check_level",
    "check_node_names",
]


def check_random_state(random_state) -> np.random.Generator:
    """Turn ``random_state`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` gives fresh OS entropy; an int or SeedSequence seeds a new PCG64
        generator; a Generator is returned as is (shared state, by design).
    """
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, numbers.Integral) and int(random_state) < 0:
            raise ValidationError(f"random_state: expected a non-negative int, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise ValidationError(
        "random_state: expected None, an int, a numpy SeedSequence or a numpy Generator, "
        f"got {type(random_state).__name__}"
    )


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int within ``[minimum, maximum]``; bools are rejected."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{name}: expected an int, got {type(value).__name__} ({value!r})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name}: expected an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name}: expected an int <= {maximum}, got {value}")
    return value


def check_float(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
) -> float:
    """Return ``value`` as a finite float within bounds (``strict_min`` excludes the minimum)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(f"{name}: expected a real number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not np.isfinite(value):
        raise ValidationError(f"{name}: expected a finite number, got {value}")
    if minimum is not None and (value < minimum or (strict_min and value == minimum)):
        op = ">" if strict_min else ">="
        raise ValidationError(f"{name}: expected a number {op} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name}: expected a number <= {maximum}, got {value}")
    return value


def check_interval(value, name: str, *, positive: bool = False) -> tuple[float, float]:
    """Return ``value`` as a pair ``(low, high)`` of finite floats with ``low <= high``."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name}: expected a pair (low, high), got {value!r}") from None
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise ValidationError(f"{name}: expected finite low <= high, got ({low}, {high})")
    if positive and low <= 0:
        raise ValidationError(f"{name}: expected 0 < low <= high, got ({low}, {high})")
    return low, high


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`UnknownNameError`."""
    choices = list(choices)
    if value not in choices:
        raise UnknownNameError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def check_array(
    X,
    name: str = "X",
    *,
    ndim: int | Sequence[int] = 2,
    dtype=float,
    min_rows: int = 1,
    allow_nan: bool = False,
) -> np.ndarray:
    """Convert ``X`` to a numpy array and check dimension, size and finiteness.

    pandas objects are accepted (their values are used; column names are the
    caller's business). Returns a new array only when conversion needs one.
    """
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}: expected a numeric array, got {type(X).__name__} ({exc})") from None
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in ndims:
        raise ValidationError(f"{name}: expected an array with ndim in {ndims}, got shape {arr.shape}")
    if arr.ndim >= 1 and arr.shape[0] < min_rows:
        raise ValidationError(f"{name}: expected at least {min_rows} rows, got {arr.shape[0]}")
    if not allow_nan and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValidationError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    return arr


def check_square(A, name: str = "A") -> np.ndarray:
    """Return ``A`` as a finite square 2-D float array."""
    A = check_array(A, name, ndim=2, min_rows=0)
    if A.shape[0] != A.shape[1]:
        raise ValidationError(f"{name}: expected a square matrix, got shape {A.shape}")
    return A


def check_level(value, name: str = "alpha") -> float:
    """A significance level in the open interval (0, 1)."""
    value = check_float(value, name, minimum=0.0, strict_min=True)
    if value >= 1:
        raise ValidationError(f"{name}: expected a significance level in (0, 1), got {value}")
    return value


def check_node_names(feature_names, columns, p: int, what: str = "X") -> list:
    """Names of ``p`` columns: ``feature_names``, else a DataFrame's ``columns``, else ``X1..Xp``.

    ``what`` names the array the columns belong to (used in messages about its columns).
    """
    if feature_names is not None:
        names, what = list(feature_names), "feature_names"
    elif columns is not None:
        names, what = list(columns), f"{what}.columns"
    else:
        names, what = [f"X{i + 1}" for i in range(p)], "feature_names"
    if len(names) != p:
        raise ValidationError(f"{what}: expected {p} names (one per column), got {len(names)}")
    try:
        distinct = len(set(names))
    except TypeError:
        raise ValidationError(f"{what}: expected hashable node names, got {names!r}") from None
    if distinct != p:
        dup = sorted({str(v) for v in names if names.count(v) > 1})
        raise ValidationError(f"{what}: expected {p} distinct names, got duplicates {dup}")
    return names
