"""Causal representation learning toolkit: learners and the shared vocabulary.

``import crl`` is light: learners are imported on first access
(``crl.LinearCD``), so torch is loaded only by the deep learners.
"""

from __future__ import annotations

import importlib

from crl.exceptions import (
    ConfigError,
    CRLError,
    CyclicGraphError,
    DegenerateDataWarning,
    GraphTypeError,
    IdentifiabilityWarning,
    NotFittedError,
    NotIdentifiableError,
    UnknownNameError,
    ValidationError,
)

__version__ = "0.1.0"

#: Learner name -> module that defines it. A learner is available once its module exists.
_LEARNERS: dict[str, str] = {
    "LinearCD": "crl.linear",
    "RLCD": "crl.rank",
    "OLC": "crl.cumulant",
    "Rep4Ex": "crl.rep4ex",
}

# Loaded on first access: crl.base pulls in scikit-learn, which `import crl` should not pay for.
_LAZY = {"EQUIVALENCES": "crl.base", "BaseLearner": "crl.base", "Claim": "crl.base"}

__all__ = [
    "EQUIVALENCES",
    "BaseLearner",
    "Claim",
    "CRLError",
    "ConfigError",
    "CyclicGraphError",
    "DegenerateDataWarning",
    "GraphTypeError",
    "IdentifiabilityWarning",
    "NotFittedError",
    "NotIdentifiableError",
    "UnknownNameError",
    "ValidationError",
    "available_learners",
]


def available_learners() -> list[str]:
    """Names of the learners this installation provides (without importing them)."""
    import importlib.util

    return sorted(name for name, module in _LEARNERS.items() if importlib.util.find_spec(module) is not None)


def __getattr__(name: str):
    module = _LEARNERS.get(name) or _LAZY.get(name)
    if module is not None:
        if name in _LEARNERS and name not in available_learners():
            raise AttributeError(f"crl.{name} is not available yet in this installation ({module} is missing)")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LEARNERS) | set(_LAZY))
