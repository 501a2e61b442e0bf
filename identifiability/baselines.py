"""Reference learners for checking the evaluators: oracles and null models.

These follow the learner contract (``fit`` / ``transform`` / ``graph_``) so
that :func:`identifiability.evaluate` treats them like any learner. The
oracles are built from a problem's truth on purpose: they show what a
perfect estimate scores under each equivalence class, while the null models
show what chance scores. A method whose scores sit near the null is not
learning anything.
"""

from __future__ import annotations

import numpy as np

from crl.base import BaseLearner, Claim
from crl.exceptions import ValidationError
from crl.validation import check_array, check_random_state

__all__ = ["OracleEncoder", "RandomEncoder", "OracleGraph", "EmptyGraph"]


def _row_key(row: np.ndarray) -> bytes:
    return np.ascontiguousarray(row, dtype=np.float64).tobytes()


class OracleEncoder(BaseLearner):
    """Returns the true latents of each row, distorted within an equivalence class.

    The encoder memorises the problem's (observation row → latent row) table,
    so it works for any mixing (images included); rows it has not seen raise.

    Parameters
    ----------
    problem : simulators.Problem
        The problem whose truth is looked up.
    distortion : {"permutation_scaling", "permutation_monotone", "affine"}
        Applied to the true latents: a random permutation with signed scales
        and shifts; the same followed by an elementwise ``tanh``-type map
        (via ``sinh``, strictly monotone); or a random invertible matrix.
    random_state : None, int or Generator
    """

    def __init__(self, problem=None, *, distortion="permutation_scaling", random_state=0):
        self.problem = problem
        self.distortion = distortion
        self.random_state = random_state

    @property
    def claims(self):
        return Claim(self.distortion)

    def fit(self, X=None, **kwargs):
        P = self.problem
        if P is None or P.truth.Z is None:
            raise ValidationError("problem: expected a Problem with true latents, got none")
        keys = P.views[0] if P.views is not None else P.X
        self.table_ = {_row_key(r): i for i, r in enumerate(np.asarray(keys).reshape(len(keys), -1))}
        rng = check_random_state(self.random_state)
        d = P.truth.Z.shape[1]
        self.permutation_ = rng.permutation(d)
        self.scales_ = rng.uniform(0.5, 2.0, d) * rng.choice([-1.0, 1.0], d)
        self.shift_ = rng.normal(size=d)
        self.matrix_ = rng.normal(size=(d, d)) + 2 * np.eye(d)
        return self

    def transform(self, X=None, *, views=None):
        rows = views[0] if views is not None else X
        rows = np.asarray(rows).reshape(len(rows), -1)
        try:
            idx = np.array([self.table_[_row_key(r)] for r in rows], dtype=np.int64)
        except KeyError:
            raise ValidationError("X: OracleEncoder can only encode rows of the problem it was given") from None
        Z = self.problem.truth.Z[idx]
        if self.distortion == "affine":
            return Z @ self.matrix_.T + self.shift_
        out = Z[:, self.permutation_] * self.scales_ + self.shift_
        return np.sinh(out) if self.distortion == "permutation_monotone" else out


class RandomEncoder(BaseLearner):
    """A random orthogonal projection of the standardised observations (the null encoder).

    Parameters
    ----------
    n_components : int
    random_state : None, int or Generator
    """

    claims = Claim("permutation_scaling")

    def __init__(self, n_components=2, *, random_state=0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X=None, *, views=None, **kwargs):
        X = check_array(views[0] if views is not None else X, "X", ndim=(2, 4))
        X = X.reshape(len(X), -1)
        rng = check_random_state(self.random_state)
        self.mean_, self.scale_ = X.mean(0), np.where(X.std(0) > 0, X.std(0), 1.0)
        Q, _ = np.linalg.qr(rng.normal(size=(X.shape[1], self.n_components)))
        self.components_ = Q.T
        return self

    def transform(self, X=None, *, views=None):
        X = np.asarray(views[0] if views is not None else X, dtype=float)
        X = X.reshape(len(X), -1)
        return ((X - self.mean_) / self.scale_) @ self.components_.T


class OracleGraph(BaseLearner):
    """Returns the true graph with hidden nodes renamed (``H0``, ``H1``, ...) in shuffled order."""

    claims = Claim(("mec", "latent_relabeling"))

    def __init__(self, graph=None, *, random_state=0):
        self.graph = graph
        self.random_state = random_state

    def fit(self, X=None, **kwargs):
        import networkx as nx

        rng = check_random_state(self.random_state)
        hidden = [v for v, d in self.graph.nodes(data=True) if d.get("latent", False)]
        names = {hidden[i]: f"H{k}" for k, i in enumerate(rng.permutation(len(hidden)))}
        self.graph_ = nx.relabel_nodes(self.graph, names, copy=True)
        self.n_latents_ = len(hidden)
        return self


class EmptyGraph(BaseLearner):
    """The empty graph over the observed columns (a graph null model)."""

    claims = Claim(("mec", "latent_relabeling"))

    def __init__(self, feature_names=None):
        self.feature_names = feature_names

    def fit(self, X, **kwargs):
        import networkx as nx

        X = check_array(X, "X")
        names = list(self.feature_names) if self.feature_names is not None else list(range(X.shape[1]))
        G = nx.DiGraph(kind="dag")
        G.add_nodes_from(names, latent=False)
        self.graph_ = G
        self.n_latents_ = 0
        return self
