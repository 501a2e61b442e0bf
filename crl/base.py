"""Learner base class and the ``Claim`` type.

Learners follow scikit-learn's estimator contract: ``__init__`` stores its
arguments verbatim (no validation, no logic), ``fit`` validates and returns
``self``, fitted state lives in attributes with a trailing underscore, and
``get_params`` / ``set_params`` / :func:`sklearn.base.clone` work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sklearn.base import BaseEstimator

from crl.exceptions import NotFittedError, ValidationError
from crl.frozen import FrozenDict

__all__ = ["EQUIVALENCES", "Claim", "BaseLearner", "check_is_fitted"]

#: Equivalence classes known to the evaluators (see ``identifiability``).
EQUIVALENCES = (
    "permutation_scaling",
    "permutation_monotone",
    "affine",
    "block",
    "ancestors",
    "mec",
    "latent_relabeling",
)


@dataclass(frozen=True)
class Claim:
    """What a learner claims to recover, and under which assumptions.

    Parameters
    ----------
    equivalence : str or tuple of str
        One or more names from :data:`EQUIVALENCES`; a tuple means the
        estimate is identified up to the composition of the classes
        (e.g. ``("mec", "latent_relabeling")`` for RLCD).
    requires : mapping
        Assumptions as ``{setting_key: allowed}``; ``allowed`` is a value or a
        tuple of allowed values, compared with ``Problem.setting[setting_key]``.
    reference : str
        The paper or theorem the claim rests on.
    """

    equivalence: str | tuple[str, ...]
    requires: Mapping[str, object] = field(default_factory=dict)
    reference: str = ""

    def __post_init__(self):
        names = (self.equivalence,) if isinstance(self.equivalence, str) else tuple(self.equivalence)
        unknown = [n for n in names if n not in EQUIVALENCES]
        if not names or unknown:
            raise ValidationError(
                f"equivalence: expected names from {list(EQUIVALENCES)}, got {self.equivalence!r}"
            )
        object.__setattr__(self, "equivalence", names[0] if len(names) == 1 else names)
        object.__setattr__(self, "requires", FrozenDict(dict(self.requires)))

    @property
    def classes(self) -> tuple[str, ...]:
        """The equivalence class names as a tuple."""
        return (self.equivalence,) if isinstance(self.equivalence, str) else self.equivalence

    def unmet(self, setting: Mapping[str, object]) -> list[str]:
        """Return one message per requirement that ``setting`` does not satisfy.

        A key missing from ``setting`` counts as unmet: an assumption that
        nobody stated is not an assumption that holds.
        """
        problems = []
        for key, allowed in self.requires.items():
            allowed_values = allowed if isinstance(allowed, tuple) else (allowed,)
            if key not in setting:
                problems.append(f"{key}: required {allowed!r}, not stated by the setting")
            elif setting[key] not in allowed_values:
                problems.append(f"{key}: required {allowed!r}, setting has {setting[key]!r}")
        return problems


def check_is_fitted(estimator, attributes: str | tuple[str, ...]) -> None:
    """Raise :class:`NotFittedError` unless every attribute in ``attributes`` exists."""
    attributes = (attributes,) if isinstance(attributes, str) else attributes
    missing = [a for a in attributes if not hasattr(estimator, a)]
    if missing:
        raise NotFittedError(
            f"{type(estimator).__name__} is not fitted yet (missing {missing}); call fit first"
        )


class BaseLearner(BaseEstimator):
    """Base class of every learner.

    Subclasses set the class attribute ``claims`` (a :class:`Claim`) and
    implement ``fit``. Hyperparameters are keyword arguments of ``__init__``
    stored under the same names, which is what makes ``get_params`` and
    ``clone`` work.
    """

    claims: Claim | None = None

    def fit(self, X, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.fit is not implemented")
