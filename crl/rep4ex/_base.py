"""Shared plumbing of the Rep4Ex learners: input checks, runtime, stage 2, prediction, checkpoints."""

from __future__ import annotations

import logging
import time

import numpy as np

from crl.base import BaseLearner, check_is_fitted
from crl.exceptions import NotFittedError, ValidationError
from crl.validation import check_array, check_choice, check_int

__all__ = ["Rep4ExBase", "check_action_data"]

logger = logging.getLogger(__name__)


def check_action_data(X, actions, y=None, *, n_latents: int | None = None, need_y: bool = False):
    """Validate ``(X, actions, y)`` of an action problem.

    Returns ``X`` (n, p), ``A`` (n, k) and ``y`` (n,) or None. Raises
    :class:`ValidationError` naming the argument: row counts that differ,
    a constant or collinear action column (M is then not identifiable),
    ``n_latents`` larger than the action dimension (M0 could not have full
    row rank) or than the number of features.
    """
    X = check_array(X, "X", min_rows=2)
    if actions is None:
        raise ValidationError("actions: expected an array of shape (n, k) with the exogenous actions, got None")
    A = check_array(actions, "actions", ndim=(1, 2), min_rows=1)
    A = A.reshape(len(A), -1)
    if len(A) != len(X):
        raise ValidationError(f"actions: expected one row per observation ({len(X)} rows, like X), got {len(A)} rows")
    if A.shape[1] == 0:
        raise ValidationError("actions: expected at least one action column, got 0")
    if y is None and need_y:
        raise ValidationError("y: expected the outcome, shape (n,), got None")
    if y is not None:
        y = check_array(y, "y", ndim=(1, 2), min_rows=1)
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ValidationError(f"y: expected one outcome column, got shape {y.shape}")
            y = y[:, 0]
        if len(y) != len(X):
            raise ValidationError(f"y: expected one value per observation ({len(X)} rows, like X), got {len(y)}")
    constant = np.flatnonzero(np.ptp(A, axis=0) == 0)
    if constant.size:
        raise ValidationError(
            f"actions: column(s) {constant.tolist()} are constant; the effect of the actions on the latents "
            "(M) is not identifiable without variation in every action"
        )
    k = A.shape[1]
    rank = np.linalg.matrix_rank(A - A.mean(0))
    if rank < k:
        raise ValidationError(f"actions: the {k} action columns are collinear (rank {rank}); M is not identifiable")
    if n_latents is not None:
        d = check_int(n_latents, "n_latents", minimum=1)
        if d > k:
            raise ValidationError(
                f"n_latents: expected at most the action dimension k = {k}, got {d}; with fewer actions than "
                "latents M0 cannot have full row rank and the representation is not identifiable (rep4ex.md §7.11)"
            )
        if d > X.shape[1]:
            raise ValidationError(f"n_latents: expected at most the number of features p = {X.shape[1]}, got {d}")
    return X, A, y


