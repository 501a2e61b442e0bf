"""Maximum-likelihood refinement of a LinearCD solution (perfect interventions, order fixed).

Private helper of :mod:`crl.linear`. With the order and the targets found
by the RQ steps, the Gaussian log-likelihood of all contexts is maximised
over ``H`` (d × d, reduced coordinates) and ``B0`` (lower triangular in
position order: every earlier latent is a potential parent), with the
target row of ``B_k`` equal to ``e_s`` (the target's scale is absorbed by
the row scale of ``H``, which removes the scaling indeterminacy). The
objective is ``sum_k w_k [tr(S_k Theta_k) - log det Theta_k]`` with ``S_k``
the sample covariance in the reduced coordinates and ``w_k`` the context
sizes (equal weights when unknown).

The solver is Fisher scoring with a backtracking (Armijo) line search,
started at the closed-form solution given Step A's directions. The problem
is badly conditioned for first-order methods at d >= 10 (L-BFGS needs
thousands of iterations at d = 20), while Fisher scoring reaches the
optimum in 2-4 steps; the Fisher information is assembled from Kronecker
products of d x d matrices in O(K d^4) (:func:`_fisher`), and each step
solves a linear system of size d^2 + d(d+1)/2.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from crl.linear._rq import Solution, deviances
from crl.linear._stats import normalise_rows

__all__: list[str] = []


def refine(theta, U, order, sol: Solution, w, *, max_iter: int = 50, tol: float = 1e-10) -> Solution:
    """Fisher scoring from ``sol``; returns the refined solution, or ``sol`` if the deviance did not drop."""
    d = theta.shape[1]
    Kp1 = theta.shape[0]
    S = np.linalg.inv(theta)
    wn = w / w.sum()
    target_pos = np.full(Kp1, -1)
    for s, c in enumerate(order):
        target_pos[c] = s
    lam = np.array([sol.B[c, s, s] for s, c in enumerate(order)])
    H = lam[:, None] * sol.H
    B0 = np.tril(sol.B[0] / lam[None, :])
    tril = np.tril_indices(d)
    rows_mask = np.ones((Kp1, d, 1))
    E = np.zeros((Kp1, d, d))
    for c in range(1, Kp1):
        rows_mask[c, target_pos[c]] = 0.0
        E[c, target_pos[c], target_pos[c]] = 1.0
    nH = d * d
    idx = np.arange(d)

    def objective(H, B0):
        B = B0[None] * rows_mask + E
        T = B @ H
        TS = T @ S
        sign, logdetH = np.linalg.slogdet(H)
        diag = np.abs(np.diagonal(B, axis1=1, axis2=2))
        if sign == 0 or np.any(diag <= 0):
            return np.inf, None
        tr = np.einsum("kij,kij->k", TS, T)
        return float(np.dot(wn, tr - 2 * logdetH - 2 * np.log(diag).sum(axis=1))), (B, T, TS)

    f, parts = objective(H, B0)
    for _ in range(max_iter):
        B, T, TS = parts
        G = 2 * TS * wn[:, None, None]
        gH = np.einsum("kji,kjl->il", B, G) - 2 * np.linalg.inv(H).T
        gB = G @ H.T
        gB[:, idx, idx] -= 2 * wn[:, None] / np.diagonal(B, axis1=1, axis2=2)
        gB0 = (gB * rows_mask).sum(axis=0)
        # coordinates: dH = X H (so the X-block of the Fisher does not depend on H) and the tril of dB0
        grad = np.concatenate([(gH @ H.T).ravel(), gB0[tril]])
        Fisher = _fisher(B, rows_mask[:, :, 0], wn, tril)
        Fisher[np.diag_indices_from(Fisher)] += 1e-12 * np.trace(Fisher) / len(Fisher)
        try:
            step = -cho_solve(cho_factor(Fisher), grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        while t > 1e-6:
            Hn = H + t * step[:nH].reshape(d, d) @ H
            B0n = B0.copy()
            B0n[tril] += t * step[nH:]
            fn, pn = objective(Hn, B0n)
            if fn <= f + 1e-4 * t * float(grad @ step):
                break
            t /= 2
        else:
            break
        done = f - fn < tol * max(1.0, abs(f))
        H, B0, f, parts = Hn, B0n, fn, pn
        if done:
            break
    _, c = normalise_rows(H @ U.T)
    Hn = H / c[:, None]
    B0n = B0 * c[None, :]
    B0n = B0n * np.sign(np.diag(B0n))[:, None]
    B = np.repeat(B0n[None], Kp1, axis=0)
    for s, k in enumerate(order):
        B[k, s] = 0.0
        B[k, s, s] = abs(c[s])
    dev = float(deviances(theta, Hn, B, w).sum())
    if not dev < sol.deviance:
        return sol
    return Solution(Hn, B, dev, sol.position_deviance)


def _fisher(B, rows_mask, wn, tril):
    """Fisher information of ``sum_c wn_c [tr(S Theta_c) - log det Theta_c]`` in (vec X, tril dB0).

    With ``T_c = B_c H`` the whitened perturbation of context ``c`` is
    ``E_c + E_c^T``, ``E_c = B_c X B_c^-1 + (m_c * dB0) B_c^-1`` (``m_c`` masks
    the target row), so the Fisher block of context ``c`` is
    ``2 [K, L]^T (I + P) [K, L]`` with ``K = B_c (x) B_c^-T``,
    ``L = (I (x) B_c^-T) D_c S`` (``P`` the commutation matrix, ``D_c`` the row
    mask, ``S`` the selection of the tril entries). Every product reduces to
    Kronecker products of d x d matrices: O(K d^4) instead of O(K d^6).
    """
    Kp1, d, _ = B.shape
    flat = tril[0] * d + tril[1]
    Bi = np.linalg.inv(B)
    BiT = np.swapaxes(Bi, 1, 2)
    BiBiT = Bi @ BiT
    BtB = np.swapaxes(B, 1, 2) @ B
    BtBiT = np.swapaxes(B, 1, 2) @ BiT
    M = rows_mask * wn[:, None]  # (K+1, d): weight of context c times "row j of dB0 enters c"
    eye = np.eye(d)
    n2 = d * d
    # entries indexed [(i, k), (j, l)] = [i * d + k, j * d + l]; each sum over contexts is one
    # tensordot (a GEMM with inner dimension K + 1), then an axis permutation to (i, k, j, l)
    td = np.tensordot
    KK = td(wn[:, None, None] * BtB, BiBiT, (0, 0)).transpose(0, 2, 1, 3)
    KK = KK + np.einsum("il,kj->ikjl", np.tensordot(wn, BtBiT, 1), eye)
    KL = td(M[:, :, None] * B, BiBiT, (0, 0)).transpose(1, 2, 0, 3)  # M[c, j] B[c, j, i] BiBiT[c, k, l]
    KL = KL + td(BtBiT, M[:, None, :] * Bi, (0, 0)).transpose(0, 2, 3, 1)  # BtBiT[c, i, l] M[c, j] Bi[c, k, j]
    LL = np.einsum("ikl,ij->ikjl", td(M, BiBiT, (0, 0)), eye)  # delta_ij M[c, i] BiBiT[c, k, l]
    Ui = rows_mask[:, None, :] * Bi  # Ui[c, l, i] = r_ci Bi[c, l, i]
    LL = LL + td(wn[:, None, None] * Ui, Ui, (0, 0)).transpose(1, 2, 3, 0)  # wn_c Ui[c, l, i] Ui[c, k, j]
    KL = KL.reshape(n2, n2)[:, flat]
    LL = LL.reshape(n2, n2)[np.ix_(flat, flat)]
    top = np.hstack([KK.reshape(n2, n2), KL])
    bottom = np.hstack([KL.T, LL])
    return 2 * np.vstack([top, bottom])
