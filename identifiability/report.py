"""The :class:`Report` returned by :func:`identifiability.evaluate`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crl.frozen import FrozenDict

__all__ = ["Report"]


def _plain(value):
    """JSON-friendly scalars: numpy scalars to Python, NaN kept as None."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class Report:
    """Scores of one fitted learner on one problem, up to an equivalence class.

    Attributes
    ----------
    learner : str
        Class name of the learner.
    problem : str
        Name of the problem (scenario).
    equivalence : str or tuple of str
        The class the estimate was aligned and scored under.
    identifiable : bool
        What the theory says about the problem's setting.
    reason : str
        Why (the result cited, or why no theorem applies).
    scores : mapping of str to float
        Scores after alignment, on held-out rows where rows exist.
    null : mapping of str to float
        The same scores for the null baseline (random encoder or
        density-matched random graph), key by key.
    conventions : mapping
        Every convention the scores depend on (``correlation``, ``split``,
        ``reversal_cost``, ``compare``, ``matching``, ...).
    warnings : tuple of str
        Unmet assumptions of the learner's claim, claims finer than the
        theory allows, and other caveats.
    details : mapping
        Non-scalar results (alignment permutation, latent mapping, ...).
    """

    learner: str
    problem: str
    equivalence: str | tuple[str, ...]
    identifiable: bool
    reason: str
    scores: Mapping[str, float] = field(default_factory=dict)
    null: Mapping[str, float] = field(default_factory=dict)
    conventions: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        for name in ("scores", "null", "conventions", "details"):
            object.__setattr__(self, name, FrozenDict(dict(getattr(self, name))))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-friendly dict (details excluded; they may hold arrays)."""
        eq = self.equivalence if isinstance(self.equivalence, str) else "+".join(self.equivalence)
        return {
            "learner": self.learner,
            "problem": self.problem,
            "equivalence": eq,
            "identifiable": self.identifiable,
            "reason": self.reason,
            "scores": {k: _plain(v) for k, v in self.scores.items()},
            "null": {k: _plain(v) for k, v in self.null.items()},
            "conventions": {k: _plain(v) for k, v in self.conventions.items()},
            "warnings": list(self.warnings),
        }

    def to_frame(self):
        """One row per score: ``metric``, ``value``, ``null`` (a pandas DataFrame)."""
        import pandas as pd

        rows = [
            {"metric": k, "value": _plain(v), "null": _plain(self.null.get(k))} for k, v in self.scores.items()
        ]
        return pd.DataFrame(rows, columns=["metric", "value", "null"])

    def __str__(self) -> str:
        eq = self.equivalence if isinstance(self.equivalence, str) else " + ".join(self.equivalence)
        head = (
            f"{self.learner} on {self.problem}: scored up to {eq}; "
            f"{'identifiable' if self.identifiable else 'NOT identifiable'} ({self.reason})"
        )
        width = max((len(k) for k in self.scores), default=0)
        lines = [head]
        for k, v in self.scores.items():
            null = self.null.get(k)
            v_txt = "n/a" if v is None else f"{v:.4g}"
            n_txt = "" if null is None else f"   (null {null:.4g})"
            lines.append(f"  {k:<{width}}  {v_txt}{n_txt}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)
