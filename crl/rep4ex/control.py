"""Stage 2 of Rep4Ex: control-function extrapolation of ``E[Y | do(A = a*)]``.

Given latents ``Z`` (estimated, or the true ones for the oracle), actions
``A`` and outcomes ``Y`` (rep4ex.md §2.1, §3.2):

1. OLS ``Z ~ M A + c``; control variables ``V = Z - M A - c``;
2. additive regression ``Y ~ l(Z) + lambda(V)`` (an MLP per term, or
   polynomial features per term solved by least squares);
3. ``E[Y | do(A = a*)] = mean_i [ l(M a* + c + V_i) + lambda(V_i) ]``.

Additivity is enforced by the model's structure (pitfall 8). The estimate
is invariant to an invertible affine map of ``Z`` (§2.2), which is why an
affinely identified encoder suffices.
"""

from __future__ import annotations

import logging

import numpy as np

from crl.exceptions import NotFittedError, ValidationError
from crl.validation import check_array, check_choice, check_int

__all__ = ["ControlFunction", "REGRESSORS"]

logger = logging.getLogger(__name__)

REGRESSORS = ("mlp", "poly")


def _poly(X: np.ndarray, degree: int, *, bias: bool) -> np.ndarray:
    from sklearn.preprocessing import PolynomialFeatures

    return PolynomialFeatures(degree, include_bias=bias).fit_transform(X)


class ControlFunction:
    """The control-function stage on given latents.

    Parameters
    ----------
    regressor : {"mlp", "poly"}
        ``"mlp"``: two MLPs summed, trained jointly with early stopping
        (default). ``"poly"``: full polynomial features of ``Z`` plus
        polynomial features of ``V`` (no interaction across the two),
        least squares; exact when ``l`` and ``lambda`` are polynomials of
        at most ``degree``.
    hidden : tuple of int
        Hidden widths of each MLP.
    degree : int
        Polynomial degree for ``regressor="poly"``.
    epochs, batch_size, lr, patience, validation_fraction
        Training of the MLPs (see :func:`crl.deep.train`).
    seed : int
        Seeds the split, the initialisation and the shuffling.
    device : torch.device or str
    progress : bool
    """

    def __init__(self, regressor="mlp", *, hidden=(64, 64), degree=3, epochs=200, batch_size=256, lr=1e-3,
                 patience=20, validation_fraction=0.2, seed=0, device="cpu", progress=False):
        self.regressor = check_choice(regressor, "outcome_model", REGRESSORS)
        self.hidden = tuple(hidden)
        self.degree = check_int(degree, "degree", minimum=1)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = int(seed)
        self.device = device
        self.progress = progress

    # --- fitting -------------------------------------------------------------------------------

    def fit(self, latents, actions, y) -> ControlFunction:
        """Fit the first-stage OLS and the additive outcome regression."""
        Z = check_array(latents, "latents", min_rows=3)
        A = check_array(actions, "actions", min_rows=3)
        y = check_array(y, "y", ndim=1, min_rows=3)
        if not (len(Z) == len(A) == len(y)):
            raise ValidationError(f"latents, actions, y: expected equal row counts, got {len(Z)}, {len(A)}, {len(y)}")
        design = np.column_stack([A, np.ones(len(A))])
        coef, *_ = np.linalg.lstsq(design, Z, rcond=None)
        self.M_ = coef[:-1].T  # (d, k)
        self.c_ = coef[-1]  # (d,)
        self.residuals_ = Z - design @ coef
        self.z_mean_, self.z_scale_ = Z.mean(0), np.where(Z.std(0) > 0, Z.std(0), 1.0)
        self.v_scale_ = np.where(self.residuals_.std(0) > 0, self.residuals_.std(0), 1.0)
        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) if y.std() > 0 else 1.0
        zs, vs = self._scaled(Z, self.residuals_)
        ys = (y - self.y_mean_) / self.y_scale_
        if self.regressor == "poly":
            F = self._poly_features(zs, vs)
            self.poly_coef_, *_ = np.linalg.lstsq(F, ys, rcond=None)
        else:
            self._fit_mlp(zs, vs, ys)
        return self

    def _scaled(self, Z, V):
        return (Z - self.z_mean_) / self.z_scale_, V / self.v_scale_

    def _poly_features(self, zs, vs):
        return np.hstack([_poly(zs, self.degree, bias=True), _poly(vs, self.degree, bias=False)])

    def _fit_mlp(self, zs, vs, ys):
        import torch

        from crl.deep import seeded, to_tensor, train, train_val_split
        from crl.rep4ex.model import AdditiveRegressor

        tr, va = train_val_split(len(ys), self.validation_fraction, random_state=self.seed)
        with seeded(self.seed, self.device):
            self.net_ = AdditiveRegressor(zs.shape[1], vs.shape[1], self.hidden).to(self.device)
            data = [to_tensor(a, self.device) for a in (zs, vs, ys)]

            def loss(batch):
                z, v, t = batch
                return torch.mean((self.net_(z, v) - t) ** 2)

            self.history_ = train(
                self.net_, loss, [t[tr] for t in data], [t[va] for t in data] if len(va) else None,
                epochs=self.epochs, batch_size=min(self.batch_size, len(tr)), lr=self.lr,
                patience=self.patience, seed=self.seed + 1, progress=self.progress, desc="rep4ex stage 2",
            ).to_dict()

    # --- prediction ----------------------------------------------------------------------------

    def _check(self):
        if not hasattr(self, "M_"):
            raise NotFittedError("ControlFunction is not fitted yet; call fit first")

    def predict(self, latents, controls) -> np.ndarray:
        """``l(z) + lambda(v)`` for rows of latents and control variables (original y scale)."""
        self._check()
        zs, vs = self._scaled(np.asarray(latents, dtype=float), np.asarray(controls, dtype=float))
        if self.regressor == "poly":
            out = self._poly_features(zs, vs) @ self.poly_coef_
        else:
            import torch

            from crl.deep import to_tensor

            with torch.no_grad():
                out = self.net_(to_tensor(zs, self.device), to_tensor(vs, self.device)).cpu().double().numpy()
        return out * self.y_scale_ + self.y_mean_

    def predict_do(self, actions_star, *, chunk_rows: int = 200_000) -> np.ndarray:
        """``E[Y | do(A = a*)]`` for each row of ``actions_star`` (G, k), averaging over the stored ``V``."""
        self._check()
        a = check_array(actions_star, "actions_star", ndim=(1, 2))
        k = self.M_.shape[1]
        a = a.reshape(-1, k) if a.ndim == 1 and k > 1 else a.reshape(len(a), -1)
        if a.shape[1] != k:
            raise ValidationError(f"actions_star: expected {k} columns (the action dimension), got {a.shape[1]}")
        V = self.residuals_
        n = len(V)
        per = max(1, chunk_rows // n)
        out = np.empty(len(a))
        for start in range(0, len(a), per):
            block = a[start:start + per]
            shifted = (block @ self.M_.T + self.c_)[:, None, :] + V[None, :, :]  # (g, n, d)
            controls = np.broadcast_to(V, shifted.shape)
            pred = self.predict(shifted.reshape(-1, V.shape[1]), controls.reshape(-1, V.shape[1]))
            out[start:start + per] = pred.reshape(len(block), n).mean(1)
        return out
