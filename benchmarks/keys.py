"""Task keys and resolved task configs of the benchmark harness.

The runner computes a task's key with :func:`task_key` from the config built by
:func:`task_config`, and skips the keys already in the results store
(:mod:`benchmarks.store`). :func:`package_versions` gives the provenance stored with each
task. Nothing here touches the results file.

Resolved task config
--------------------
A task is fully described by its *resolved config*: a JSON-like mapping in which every
default has been filled in, so that two configs that compute the same thing are equal.
:func:`task_config` builds one; :meth:`benchmarks.store.ResultsStore.record` reads
these keys:

``suite`` : str or None
    Name of the suite the task came from (``None`` for ad-hoc runs).
``scenario`` : str
    Registered scenario (simulator) name.
``scenario_params`` : mapping
    Every scenario parameter, defaults included (sample size, dimensions, noise, ...).
``learner`` : str
    Registered learner name.
``learner_params`` : mapping
    Every learner hyper-parameter, defaults included.
``seed`` : int
    The task's seed (data and learner randomness derive from it).
``evaluate`` : mapping, optional
    Evaluator conventions that change the scores (options of
    ``identifiability.evaluate``): held-out split, metric options, thresholds, the null
    baseline and its number of draws, ...

Any other key (e.g. the suite's ``scenario_label``/``learner_label``) is stored and
hashed too. Keep out of the config whatever does not change
the results (engine, ``--jobs``, the store path, package versions): such a field would
change the key, and finished tasks would be recomputed. Package versions are stored per
task (``versions`` column) but are not part of the key, so an upgrade does not invalidate
a store; put a ``revision`` field in the suite to force recomputation on purpose.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import numbers
import os
import platform
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from crl.exceptions import ValidationError

__all__ = [
    "KEY_LENGTH",
    "package_versions",
    "task_config",
    "task_key",
]

logger = logging.getLogger(__name__)

#: Number of hexadecimal characters of a task key (80 bits of SHA-256).
KEY_LENGTH = 20


# --------------------------------------------------------------------------- task keys


def _jsonable(obj: Any, where: str, *, for_key: bool) -> Any:
    """Return ``obj`` as plain JSON types; ``for_key`` also merges equal numbers (1 == 1.0)."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (str, bool)):
        return str(obj) if isinstance(obj, str) else obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        value = float(obj)
        if for_key and value.is_integer():
            return int(value)  # 1.0 -> 1 and -0.0 -> 0: equal numbers give equal keys
        return value
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if isinstance(k, np.str_):
                k = str(k)
            if not isinstance(k, str):
                raise ValidationError(
                    f"{where}: expected str keys, got {type(k).__name__} key {k!r}"
                )
            out[k] = _jsonable(v, f"{where}[{k!r}]", for_key=for_key)
        return out
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]", for_key=for_key) for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        items = [_jsonable(v, f"{where}{{...}}", for_key=for_key) for v in obj]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise ValidationError(
        f"{where}: expected a JSON-like value (str, int, float, bool, None, mapping, list, "
        f"tuple, set, numpy scalar or array), got {type(obj).__name__} ({obj!r})"
    )


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _check_config(config: Any) -> Mapping:
    if not isinstance(config, Mapping):
        raise ValidationError(f"config: expected a mapping, got {type(config).__name__}")
    return config


def task_key(config: Mapping[str, Any]) -> str:
    """Stable key of a task: the start of the SHA-256 of its canonical JSON.

    Parameters
    ----------
    config : mapping
        The task's resolved config (see the module docstring and :func:`task_config`):
        str keys; values str, int, float, bool, None, mappings, lists, tuples, sets,
        numpy scalars or arrays, nested freely.

    Returns
    -------
    str
        :data:`KEY_LENGTH` lowercase hexadecimal characters.

    Notes
    -----
    The canonical JSON sorts mapping keys at every level (their order does not matter),
    writes tuples and numpy arrays as lists, numpy scalars as Python numbers, sets as
    sorted lists, and floats by ``repr`` (shortest round trip, the same on every
    platform). Numbers that compare equal hash equally (``1``, ``1.0``, ``np.int64(1)``;
    ``0.0`` and ``-0.0``), but ``True`` is not ``1``. NaN and infinities are allowed.

    Raises
    ------
    ValidationError
        ``config`` is not a mapping, or holds a non-str key or an unsupported value; the
        message names where.
    """
    canonical = _jsonable(_check_config(config), "config", for_key=True)
    digest = hashlib.sha256(_dumps(canonical).encode("ascii")).hexdigest()
    return digest[:KEY_LENGTH]