class Rep4ExBase(BaseLearner):
    """Common code; subclasses implement ``fit`` and set ``model_`` (a module with ``encode``) or override ``transform``."""

    # --- runtime -------------------------------------------------------------------------------

    def _runtime(self):
        from crl.deep import select_device, torch_seed

        return select_device(self.device), torch_seed(self.random_state)

    def _standardize_fit(self, X: np.ndarray) -> np.ndarray:
        self.x_mean_ = X.mean(0)
        sd = X.std(0)
        self.x_scale_ = np.where(sd > 0, sd, 1.0)
        return (X - self.x_mean_) / self.x_scale_

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "x_mean_")
        X = check_array(X, "X")
        if X.shape[1] != len(self.x_mean_):
            raise ValidationError(f"X: expected {len(self.x_mean_)} columns as in fit, got {X.shape[1]}")
        return (X - self.x_mean_) / self.x_scale_

    def _encode(self, Xs: np.ndarray, chunk: int = 65536) -> np.ndarray:
        import torch

        from crl.deep import to_tensor

        device = next(self.model_.parameters()).device
        self.model_.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(Xs), chunk):
                out.append(self.model_.encode(to_tensor(Xs[start:start + chunk], device)).cpu().double().numpy())
        return np.concatenate(out) if out else np.empty((0, self.n_latents))

    def _check_outcome(self) -> None:
        """Validate the stage-2 options before any training, so a typo cannot cost a stage-1 fit."""
        from crl.rep4ex.control import REGRESSORS

        check_choice(self.outcome_model, "outcome_model", REGRESSORS)
        check_int(self.outcome_degree, "outcome_degree", minimum=1)

    def _fit_outcome(self, Z, A, y, *, seed, device, hidden):
        """Stage 2 (:class:`ControlFunction`) on latents ``Z``; sets ``control_``."""
        from crl.rep4ex.control import ControlFunction

        start = time.perf_counter()
        self.control_ = ControlFunction(
            self.outcome_model, hidden=hidden, degree=int(self.outcome_degree), epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, patience=self.patience, validation_fraction=self.validation_fraction, seed=seed, device=device,
            progress=self.progress,
        ).fit(Z, A, y)
        self.action_matrix_ = self.control_.M_
        logger.info("%s stage 2: %.1f s", type(self).__name__, time.perf_counter() - start)

    # --- public --------------------------------------------------------------------------------

    def transform(self, X) -> np.ndarray:
        """Encode observations ``X`` (n, p) into the learned latents (n, n_latents)."""
        return self._encode(self._check_X(X))

    def predict_do(self, actions_star) -> np.ndarray:
        """Estimates of ``E[Y | do(A = a*)]`` for each row of ``actions_star`` (G, k).

        Returns
        -------
        ndarray of shape (G,)
        """
        if not hasattr(self, "control_"):
            raise NotFittedError(
                f"{type(self).__name__} has no outcome model; call fit(X, actions, y) with the outcome y first"
            )
        return self.control_.predict_do(actions_star)

    # --- checkpoints ---------------------------------------------------------------------------

    _SAVED = ("x_mean_", "x_scale_")
    _CONTROL_ARRAYS = ("M_", "c_", "residuals_", "z_mean_", "z_scale_", "v_scale_", "poly_coef_")

    def _plain_params(self) -> dict:
        params = self.get_params(deep=False)
        bad = [k for k in ("problem",) if params.get(k) is not None]
        if bad:
            raise ValidationError(f"{type(self).__name__}: cannot save a learner that holds {bad} (an oracle)")
        params.pop("problem", None)
        return params

    def save(self, path) -> None:
        """Write the fitted learner to ``path``; read it back with ``type(self).load(path)``.

        The file holds only tensors and plain data, and :meth:`load` reads it
        with ``torch.load(..., weights_only=True)``.
        """
        from crl.deep import save_checkpoint

        params = self._plain_params()
        if not hasattr(self, "control_"):
            check_is_fitted(self, "x_mean_")
        arrays = {name: getattr(self, name) for name in self._SAVED if hasattr(self, name)}
        modules = {"model": self.model_} if hasattr(self, "model_") else {}
        meta = {"class": type(self).__name__, "params": params, "fitted": self._fitted_meta()}
        control = getattr(self, "control_", None)
        if control is not None:
            arrays.update({f"control.{k}": getattr(control, k) for k in self._CONTROL_ARRAYS if hasattr(control, k)})
            meta["control"] = {"regressor": control.regressor, "hidden": list(control.hidden),
                               "degree": control.degree, "y_mean": control.y_mean_, "y_scale": control.y_scale_}
            if hasattr(control, "net_"):
                modules["control"] = control.net_
        save_checkpoint(path, modules=modules, arrays=arrays, meta=meta)

    def _fitted_meta(self) -> dict:
        return {}

    @classmethod
    def load(cls, path):
        """Read a learner written by :meth:`save` (``weights_only=True``; nothing is unpickled)."""
        from crl.deep import load_checkpoint
        from crl.rep4ex.control import ControlFunction
        from crl.rep4ex.model import AdditiveRegressor

        ck = load_checkpoint(path)
        if ck.meta.get("class") != cls.__name__:
            raise ValidationError(f"path: the checkpoint holds a {ck.meta.get('class')!r}, not a {cls.__name__!r}")
        learner = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in ck.meta["params"].items()})
        device, _ = learner._runtime()
        for name in cls._SAVED:
            if name in ck.arrays:
                setattr(learner, name, ck.arrays[name])
        learner._restore(ck, device)
        if "control" in ck.meta:
            cm = ck.meta["control"]
            control = ControlFunction(cm["regressor"], hidden=tuple(cm["hidden"]), degree=cm["degree"], device=device)
            for k in cls._CONTROL_ARRAYS:
                if f"control.{k}" in ck.arrays:
                    setattr(control, k, ck.arrays[f"control.{k}"])
            control.y_mean_, control.y_scale_ = cm["y_mean"], cm["y_scale"]
            if "control" in ck.states:
                d, e = control.M_.shape[0], control.residuals_.shape[1]
                control.net_ = AdditiveRegressor(d, e, control.hidden).to(device)
                control.net_.load_state_dict(ck.states["control"])
                control.net_.eval()
            learner.control_ = control
            learner.action_matrix_ = control.M_
        return learner

    def _restore(self, ck, device) -> None:
        """Rebuild ``model_`` from a checkpoint (subclasses with a network override this)."""
