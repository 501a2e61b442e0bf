"""The partial-order RQ steps of LinearCD in the d-dimensional signal subspace.

Private helpers of :mod:`crl.linear`. Notation (linear_cd.md §2): ``theta``
is the stack of reduced precisions (K+1, d, d), context 0 observational,
``sigma = inv(theta)`` the reduced covariances and ``D_k = theta_k - theta_0``.
Positions ``s = 0..d-1`` index latents in the order they are found, sources
first; ``order[s]`` is the context (1..K) assigned to position ``s``. Context
weights ``w`` are the sample sizes (ones when unknown).

**Peeling (Step A).** For an ancestor-closed set ``F`` of found positions that
contains the parents of latent ``i``, the difference ``D_k`` of the context
targeting ``i``, projected on both sides onto the orthogonal complement of
``span{h_j : j in F}``, is rank one, ``(lambda^2 - s_i^2) (P h_i)(P h_i)^T``.
This holds for *any* such ``F``, not only the ancestors of ``i``, so every
linear extension of the latent partial order can be peeled by plain
Gram-Schmidt: orthonormal directions ``q_s`` (the top eigenvector of the
projected difference of the context picked at ``s``) with flag
``V_s = span{q_0..q_s} = span{h_0..h_s}``.

**Invariance (the score).** In the coordinates ``y = Q x`` of a correct
peeling order, the conditional law of ``y_s`` given ``y_<s`` is the same in
every context except the one targeting ``s``: intervening on another latent
leaves that structural equation, and hence this conditional, unchanged. So,
given the directions, the perfect-intervention model (with every earlier
latent a potential parent) is a product of Gaussian regressions with one
parameter set for the target context and one shared by the other ``K``
contexts. Its maximum likelihood is closed-form, and its deviance against
context-specific covariances is a sum over positions of Bartlett-type
statistics ``sum_{c != k} w_c log(pooled residual variance / own residual
variance)`` with ``(K - 1)(s + 1)`` degrees of freedom. A prefix of a
peeling order has its own such deviance, which scores partial hypotheses
in the beam using every context, not only the picked one.

**Rank-one statistic (diagnostics, ancestors, degenerate contexts).** Under
Wishart noise a sample precision is ``Theta^{1/2} (I + E / sqrt(n)) Theta^{1/2}``
with ``Var(E_ab) = 1 + [a = b]``, so for orthonormal ``V`` the compressed
noise ``V^T dTheta V`` has entry variances ``(A_aa A_bb + A_ab^2) / n`` with
``A = V^T Theta V``. The residual of the best rank-one fit of an ``m x m``
projected difference is, to first order, the noise energy in the ``m - 1``
directions orthogonal to the fitted one, with expectation
``sum_{c in {k, 0}} (tr(A_c)^2 + ||A_c||_F^2) / n_c`` (``A_c`` compressed to
those directions); ``T = dof * residual / expectation``, ``dof = m (m - 1) / 2``,
is approximately chi-squared under "rank one". ``T_signal`` does the same
for "the projected difference is zero" (all ``m (m + 1) / 2`` dimensions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import chdtrc, chdtri

from crl.linear._stats import cholesky_stack, normalise_rows, reverse_cholesky

__all__: list[str] = []  # private helpers

_N_MAX = 1e12  # cap on the self-calibrated effective sample size (exact, noiseless inputs)


def chi2_sf(x, dof):
    """Chi-squared survival function (1 where ``dof == 0``)."""
    return np.where(np.asarray(dof) > 0, chdtrc(np.maximum(dof, 1), x), 1.0)


@dataclass
class Path:
    """A (partial) peeling hypothesis: contexts in position order and their directions."""

    cost: float
    order: tuple
    Q: np.ndarray  # (t, d) orthonormal rows
    Sy: np.ndarray  # (K+1, t, t) covariances of y = Q x
    N: np.ndarray  # (d, d - t) orthonormal basis of the complement of the rows of Q
    increments: list = field(default_factory=list)  # deviance of each position
    margins: list = field(default_factory=list)  # best alternative increment minus the chosen one


@dataclass
class Solution:
    """A complete solution in reduced coordinates."""

    H: np.ndarray  # (d, d) unmixing, rows in position order, normalised in observed coordinates
    B: np.ndarray  # (K+1, d, d) per-context B of the model (B[0] = B0)
    deviance: float  # weighted deviance against the sample covariances
    position_deviance: np.ndarray  # (d,) invariance deviance of each position


def complement(Q: np.ndarray, d: int) -> np.ndarray:
    """Orthonormal basis (d, d - t) of the orthogonal complement of the rows of ``Q`` (t, d)."""
    t = Q.shape[0]
    if t == 0:
        return np.eye(d)
    full, _ = np.linalg.qr(Q.T, mode="complete")
    return full[:, t:]


def _top_eig(M):
    """Eigen-decomposition of a stack of symmetric matrices and the index of the largest |eigenvalue|."""
    M = (M + np.swapaxes(M, -1, -2)) / 2
    w, V = np.linalg.eigh(M)
    return w, V, np.argmax(np.abs(w), axis=-1)


def top_directions(D, contexts, N):
    """Top eigenvector of each ``N^T D_k N`` and the complement left after taking it.

    Returns ``q`` (k, d), the directions in reduced coordinates, and
    ``N_next`` (k, d, m - 1), an orthonormal basis of the complement of
    ``span(N_complement, q)``: the other eigenvectors, so no QR is needed.
    """
    w, V, top = _top_eig(N.T @ D[contexts] @ N)
    v = np.take_along_axis(V, top[:, None, None], axis=2)[..., 0]
    m = N.shape[1]
    rest = np.array([np.delete(np.arange(m), t) for t in top]).reshape(len(top), m - 1)
    N_next = N @ np.take_along_axis(V, rest[:, None, :], axis=2)
    return v @ N.T, N_next


def _noise_energy(A):
    tr = np.trace(A, axis1=-2, axis2=-1)
    return tr**2 + np.sum(A * A, axis=(-2, -1))


def rank_one_stats(theta, c, Ns, nu):
    """Calibrated rank-one statistics of ``N^T D_c N`` for a stack of bases ``Ns`` (b, d, m).

    Returns a dict of arrays over the bases: ``T`` (residual statistic,
    ``dof = m (m - 1) / 2``), ``T_signal`` (energy statistic,
    ``m (m + 1) / 2`` degrees of freedom), ``score`` (the reference's
    ``σ1² / Σσ²``) and ``q`` (b, d) the top directions.
    """
    m = Ns.shape[2]
    NT = np.swapaxes(Ns, 1, 2)
    w, V, top = _top_eig(NT @ (theta[c] - theta[0]) @ Ns)
    b = len(Ns)
    rows = np.arange(b)
    top_val = w[rows, top]
    energy = np.sum(w * w, axis=1)
    resid = np.maximum(energy - top_val**2, 0.0)
    v = np.take_along_axis(V, top[:, None, None], axis=2)[..., 0]
    q = np.einsum("bdm,bm->bd", Ns, v)
    A_c = NT @ theta[c] @ Ns
    A_0 = NT @ theta[0] @ Ns
    full = _noise_energy(A_c) * nu[c] + _noise_energy(A_0) * nu[0]
    dof = m * (m - 1) // 2
    if m > 1:
        rest = np.array([np.delete(np.arange(m), t) for t in top])
        W = np.take_along_axis(V, rest[:, None, :], axis=2)  # (b, m, m - 1)
        WT = np.swapaxes(W, 1, 2)
        expected = _noise_energy(WT @ A_c @ W) * nu[c] + _noise_energy(WT @ A_0 @ W) * nu[0]
        T = dof * resid / np.maximum(expected, 1e-300)
    else:
        T = np.zeros(b)
    dof_signal = m * (m + 1) // 2
    return {
        "T": T, "dof": dof, "T_signal": dof_signal * energy / np.maximum(full, 1e-300), "dof_signal": dof_signal,
        "score": np.where(energy > 0, top_val**2 / np.maximum(energy, 1e-300), 1.0), "q": q,
    }


def conditional_deviance(sigma, w, Q, Sy, q, candidates):
    """Invariance deviance of the new conditional ``y_t | y_<t`` for each candidate context.

    Parameters
    ----------
    sigma : (K+1, d, d) reduced sample covariances
    w : (K+1,) context weights
    Q : (t, d) current directions; Sy : (K+1, t, t) covariances of ``y_<t``
    q : (k, d) candidate directions; candidates : (k,) their contexts

    Returns
    -------
    dev : (k,); b : (k, K+1, t) and v : (k, K+1), the new covariance entries
    """
    Sq = np.einsum("cij,kj->kci", sigma, q)  # (k, K+1, d)
    b = Sq @ Q.T  # (k, K+1, t)
    v = np.einsum("kci,ki->kc", Sq, q)  # (k, K+1)
    t = Q.shape[0]
    k = len(candidates)
    wk = np.repeat(w[None], k, axis=0)
    wk[np.arange(k), candidates] = 0.0
    N = wk.sum(axis=1)
    if t:
        Sy_inv = np.linalg.inv(Sy)
        own = v - np.einsum("kct,cts,kcs->kc", b, Sy_inv, b)
        A = np.einsum("kc,cts->kts", wk, Sy)
        bb = np.einsum("kc,kct->kt", wk, b)
        pooled = np.einsum("kc,kc->k", wk, v) - np.einsum("kt,kt->k", bb, np.linalg.solve(A, bb[..., None])[..., 0])
    else:
        own = v
        pooled = np.einsum("kc,kc->k", wk, v)
    own = np.maximum(own, 1e-300)
    pooled = np.maximum(pooled / N, 1e-300)
    dev = N * np.log(pooled) - np.einsum("kc,kc->k", wk, np.log(own))
    return np.maximum(dev, 0.0), b, v


def beam_search(theta, w, *, beam_width: int) -> list[Path]:
    """Search peeling orders with a beam; returns the complete paths, cheapest first.

    A path's cost is the invariance deviance of its prefix given its
    directions (:func:`conditional_deviance` summed over positions). Paths
    reaching the same *set* of contexts span the same subspace in exact
    arithmetic and have the same future, so only the cheapest is kept; the
    beam then holds genuinely different hypotheses rather than reorderings
    of incomparable latents (at the last level every path has the full set,
    so nothing is merged there). Ties are broken deterministically by cost,
    then by the sequence of context indices.
    """
    d = theta.shape[1]
    K = theta.shape[0] - 1
    D = theta - theta[0]
    sigma = np.linalg.inv(theta)
    beam = [Path(0.0, (), np.zeros((0, d)), np.zeros((K + 1, 0, 0)), np.eye(d))]
    for level in range(d):
        last = level == d - 1
        children: dict = {}
        for path in beam:
            remaining = np.array([c for c in range(1, K + 1) if c not in path.order], dtype=np.intp)
            q, N_next = top_directions(D, remaining, path.N)
            dev, b, v = conditional_deviance(sigma, w, path.Q, path.Sy, q, remaining)
            for j, c in enumerate(remaining):
                order = path.order + (int(c),)
                cost = path.cost + float(dev[j])
                key = order if last else frozenset(order)
                old = children.get(key)
                if old is not None and (old.cost, old.order) <= (cost, order):
                    continue
                others = np.delete(dev, j)
                Sy = np.empty((K + 1, level + 1, level + 1))
                Sy[:, :level, :level] = path.Sy
                Sy[:, :level, level] = b[j]
                Sy[:, level, :level] = b[j]
                Sy[:, level, level] = v[j]
                children[key] = Path(
                    cost, order, np.vstack([path.Q, q[j]]), Sy, N_next[j],
                    path.increments + [float(dev[j])],
                    path.margins + [float(others.min() - dev[j]) if others.size else np.inf],
                )
        ranked = sorted(children.values(), key=lambda p: (p.cost, p.order))
        beam = ranked if last else ranked[:beam_width]
    return beam


def solve_given_flag(theta, U, order, Q, w, *, labels, psd_tol: float, floor: float) -> Solution:
    """Step B as the exact maximum-likelihood solution given the directions ``Q``.

    With ``L_c`` the Cholesky factor of ``Sy_c = Q sigma_c Q^T`` (so
    ``inv(L_c) y`` is white in context ``c``), the innovation of position
    ``s`` in its target context ``k`` is ``z_s / sd``: hence
    ``R[s] = inv(L_k)[s] / inv(L_k)[s, s]`` (``z_s`` independent of ``z_<s``;
    the reference's Cholesky step) and ``lambda_s = inv(L_k)[s, s]``. Row
    ``s`` of ``B0 R`` is row ``s`` of ``inv(Lp_k)``, with ``Lp_k`` the factor
    of the covariance pooled over the other ``K`` contexts (weighted), so
    ``B0`` uses every context in which latent ``s`` was not intervened on,
    where the reference uses context 0 alone. The target of each position is
    Step A's; nothing is re-assigned.
    """
    d = theta.shape[1]
    sigma = np.linalg.inv(theta)
    Sy = Q @ sigma @ Q.T
    Sy = (Sy + np.swapaxes(Sy, 1, 2)) / 2
    L = cholesky_stack(Sy, [f"context {labels[k]!r}" for k in range(len(Sy))], psd_tol=psd_tol, floor=floor)
    total = np.tensordot(w, Sy, axes=1)
    ctx = np.asarray(order)
    pooled = (total[None] - w[ctx, None, None] * Sy[ctx]) / (w.sum() - w[ctx])[:, None, None]
    names = [f"covariance pooled without context {labels[c]!r}" for c in ctx]
    Lp = cholesky_stack(pooled, names, psd_tol=psd_tol, floor=floor)  # (d, d, d): factor pooled without the context of position s
    Linv = np.linalg.inv(L[ctx])  # (d, d, d)
    Lpinv = np.linalg.inv(Lp)
    pos = np.arange(d)
    lam = Linv[pos, pos, pos]
    R = Linv[pos, pos, :] / lam[:, None]
    M = Lpinv[pos, pos, :]
    B0 = np.linalg.solve(R.T, M.T).T  # B0 = M inv(R), lower triangular
    B0 = np.tril(B0)
    own = np.log(np.diagonal(L, axis1=1, axis2=2) ** 2)  # (K+1, d)
    pooled_var = np.log(np.diagonal(Lp, axis1=1, axis2=2)[pos, pos] ** 2)  # (d,)
    wk = np.repeat(w[None], d, axis=0)
    wk[pos, ctx] = 0.0
    pos_dev = np.maximum(wk.sum(axis=1) * pooled_var - np.einsum("sc,cs->s", wk, own), 0.0)
    H = R @ Q
    _, cs = normalise_rows(H @ U.T)
    H = H / cs[:, None]
    B0 = B0 * cs[None, :]
    B0 = B0 * np.sign(np.diag(B0))[:, None]
    B = np.repeat(B0[None], theta.shape[0], axis=0)
    B[ctx, pos, :] = 0.0
    B[ctx, pos, pos] = lam * np.abs(cs)
    return Solution(H, B, float(pos_dev.sum()), pos_dev)


def flag_of(H: np.ndarray) -> np.ndarray:
    """Orthonormal ``Q`` with ``H = R Q``, ``R`` lower triangular: the flag of the rows of ``H``."""
    Qt, _ = np.linalg.qr(H.T)
    return Qt.T


def model_precisions(H, B):
    """``H^T B_k^T B_k H`` for each context."""
    T = B @ H
    return np.swapaxes(T, 1, 2) @ T


def deviances(theta, H, B, w):
    """Per-context Gaussian deviance (Stein loss) of the model against the sample precisions.

    ``w_k [tr(S Theta_model) - log det(S Theta_model) - d]`` with ``S = inv(theta_k)``.
    """
    d = theta.shape[1]
    P = np.linalg.solve(theta, model_precisions(H, B))
    tr = np.trace(P, axis1=1, axis2=2)
    sign, logdet = np.linalg.slogdet(P)
    dev = np.where(sign > 0, tr - logdet - d, np.inf)
    return np.maximum(dev, 0.0) * w


def factors(theta, H, *, psd_tol: float, floor: float, labels):
    """Unconstrained per-context triangular factors ``B_k`` in ``H``'s coordinates (PSD-safe)."""
    Hinv = np.linalg.inv(H)
    return np.stack(
        [
            reverse_cholesky(Hinv.T @ t @ Hinv, what=f"context {labels[k]!r}", psd_tol=psd_tol, floor=floor)
            for k, t in enumerate(theta)
        ]
    )


def position_dof(K: int, d: int) -> np.ndarray:
    """Degrees of freedom of each position's invariance deviance at the maximum-likelihood fit.

    Position ``s`` pools ``K`` contexts' regressions on ``s`` predictors
    (``(K - 1)(s + 1)`` constraints); the ``d (d - 1) / 2`` rotation angles of
    the flag fitted by maximum likelihood are attributed to the later
    position of each pair (``s`` of them to position ``s``). The total is
    ``K d (d + 1) / 2 - d^2``, the saturated model's parameters minus the
    model's.
    """
    s = np.arange(d)
    return np.maximum((K - 1) * (s + 1) - s, 0)


def effective_n(position_deviance, K: int, w_known: bool) -> float:
    """Calibration factor ``n`` for statistics computed with unit weights (1 when the sizes were given).

    Position ``s``'s invariance deviance is about ``chi2(dof_s) / n`` under the
    model (:func:`position_dof`); ``n`` is the inverse of the median over
    positions of ``deviance / median(chi2(dof_s))``, which tolerates a
    minority of misfitting positions. Exact (noiseless) inputs give the cap 1e12.
    """
    if w_known:
        return 1.0
    dof = position_dof(K, len(position_deviance))
    ok = dof > 0
    if not np.any(ok):
        return _N_MAX
    med = float(np.median(np.asarray(position_deviance)[ok] / chdtri(dof[ok], 0.5)))
    return _N_MAX if med <= 1.0 / _N_MAX else min(1.0 / med, _N_MAX)


def path_statistics(theta, order, Q, nu, n_eff):
    """Rank-one statistics of each pick of a complete path (already scaled by ``n_eff``)."""
    d = theta.shape[1]
    out = {k: np.zeros(d) for k in ("T", "dof", "pvalue", "T_signal", "dof_signal", "pvalue_signal", "score")}
    for s, c in enumerate(order):
        st = rank_one_stats(theta, c, complement(Q[:s], d)[None], nu)
        out["T"][s] = n_eff * st["T"][0]
        out["dof"][s] = st["dof"]
        out["T_signal"][s] = n_eff * st["T_signal"][0]
        out["dof_signal"][s] = st["dof_signal"]
        out["score"][s] = st["score"][0]
    out["pvalue"] = chi2_sf(out["T"], out["dof"])
    out["pvalue_signal"] = chi2_sf(out["T_signal"], out["dof_signal"])
    return out


def prune_partial_order(theta, order, nu, n_eff: float, alpha: float):
    """Ancestor sets by the calibrated leave-one-out rank-one test (linear_cd.md §4.2 step 3).

    For the context at position ``s``, each earlier position ``e`` is tested:
    project its difference against the partial-order directions of all
    earlier positions except ``e``; if the result is still rank one (p-value
    of the chi-squared statistic above ``alpha``), ``e`` is not needed and is
    not an ancestor. Survivors are closed transitively. The directions are
    the paper's (each projected against its own ancestors only), which is
    what lets the test separate ancestors from merely earlier latents.

    Returns
    -------
    ancestors : list of frozenset (positions)
    pvalues : ndarray (d, d), ``pvalues[s, e]`` of dropping ``e`` at ``s`` (NaN where not tested)
    """
    d = theta.shape[1]
    q_po = np.zeros((d, d))
    ancestors: list[frozenset] = []
    pvalues = np.full((d, d), np.nan)
    for s, c in enumerate(order):
        keep = set()
        if s:
            Ns = np.stack([complement(_orthonormal_rows(np.delete(q_po[:s], e, axis=0)), d) for e in range(s)])
            st = rank_one_stats(theta, c, Ns, nu)
            pv = chi2_sf(n_eff * st["T"], st["dof"])
            pvalues[s, :s] = pv
            keep = {e for e in range(s) if pv[e] <= alpha}
        anc = set(keep)
        for e in keep:
            anc |= ancestors[e]
        ancestors.append(frozenset(anc))
        N = complement(_orthonormal_rows(q_po[sorted(anc)]), d)
        q = rank_one_stats(theta, c, N[None], nu)["q"][0]
        q_po[s] = q / np.linalg.norm(q)
    return ancestors, pvalues


def _orthonormal_rows(A: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning the rows of ``A`` (which are linearly independent here)."""
    if A.shape[0] == 0:
        return A.reshape(0, A.shape[-1] if A.ndim == 2 else 0)
    Qf, _ = np.linalg.qr(A.T)
    return Qf.T