def task_config(
    *,
    scenario: str,
    learner: str,
    seed: int,
    suite: str | None = None,
    scenario_params: Mapping[str, Any] | None = None,
    learner_params: Mapping[str, Any] | None = None,
    evaluate: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build a resolved task config in the layout :meth:`ResultsStore.record` reads.

    Parameters
    ----------
    scenario, learner : str
        Registered scenario and learner names.
    seed : int
        The task's seed.
    suite : str or None
        Suite name; ``None`` for ad-hoc runs.
    scenario_params, learner_params : mapping or None
        Every parameter, defaults resolved; ``None`` means none.
    evaluate : mapping or None
        Evaluator options that change the scores (split, metrics, null baseline); stored
        under ``"evaluate"``.
    **extra
        Further fields that change the results (e.g. ``revision``); they enter the key.

    Returns
    -------
    dict
        A JSON-ready dict (numpy values and tuples converted); pass it to :func:`task_key`
        and :meth:`~benchmarks.store.ResultsStore.record`.
    """
    config = {
        "suite": suite,
        "scenario": scenario,
        "scenario_params": dict(scenario_params or {}),
        "learner": learner,
        "learner_params": dict(learner_params or {}),
        "seed": seed,
        **extra,
    }
    if evaluate is not None:
        config["evaluate"] = dict(evaluate)
    config = _jsonable(config, "config", for_key=False)
    _task_columns(config)
    return config


def _task_columns(config: Mapping[str, Any]) -> tuple[str | None, str, str, dict, int]:
    """``(suite, scenario, learner, params, seed)`` of a resolved config, validated."""
    for name in ("scenario", "learner", "seed"):
        if name not in config:
            raise ValidationError(
                f"config: missing required key {name!r} (a resolved task config has suite, "
                f"scenario, scenario_params, learner, learner_params, seed); got keys "
                f"{sorted(config)}"
            )
    suite = config.get("suite")
    if suite is not None and not isinstance(suite, str):
        raise ValidationError(f"config['suite']: expected a str or None, got {suite!r}")
    for name in ("scenario", "learner"):
        value = config[name]
        if not isinstance(value, str) or not value:
            raise ValidationError(f"config[{name!r}]: expected a non-empty str, got {value!r}")
    seed = config["seed"]
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise ValidationError(f"config['seed']: expected an int, got {seed!r}")
    params = {}
    for name in ("scenario", "learner"):
        value = config.get(f"{name}_params")
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"config[{name + '_params'!r}]: expected a mapping, got {type(value).__name__}"
            )
        params[name] = value
    return suite, config["scenario"], config["learner"], params, int(seed)


# --------------------------------------------------------------------------- versions


@lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    found = {"python": platform.python_version()}
    for dist in ("crl-toolkit", "numpy", "scipy", "networkx", "scikit-learn", "causal-learn",
                 "cvxpy", "torch"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            logger.debug("package_versions: %s is not installed", dist)
    return tuple(found.items())


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape results, for provenance.

    Returns
    -------
    dict
        ``python`` plus ``crl-toolkit``, ``numpy``, ``scipy``, ``networkx``,
        ``scikit-learn``, ``causal-learn``, ``cvxpy`` and ``torch`` where installed (read
        from the installed metadata: nothing is imported, torch included). Computed once
        per process.
    """
    return dict(_versions())
