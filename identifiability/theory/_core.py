"""Shared core of :mod:`identifiability.theory`: the result type, the coarseness order, checks.

:class:`Identifiability` is what every theory function returns;
:data:`COARSENESS` and :func:`finer_or_equal` implement the coarseness order
described in the :mod:`identifiability.theory` docstring. The private
validation helpers (target matrices, latent names, DAG arguments) are shared
by the topic modules of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from crl.base import EQUIVALENCES
from crl.exceptions import GraphTypeError, ValidationError
from crl.frozen import FrozenDict

__all__ = ["Identifiability", "COARSENESS", "finer_or_equal"]

_INTERVENTION_KINDS = ("perfect", "soft", "scale", "shift")
_NOT_COVERED = "no theorem in the toolkit covers"


@dataclass(frozen=True)
class Identifiability:
    """What a setting identifies and why.

    Attributes
    ----------
    identifiable : bool
        Whether the toolkit's theory identifies the model (or, for block
        results, at least one block) in this setting.
    equivalence : str, tuple of str or None
        Class(es) from :data:`crl.base.EQUIVALENCES` up to which it is
        identified; a tuple is a composition. ``None`` when nothing is claimed.
    reason : str
        Human-readable justification citing the result used.
    blocks : tuple of frozenset
        Identifiable blocks of latent indices, where relevant.
    details : mapping
        Specifics: latents without interventions, jointly identified latents,
        violated graphical conditions, ...
    reference : str
        The note (and section) the reason rests on.
    """

    identifiable: bool
    equivalence: str | tuple[str, ...] | None
    reason: str
    blocks: tuple[frozenset, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""

    def __post_init__(self):
        if self.equivalence is not None:
            names = (self.equivalence,) if isinstance(self.equivalence, str) else tuple(self.equivalence)
            unknown = [n for n in names if n not in EQUIVALENCES]
            if not names or unknown:
                raise ValidationError(
                    f"equivalence: expected names from {list(EQUIVALENCES)} or None, got {self.equivalence!r}"
                )
            object.__setattr__(self, "equivalence", names[0] if len(names) == 1 else names)
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValidationError(f"reason: expected a non-empty string, got {self.reason!r}")
        object.__setattr__(self, "identifiable", bool(self.identifiable))
        object.__setattr__(self, "blocks", tuple(frozenset(b) for b in self.blocks))
        object.__setattr__(self, "details", FrozenDict(dict(self.details)))

    @property
    def classes(self) -> tuple[str, ...]:
        """The equivalence class names as a tuple (empty when ``equivalence`` is None)."""
        if self.equivalence is None:
            return ()
        return (self.equivalence,) if isinstance(self.equivalence, str) else self.equivalence

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (blocks as sorted lists) for reports and logs."""
        return {
            "identifiable": self.identifiable,
            "equivalence": self.equivalence,
            "reason": self.reason,
            "blocks": [sorted(b) for b in self.blocks],
            "details": dict(self.details),
            "reference": self.reference,
        }


# --------------------------------------------------------------------------- coarseness

_COARSER_EDGES = (
    ("permutation_scaling", "permutation_monotone"),
    ("permutation_monotone", "block"),
    ("permutation_scaling", "affine"),
    ("permutation_scaling", "ancestors"),
)


def _coarseness() -> Mapping[str, frozenset]:
    order = nx.DiGraph(_COARSER_EDGES)
    order.add_nodes_from(EQUIVALENCES)
    return FrozenDict({c: frozenset(nx.descendants(order, c) | {c}) for c in EQUIVALENCES})


#: Each class mapped to the classes at least as coarse as it (itself included).
COARSENESS: Mapping[str, frozenset] = _coarseness()


def _as_classes(value, name: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    unknown = [n for n in names if n not in EQUIVALENCES]
    if not names or unknown:
        raise ValidationError(f"{name}: expected names from {list(EQUIVALENCES)}, got {value!r}")
    return names


def finer_or_equal(fine, coarse) -> bool:
    """Whether class ``fine`` is at least as fine as class ``coarse`` (see the :mod:`identifiability.theory` docstring).

    Parameters
    ----------
    fine, coarse : str or tuple of str
        Equivalence class names; a tuple is a composition.

    Returns
    -------
    bool
    """
    fine, coarse = _as_classes(fine, "fine"), _as_classes(coarse, "coarse")
    return all(any(c in COARSENESS[f] for c in coarse) for f in fine)


# --------------------------------------------------------------------------- validation


def _check_bool_matrix(targets, name: str = "targets") -> np.ndarray:
    arr = np.asarray(targets)
    if arr.dtype != bool:
        raise ValidationError(
            f"{name}: expected a boolean array of shape (n_envs, d), got dtype {arr.dtype} "
            "(convert 0/1 entries with .astype(bool))"
        )
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValidationError(f"{name}: expected a boolean array of shape (n_envs, d), got shape {arr.shape}")
    return arr


def _check_names(names, d: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"latent {j}" for j in range(d))
    names = tuple(str(n) for n in names)
    if len(names) != d:
        raise ValidationError(f"names: expected {d} latent names, got {len(names)}")
    return names


def _fmt(idx, names) -> str:
    return ", ".join(names[j] for j in sorted(idx))


def _check_dag_arg(graph, d: int | None, name: str = "graph") -> np.ndarray:
    if isinstance(graph, nx.DiGraph):
        A = nx.to_numpy_array(graph, nodelist=list(graph.nodes), weight=None)
    else:
        A = np.asarray(graph, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or (d is not None and A.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "square"
        raise ValidationError(f"{name}: expected a DiGraph or adjacency of shape {want}, got shape {A.shape}")
    if not nx.is_directed_acyclic_graph(nx.DiGraph(A != 0)):
        raise GraphTypeError(f"{name}: expected a DAG, got a graph with a directed cycle")
    return A != 0


def _check_latent_digraph(graph, name: str = "graph") -> nx.DiGraph:
    if not isinstance(graph, nx.DiGraph):
        raise ValidationError(f"{name}: expected a networkx.DiGraph with 'latent' node flags, got {type(graph).__name__}")
    if not nx.is_directed_acyclic_graph(graph):
        raise GraphTypeError(f"{name}: expected a DAG, got a graph with a directed cycle")
    return graph
