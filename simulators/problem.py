"""The data contract between simulators, learners and evaluators.

A :class:`Problem` separates what a learner may see (``X``, ``views``, ``env``,
``actions``, ``labels``, ``y``) from the ground truth (:class:`Truth`), which
only evaluators read. Row-indexed fields share the first axis of length
``n_samples``; :meth:`Problem.split` and :meth:`Problem.subset` keep them in
step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np

from crl.exceptions import ValidationError
from crl.frozen import FrozenDict
from crl.validation import check_float, check_random_state

__all__ = ["Truth", "Problem"]


def _freeze(mapping: Mapping | None) -> Mapping:
    return FrozenDict(dict(mapping or {}))


@dataclass(frozen=True)
class Truth:
    """Ground truth of a simulated problem; never shown to learners.

    Attributes
    ----------
    Z : ndarray of shape (n_samples, d) or None
        Latent variables, one column per latent (column ``j`` is node
        ``latent_names[j]`` of ``graph``).
    graph : networkx.DiGraph or None
        The causal graph. Nodes carry ``latent: bool``; edges carry
        ``weight`` (and ``mark="-->"``). ``graph.graph["kind"]`` is ``"dag"``
        or ``"latent_dag"``. Adjacency convention: an edge ``u -> v`` means
        ``u`` causes ``v``.
    targets : ndarray of shape (n_envs, d), bool, or None
        ``targets[e, j]`` is True when environment ``e`` intervenes on latent
        ``j`` (row 0 is the observational environment when there is one).
    mixing : ndarray or callable or None
        The map from latents to observations: a matrix ``G`` of shape (p, d)
        with ``X = Z @ G.T``, or a callable ``Z -> X``.
    latent_names : tuple of str
        Names of the columns of ``Z`` (nodes of ``graph``).
    noise : mapping of str to ndarray
        Row-indexed exogenous variables (first axis ``n_samples``), e.g. the
        SCM noises needed for counterfactuals. Split with the rows.
    params : mapping
        Everything else that defines the model (weights, environments' B
        matrices, mixing parameters, ...). Not row-indexed.
    """

    Z: np.ndarray | None = None
    graph: nx.DiGraph | None = None
    targets: np.ndarray | None = None
    mixing: Any = None
    latent_names: tuple[str, ...] = ()
    noise: Mapping[str, np.ndarray] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "latent_names", tuple(self.latent_names))
        object.__setattr__(self, "noise", _freeze(self.noise))
        object.__setattr__(self, "params", _freeze(self.params))


_ROW_FIELDS = ("X", "env", "actions", "labels", "y")


@dataclass(frozen=True)
class Problem:
    """A simulated CRL problem: observations for the learner, truth for the evaluator.

    Attributes
    ----------
    X : ndarray of shape (n_samples, p) or None
        Observations; ``None`` for multi-view problems (see ``views``).
    views : tuple of ndarray of shape (n_samples, p_k), or None
        One array per view for multi-view problems.
    env : ndarray of shape (n_samples,), int
        Environment (context) of each row; 0 is observational.
    actions : ndarray of shape (n_samples, k) or None
        Exogenous actions (intervention-extrapolation problems).
    labels : ndarray of shape (n_samples, m) or None
        Observed factor labels (weak supervision).
    y : ndarray of shape (n_samples,) or None
        Outcome.
    truth : Truth
        Ground truth; learners never see it.
    setting : mapping
        The assumptions that hold, as data (``latent_model``, ``mixing``,
        ``interventions``, ``targets_known``, ``one_per_latent``, ...).
    name : str
        Scenario or generator that produced the problem.
    feature_names : tuple of str
        Names of the columns of ``X`` (observed nodes of ``truth.graph`` when
        the graph is over observed variables).
    diagnostics : mapping
        Dataset diagnostics such as ``var_sortability`` and ``r2_sortability``.
    statistics : mapping
        Summary statistics a learner may see instead of rows (e.g.
        ``{"precisions": (n_contexts, p, p), "n_per_context": ...}`` when a
        generator draws sample statistics directly); empty otherwise.
    """

    X: np.ndarray | None
    env: np.ndarray
    truth: Truth
    setting: Mapping[str, Any]
    views: tuple[np.ndarray, ...] | None = None
    actions: np.ndarray | None = None
    labels: np.ndarray | None = None
    y: np.ndarray | None = None
    name: str = ""
    feature_names: tuple[str, ...] = ()
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    statistics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.views is not None:
            object.__setattr__(self, "views", tuple(self.views))
        object.__setattr__(self, "setting", _freeze(self.setting))
        object.__setattr__(self, "diagnostics", _freeze(self.diagnostics))
        object.__setattr__(self, "statistics", _freeze(self.statistics))
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        object.__setattr__(self, "env", np.asarray(self.env, dtype=np.int64))
        n = self.n_samples
        for name in _ROW_FIELDS:
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValidationError(f"{name}: expected {n} rows, got {len(value)}")
        for k, view in enumerate(self.views or ()):
            if len(view) != n:
                raise ValidationError(f"views[{k}]: expected {n} rows, got {len(view)}")
        if self.truth.Z is not None and len(self.truth.Z) != n:
            raise ValidationError(f"truth.Z: expected {n} rows, got {len(self.truth.Z)}")
        for key, value in self.truth.noise.items():
            if len(value) != n:
                raise ValidationError(f"truth.noise[{key!r}]: expected {n} rows, got {len(value)}")

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return int(self.env.shape[0])

    @property
    def n_envs(self) -> int:
        """Number of environments (largest index + 1; from the targets when there are no rows)."""
        if self.n_samples:
            return int(self.env.max()) + 1
        return 0 if self.truth.targets is None else int(len(self.truth.targets))

    def subset(self, rows) -> Problem:
        """Return the problem restricted to ``rows`` (index array or boolean mask)."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.shape != (self.n_samples,):
                raise ValidationError(
                    f"rows: expected a boolean mask of length {self.n_samples}, got shape {rows.shape}"
                )
            rows = np.flatnonzero(rows)

        def take(a):
            return None if a is None else a[rows]

        truth = replace(
            self.truth,
            Z=take(self.truth.Z),
            noise={k: v[rows] for k, v in self.truth.noise.items()},
        )
        changes = {name: take(getattr(self, name)) for name in _ROW_FIELDS}
        changes["env"] = self.env[rows]
        if self.views is not None:
            changes["views"] = tuple(v[rows] for v in self.views)
        return replace(self, truth=truth, **changes)

    def split(self, test_size: float = 0.25, *, random_state=None, stratify: bool = True):
        """Split rows into a training and a held-out problem.

        Parameters
        ----------
        test_size : float in (0, 1)
            Fraction of rows held out.
        random_state : None, int or Generator
            Seed of the row shuffle.
        stratify : bool
            Keep the environment proportions in both parts.

        Returns
        -------
        train, test : Problem
        """
        test_size = check_float(test_size, "test_size", minimum=0.0, maximum=1.0, strict_min=True)
        if test_size >= 1.0:
            raise ValidationError(f"test_size: expected a number in (0, 1), got {test_size}")
        rng = check_random_state(random_state)
        groups = [np.flatnonzero(self.env == e) for e in np.unique(self.env)] if stratify else [
            np.arange(self.n_samples)
        ]
        test = []
        for idx in groups:
            idx = rng.permutation(idx)
            test.append(idx[: int(round(test_size * len(idx)))])
        test_rows = np.sort(np.concatenate(test))
        mask = np.zeros(self.n_samples, dtype=bool)
        mask[test_rows] = True
        return self.subset(~mask), self.subset(mask)

    def learner_inputs(self) -> dict[str, Any]:
        """The fields a learner may see, as keyword arguments (``None`` ones left out)."""
        out = {name: getattr(self, name) for name in ("X", "env", "views", "actions", "labels", "y")}
        if self.views is not None:
            out["views"] = list(self.views)
        if self.n_samples == 0:
            out.pop("env")
        return {k: v for k, v in out.items() if v is not None}

    def summary(self) -> dict[str, Any]:
        """A flat description: sizes, setting and diagnostics (for the CLI and logs)."""
        info: dict[str, Any] = {"name": self.name, "n_samples": self.n_samples, "n_envs": self.n_envs}
        if self.X is not None:
            info["n_features"] = int(self.X.shape[1]) if self.X.ndim == 2 else tuple(self.X.shape[1:])
        if self.views is not None:
            info["view_dims"] = [int(v.shape[1]) for v in self.views]
        if self.truth.Z is not None:
            info["n_latents"] = int(self.truth.Z.shape[1])
        g = self.truth.graph
        if g is not None:
            info["graph_nodes"] = g.number_of_nodes()
            info["graph_edges"] = g.number_of_edges()
            info["hidden_nodes"] = sum(1 for _, d in g.nodes(data=True) if d.get("latent", False))
        for name in ("actions", "labels", "y"):
            value = getattr(self, name)
            if value is not None:
                info[f"{name}_shape"] = tuple(np.shape(value))
        for key, value in self.statistics.items():
            info[f"statistics.{key}"] = tuple(np.shape(value)) if np.ndim(value) else value
        info.update({f"setting.{k}": v for k, v in self.setting.items()})
        info.update({f"diagnostics.{k}": v for k, v in self.diagnostics.items()})
        return info
