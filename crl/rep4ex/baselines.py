"""Baselines of the Rep4Ex benchmark, behind the same contract (``fit``, ``transform``, ``predict_do``).

- :class:`Rep4ExVAE`: a Gaussian VAE as the representation, then the control-function stage;
- :class:`Rep4ExDirect`: an MLP regression of Y on A (in support ``E[Y | A = a]``
  equals ``E[Y | do(A = a)]`` because A is exogenous; it cannot extrapolate);
- :class:`Rep4ExLinear`: the linear special case of Rep4Ex, a linear encoder fixed
  by the invariance (canonical correlation analysis of X with A), then the
  control-function stage;
- :class:`Rep4ExOracle`: the control-function stage on the **true** latents
  (an oracle: it reads them from the problem it is given, like
  ``identifiability.baselines.OracleEncoder``; for benchmarks only).

The plain autoencoder without the penalty is :class:`crl.rep4ex.Rep4ExAE`.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from crl.base import Claim, check_is_fitted
from crl.exceptions import NotFittedError, ValidationError
from crl.rep4ex._base import Rep4ExBase, check_action_data
from crl.rep4ex.cca import canonical_directions
from crl.validation import check_array, check_float, check_int

__all__ = ["Rep4ExVAE", "Rep4ExDirect", "Rep4ExLinear", "Rep4ExOracle"]

logger = logging.getLogger(__name__)


class _Stage2Params:
    """Hyperparameters shared by every baseline (see :class:`crl.rep4ex.Rep4Ex`)."""

    def _set_common(self, hidden, epochs, batch_size, lr, patience, validation_fraction, random_state, device,
                    progress, n_threads):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.progress = progress
        self.n_threads = n_threads


class Rep4ExVAE(_Stage2Params, Rep4ExBase):
    """Baseline: a Gaussian VAE (posterior mean as the representation) + the control-function stage.

    Parameters
    ----------
    n_latents : int
    beta : float
        Weight of the KL term (1 is the plain VAE).
    hidden, epochs, batch_size, lr, patience, validation_fraction, outcome_model, outcome_degree, random_state,
    device, progress, n_threads
        As in :class:`crl.rep4ex.Rep4Ex`.
    """

    claims = None  # a VAE identifies nothing here; scored under the class the theory grants

    def __init__(self, n_latents=2, *, beta=1.0, hidden=64, epochs=200, batch_size=256, lr=1e-3, patience=20,
                 validation_fraction=0.2, outcome_model="mlp", outcome_degree=3, random_state=None, device="auto",
                 progress=False, n_threads=None):
        self.n_latents = n_latents
        self.beta = beta
        self.outcome_model = outcome_model
        self.outcome_degree = outcome_degree
        self._set_common(hidden, epochs, batch_size, lr, patience, validation_fraction, random_state, device,
                         progress, n_threads)

    def fit(self, X, actions, y=None):
        """Fit the VAE on ``X`` (the actions only enter stage 2), then stage 2 when ``y`` is given."""
        from crl.deep import hidden_layers, limit_threads, seeded, to_tensor, train, train_val_split
        from crl.rep4ex.model import GaussianVAE

        X, A, y = check_action_data(X, actions, y, n_latents=self.n_latents)
        beta = check_float(self.beta, "beta", minimum=0.0)
        hidden = hidden_layers(self.hidden)
        self._check_outcome()
        batch = check_int(self.batch_size, "batch_size", minimum=2)
        device, seed = self._runtime()
        start, cpu_start = time.perf_counter(), time.process_time()
        with limit_threads(self.n_threads):
            Xs = self._standardize_fit(X)
            tr, va = train_val_split(len(X), self.validation_fraction, random_state=seed)
            with seeded(seed, device):
                self.model_ = GaussianVAE(X.shape[1], int(self.n_latents), hidden).to(device)
                data = [to_tensor(Xs, device)]
                self.history_ = train(
                    self.model_, lambda b: self.model_.negative_elbo(b[0], beta=beta),
                    [data[0][tr]], [data[0][va]] if len(va) else None,
                    val_loss_fn=lambda b: self.model_.negative_elbo(b[0], beta=beta, sample=False),
                    epochs=self.epochs, batch_size=min(batch, len(tr)), lr=self.lr, patience=self.patience,
                    seed=seed + 1, progress=self.progress, desc="Rep4ExVAE",
                ).to_dict()
            if y is not None:
                self._fit_outcome(self._encode(Xs), A, y, seed=seed + 2, device=device, hidden=hidden)
        self.n_actions_ = A.shape[1]
        self.fit_seconds_ = time.perf_counter() - start
        self.fit_cpu_seconds_ = time.process_time() - cpu_start
        return self

    def _restore(self, ck, device) -> None:
        from crl.deep import hidden_layers
        from crl.rep4ex.model import GaussianVAE

        self.model_ = GaussianVAE(len(self.x_mean_), int(self.n_latents), hidden_layers(self.hidden)).to(device)
        self.model_.load_state_dict(ck.states["model"])
        self.model_.eval()


class Rep4ExDirect(_Stage2Params, Rep4ExBase):
    """Baseline: MLP regression of Y on A; ``predict_do(a*)`` is the regression at ``a*``.

    It learns no representation. ``transform`` returns the first
    ``n_latents`` principal components of the standardised ``X`` (a linear
    encoder, so its affine scores show what no learning at all gives).

    Parameters
    ----------
    n_latents : int
        Components of the PCA ``transform``.
    hidden, epochs, batch_size, lr, patience, validation_fraction, random_state, device, progress, n_threads
        As in :class:`crl.rep4ex.Rep4Ex` (the regression's MLP).
    """

    claims = None

    def __init__(self, n_latents=2, *, hidden=64, epochs=200, batch_size=256, lr=1e-3, patience=20,
                 validation_fraction=0.2, random_state=None, device="auto", progress=False, n_threads=None):
        self.n_latents = n_latents
        self._set_common(hidden, epochs, batch_size, lr, patience, validation_fraction, random_state, device,
                         progress, n_threads)

    _SAVED = ("x_mean_", "x_scale_", "components_", "a_mean_", "a_scale_", "y_stats_")

    def fit(self, X, actions, y):
        """Fit the regression of ``y`` on ``actions`` and the PCA of ``X``."""
        import torch

        from crl.deep import (
            hidden_layers,
            limit_threads,
            mlp,
            seeded,
            to_tensor,
            train,
            train_val_split,
        )

        X, A, y = check_action_data(X, actions, y, n_latents=self.n_latents, need_y=True)
        hidden = hidden_layers(self.hidden)
        batch = check_int(self.batch_size, "batch_size", minimum=2)
        device, seed = self._runtime()
        start, cpu_start = time.perf_counter(), time.process_time()
        with limit_threads(self.n_threads):
            Xs = self._standardize_fit(X)
            _, _, vt = np.linalg.svd(Xs, full_matrices=False)
            self.components_ = vt[: int(self.n_latents)]
            self.a_mean_, self.a_scale_ = A.mean(0), A.std(0)
            self.y_stats_ = np.array([y.mean(), y.std() if y.std() > 0 else 1.0])
            As = (A - self.a_mean_) / self.a_scale_
            ys = (y - self.y_stats_[0]) / self.y_stats_[1]
            tr, va = train_val_split(len(X), self.validation_fraction, random_state=seed)
            with seeded(seed, device):
                self.model_ = mlp(A.shape[1], 1, hidden).to(device)
                data = [to_tensor(As, device), to_tensor(ys, device)]

                def loss(b):
                    return torch.mean((self.model_(b[0]).squeeze(-1) - b[1]) ** 2)

                self.history_ = train(
                    self.model_, loss, [t[tr] for t in data], [t[va] for t in data] if len(va) else None,
                    epochs=self.epochs, batch_size=min(batch, len(tr)), lr=self.lr, patience=self.patience,
                    seed=seed + 1, progress=self.progress, desc="Rep4ExDirect",
                ).to_dict()
        self.n_actions_ = A.shape[1]
        self.fit_seconds_ = time.perf_counter() - start
        self.fit_cpu_seconds_ = time.process_time() - cpu_start
        return self

    def transform(self, X) -> np.ndarray:
        """The principal components of the standardised ``X`` (no learned representation)."""
        return self._check_X(X) @ self.components_.T

    def predict_do(self, actions_star) -> np.ndarray:
        """The regression of Y on A evaluated at each row of ``actions_star``."""
        import torch

        from crl.deep import to_tensor

        check_is_fitted(self, "components_")
        a = check_array(actions_star, "actions_star", ndim=(1, 2))
        a = a.reshape(len(a), -1) if self.n_actions_ == 1 or a.ndim == 2 else a.reshape(1, -1)
        if a.shape[1] != self.n_actions_:
            raise ValidationError(f"actions_star: expected {self.n_actions_} columns, got {a.shape[1]}")
        device = next(self.model_.parameters()).device
        with torch.no_grad():
            out = self.model_(to_tensor((a - self.a_mean_) / self.a_scale_, device)).squeeze(-1)
        return out.cpu().double().numpy() * self.y_stats_[1] + self.y_stats_[0]

    def _fitted_meta(self) -> dict:
        return {"n_actions": self.n_actions_}

    def _restore(self, ck, device) -> None:
        from crl.deep import hidden_layers, mlp

        self.model_ = mlp(len(self.a_mean_), 1, hidden_layers(self.hidden)).to(device)
        self.model_.load_state_dict(ck.states["model"])
        self.model_.eval()
        self.n_actions_ = ck.meta["fitted"]["n_actions"]


class Rep4ExLinear(_Stage2Params, Rep4ExBase):
    """Baseline: the linear encoder that the invariance fixes, then the control-function stage.

    ``transform`` returns ``Xs W``, where ``Xs`` is the standardised ``X`` and
    the columns of ``W`` are its first ``n_latents`` canonical directions with
    respect to the actions (closed-form CCA). These are the linear features of
    ``X`` whose conditional mean given ``A`` is best explained by a linear map
    of ``A``. If ``X = G Z`` with ``G`` injective and linear, then
    ``Z = M A + V`` with ``rank(M) >= n_latents`` makes them an invertible
    linear map of ``Z`` (exact on any sample: they are linear in ``Z``). So
    this is Rep4Ex's affine identification when the mixing is linear, at the
    cost of one eigendecomposition. With a nonlinear mixing it identifies
    nothing, and its score shows how much the nonlinear encoder adds.

    Parameters
    ----------
    n_latents : int
        Canonical directions kept (at most the action dimension).
    tol : float
        Eigenvalues of the covariance of ``Xs`` below ``tol`` times the largest
        are dropped (a pseudo-inverse), so a rank-deficient ``X`` (a linear
        mixing with more features than latents) is handled exactly.
    hidden, epochs, batch_size, lr, patience, validation_fraction, outcome_model, outcome_degree, random_state,
    device, progress, n_threads
        As in :class:`crl.rep4ex.Rep4Ex` (stage 2 only).

    Attributes
    ----------
    components_ : ndarray of shape (n_features, n_latents)
        ``W``: the representation is ``(X - x_mean_) / x_scale_ @ components_``,
        with unit variance and uncorrelated columns on the fitted rows.
    canonical_correlations_ : ndarray of shape (n_latents,)
        Descending, in [0, 1].
    """

    claims = None  # affine only under a linear mixing, which nothing here checks

    def __init__(self, n_latents=2, *, tol=1e-10, hidden=64, epochs=200, batch_size=256, lr=1e-3, patience=20,
                 validation_fraction=0.2, outcome_model="mlp", outcome_degree=3, random_state=None, device="auto",
                 progress=False, n_threads=None):
        self.n_latents = n_latents
        self.tol = tol
        self.outcome_model = outcome_model
        self.outcome_degree = outcome_degree
        self._set_common(hidden, epochs, batch_size, lr, patience, validation_fraction, random_state, device,
                         progress, n_threads)

    _SAVED = ("x_mean_", "x_scale_", "components_", "canonical_correlations_")

    def fit(self, X, actions, y=None):
        """Fit the canonical directions of ``X`` with ``actions``, then stage 2 when ``y`` is given."""
        from crl.deep import hidden_layers, limit_threads

        X, A, y = check_action_data(X, actions, y, n_latents=self.n_latents)
        tol = check_float(self.tol, "tol", minimum=0.0, maximum=1.0)
        hidden = hidden_layers(self.hidden)
        self._check_outcome()
        device, seed = self._runtime()
        start, cpu_start = time.perf_counter(), time.process_time()
        with limit_threads(self.n_threads):
            Xs = self._standardize_fit(X)
            self.components_, self.canonical_correlations_ = canonical_directions(Xs, A, int(self.n_latents), tol)
            if y is not None:
                self._fit_outcome(Xs @ self.components_, A, y, seed=seed + 2, device=device, hidden=hidden)
        self.n_actions_ = A.shape[1]
        self.fit_seconds_ = time.perf_counter() - start
        self.fit_cpu_seconds_ = time.process_time() - cpu_start
        return self

    def transform(self, X) -> np.ndarray:
        """The canonical variates ``Xs @ components_`` (n, n_latents)."""
        check_is_fitted(self, "components_")
        return self._check_X(X) @ self.components_


def _row_key(row: np.ndarray) -> bytes:
    return np.ascontiguousarray(row, dtype=np.float64).tobytes()


class Rep4ExOracle(_Stage2Params, Rep4ExBase):
    """Oracle: the control-function stage run on the **true** latents.

    It shows what stage 2 achieves with a perfect representation, so it is
    the yardstick for Rep4Ex's extrapolation error. The latents come either
    from ``fit(..., latents=Z)`` or, in benchmarks, from ``problem`` (the
    harness injects it, as for ``identifiability.baselines.OracleEncoder``):
    the oracle then looks up the true latents of each row of ``X`` in
    ``problem.truth.Z``. Never use it as a learner on real data.

    Parameters
    ----------
    problem : simulators.Problem, optional
        The problem whose truth is read (benchmarks only).
    hidden, epochs, batch_size, lr, patience, validation_fraction, outcome_model, outcome_degree, random_state,
    device, progress, n_threads
        As in :class:`crl.rep4ex.Rep4Ex` (stage 2 only).
    """

    claims = Claim("affine", reference="oracle: returns the true latents")

    def __init__(self, problem=None, *, hidden=64, epochs=200, batch_size=256, lr=1e-3, patience=20,
                 validation_fraction=0.2, outcome_model="mlp", outcome_degree=3, random_state=None, device="auto",
                 progress=False, n_threads=None):
        self.problem = problem
        self.outcome_model = outcome_model
        self.outcome_degree = outcome_degree
        self._set_common(hidden, epochs, batch_size, lr, patience, validation_fraction, random_state, device,
                         progress, n_threads)

    def _lookup(self, X) -> np.ndarray:
        P = self.problem
        if P is None or getattr(P, "truth", None) is None or P.truth.Z is None or P.X is None:
            raise ValidationError(
                "problem: Rep4ExOracle needs the true latents: pass fit(..., latents=Z) or a Problem with truth.Z"
            )
        if not hasattr(self, "_table"):
            self._table = {_row_key(r): i for i, r in enumerate(np.asarray(P.X, dtype=float))}
        try:
            idx = np.array([self._table[_row_key(r)] for r in np.asarray(X, dtype=float)], dtype=np.int64)
        except KeyError:
            raise ValidationError("X: Rep4ExOracle can only look up rows of the problem it was given") from None
        return np.asarray(P.truth.Z, dtype=float)[idx]

    def fit(self, X, actions, y, latents=None):
        """Fit stage 2 on the true latents (``latents``, else looked up in ``problem``)."""
        from crl.deep import hidden_layers, limit_threads

        X, A, y = check_action_data(X, actions, y, need_y=True)
        Z = self._lookup(X) if latents is None else check_array(latents, "latents")
        if len(Z) != len(X):
            raise ValidationError(f"latents: expected {len(X)} rows like X, got {len(Z)}")
        check_action_data(X, A, n_latents=Z.shape[1])
        self._check_outcome()
        self.n_latents_ = Z.shape[1]
        device, seed = self._runtime()
        start, cpu_start = time.perf_counter(), time.process_time()
        with limit_threads(self.n_threads):
            self._fit_outcome(Z, A, y, seed=seed + 2, device=device, hidden=hidden_layers(self.hidden))
        self.fit_seconds_ = time.perf_counter() - start
        self.fit_cpu_seconds_ = time.process_time() - cpu_start
        return self

    def transform(self, X) -> np.ndarray:
        """The true latents of the rows of ``X`` (looked up in ``problem``)."""
        if not hasattr(self, "control_"):
            raise NotFittedError("Rep4ExOracle is not fitted yet; call fit first")
        return self._lookup(check_array(X, "X"))
