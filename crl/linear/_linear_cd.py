"""The LinearCD learner: partial-order RQ with a likelihood-scored beam search and ML refinement."""

from __future__ import annotations

import logging
import warnings

import numpy as np

from crl.base import BaseLearner, Claim, check_is_fitted
from crl.exceptions import (
    DegenerateDataWarning,
    IdentifiabilityWarning,
    NotIdentifiableError,
    ValidationError,
)
from crl.linear import _refine, _rq, _stats, _util
from crl.validation import check_array, check_choice, check_float, check_int

__all__ = ["LinearCD"]

logger = logging.getLogger(__name__)

#: Hypotheses within this deviance (calibrated chi-squared units) of the best one are also refined.
_REFINE_MARGIN = 50.0
#: A pick is declared invisible only if its relative signal is also below this fraction of the median pick's.
_DEGENERATE_RATIO = 0.05
#: Level of the per-position goodness-of-fit test whose rejection is warned about.
_GOF_LEVEL = 1e-6
#: A deviance margin below this (a likelihood ratio below e) is reported as an ambiguous assignment.
_AMBIGUOUS = 2.0

_REFERENCE = "Squires, Seigal, Bhate, Uhler, Linear Causal Disentanglement via Interventions, ICML 2023"


class LinearCD(BaseLearner):
    """Linear causal disentanglement from one intervention per latent (partial-order RQ).

    Model (``linear_cd.md`` §2): latents ``Z`` (d) follow a linear SEM, the
    observations are ``X = G Z`` with ``G`` (p, d) of full column rank, and
    there are ``K + 1`` contexts: context 0 observational, and in each
    context ``k = 1..K`` one unknown latent is intervened on. With
    ``B_k = Omega_k^{-1/2} (I - A_k)`` the observed precision of context
    ``k`` is ``Theta_k = H^T B_k^T B_k H`` with ``H = pinv(G)``. The learner
    returns ``H`` (rows normalised), every ``B_k``, the latent DAG and each
    context's target, up to permutation and scaling (perfect
    interventions) or up to ancestors (soft interventions).

    Algorithm and why it is more robust than the reference
    -------------------------------------------------------
    1. **Sufficient statistics, rank d.** Per-context sample covariances;
       ``U`` (p, d) = top-``d`` eigenvectors of the pooled covariance and
       ``theta_k = inv(U^T cov_k U)`` (``rank_truncate=True``; the reference
       takes ``pinv`` of the full covariance, which breaks under observation
       noise). Everything after is on d × d matrices: O(K n p^2) for the
       covariances, O(p^3 + K p^2 d) to project, then a solve that depends on
       neither ``n`` nor ``p``.
    2. **Peeling by Gram-Schmidt.** For any ancestor-closed set of found
       latents containing the parents of ``i``, the difference
       ``theta_k - theta_0`` of the context targeting ``i``, projected off
       their rows of ``H``, is rank one. So *any* linear extension of the
       latent partial order can be peeled with orthonormal directions (the
       top eigenvector of each pick's projected difference), which makes
       every step a d × d eigenproblem (:mod:`crl.linear._rq`).
    3. **Scoring hypotheses by likelihood, not by a rank-one ratio.** In the
       coordinates of a correct peeling order, the conditional law of latent
       position ``s`` given the earlier ones is the same in every context
       except its target's. The reference ranks candidates by ``σ1²/Σσ²`` of
       the picked context alone, a scale-free ratio compared across contexts
       of very different signal strength, and takes the greedy argmax, so
       one wrong pick corrupts every later projection. Here each prefix is
       scored by the likelihood-ratio statistic of its invariance
       constraints (a Bartlett-type test pooling all ``K + 1`` contexts,
       picked or not), which is far more selective, and a **beam** of
       ``beam_width`` hypotheses is kept. Prefixes reaching the same set of
       contexts span the same subspace in exact arithmetic and are merged,
       so the beam holds different sets rather than reorderings of
       incomparable latents. Ties: lower cost, then the lexicographically
       smaller context sequence (deterministic).
    4. **Step B as a closed-form maximum likelihood, with Step A's labels.**
       Given the directions, the model (every earlier latent a potential
       parent) is a product of regressions: ``R[s]`` comes from the target
       context's regression (the reference's Cholesky step) and row ``s`` of
       ``B0`` from the regression pooled over the other ``K`` contexts (the
       reference uses context 0 alone). Targets are Step A's; the
       reference's second assignment by row norm is only reported
       (``diagnostics_["rownorm_agreement"]``). Every complete hypothesis in
       the beam is solved this way and the lowest deviance wins.
       Factorisations are PSD-safe: symmetrised, round-off eigenvalues
       clipped at ``eig_floor × max``, a clearly indefinite matrix raises
       :class:`CRLError` naming the context (the reduced matrices are
       congruences of positive definite ones, so valid inputs never raise).
    5. **Likelihood refinement** (``refine=True``): Fisher scoring of the
       Gaussian likelihood of all contexts over ``H`` and ``B0`` (the target
       scales absorbed by ``H``), from the closed form, for the best
       hypothesis and any within a few chi-squared units of it, which are
       then re-ranked (:mod:`crl.linear._refine`). It reaches the maximum
       likelihood in 2-4 steps where first-order methods need thousands at
       d = 20.
    6. **Calibrated tests instead of γ = 0.99.** The residual of a rank-one
       fit, divided by its expectation under Wishart noise, is
       approximately chi-squared (:mod:`crl.linear._rq`). It drives the
       reference's leave-one-out ancestor test (on the paper's directions,
       projected against ancestors only; closed transitively) at level
       ``rank_threshold``, and the check that every pick's projected
       difference is significantly non-zero: an invisible context (a perfect
       intervention that keeps the target's noise scale,
       ``lambda = (B0)_ii``) raises :class:`NotIdentifiableError` (or warns,
       ``on_degenerate="warn"``). A per-position goodness-of-fit test warns
       (:class:`IdentifiabilityWarning`) when the fitted model is rejected
       (with ``refine=True`` only: it needs the maximum-likelihood fit).
       ``fit_residual_`` is the reference's ``check_solution`` residual.

    When the sample sizes are unknown (:meth:`fit_statistics` without
    ``n_per_context``) the noise scale ``1/n`` of the tests is estimated from
    the fit itself (median over positions of deviance / its chi-squared
    median), which tolerates a minority of misfitting positions; exact
    (noiseless) inputs give an effective ``n`` capped at 1e12. Ambiguous
    assignments (another hypothesis within a likelihood ratio of ``e``) are
    logged as warnings.

    Parameters
    ----------
    n_latents : int, optional
        Number of latents ``d``. ``None`` estimates it from the spectrum: the
        number of eigenvalues of the pooled covariance (or of the
        scale-normalised summed precisions, for :meth:`fit_statistics`)
        above ``spectrum_tol`` times the largest one. This is right for
        noiseless ``X = G Z`` with ``p > d`` and for rank-``d`` precisions;
        with observation noise the spectrum has full rank, so pass
        ``n_latents``.
    interventions : {"perfect", "soft"}
        Switches the claim (:attr:`claims`). ``"perfect"`` claims
        ``permutation_scaling``. ``"soft"`` (parents kept, weights and noise
        scale changed) claims only ``ancestors``: the peeling and the
        invariance score still hold, so the partial order (transitive
        closure) is identified, but ``H`` only up to mixing each row with its
        ancestors' rows, and ``B_`` then describes that mixed basis. The
        computation is the same; only the claim and its requirements change.
    rank_threshold : float in (0, 1)
        Level of the calibrated rank-one test: a projected difference is
        declared rank one when the p-value of its residual statistic is
        above ``rank_threshold`` (used to prune non-ancestors), and a context
        is declared invisible (degenerate) when its projected difference is
        not significantly non-zero at this level. Replaces the reference's
        fixed ``γ = 0.99`` on ``σ1²/Σσ²``.
    beam_width : int
        Hypotheses kept while peeling; 1 is a greedy search like the
        reference's (still with the likelihood score).
    refine : bool
        Refine the closed-form solution by maximum likelihood (Fisher scoring).
    rank_truncate : bool
        Project onto the top-``d`` eigenvectors of the pooled covariance
        before inverting (recommended with observation noise). ``False``
        follows the reference: ``pinv`` of each full covariance.
    edge_threshold : float
        ``latent_graph_`` keeps edges whose structural coefficient
        ``|w_ji| = |B0[i, j] / B0[i, i]|`` exceeds this (in the scale of
        ``transform``'s output, which is the scale of the normalised rows).
    spectrum_tol : float
        Relative eigenvalue tolerance for the rank of the inputs (estimate
        of ``d``; singular contexts).
    psd_tol, eig_floor : float
        A matrix to be factored whose smallest eigenvalue is below
        ``-psd_tol × max`` raises :class:`CRLError`; otherwise eigenvalues
        are clipped at ``eig_floor × max``.
    on_degenerate : {"raise", "warn"}
        What to do with an invisible context: raise
        :class:`NotIdentifiableError`, or warn
        (:class:`DegenerateDataWarning`) and return the estimate with
        ``degenerate_contexts_`` set (unreliable for that latent and its
        descendants). It raises only when the fit passes the goodness-of-fit
        test (``refine=True``); otherwise a failed search is as likely an
        explanation, so it warns.

    Attributes
    ----------
    n_latents_ : int
    contexts_ : ndarray (K+1,)
        Context labels in sorted order (index 0: the observational context).
    unmixing_ : ndarray of shape (d, p)
        ``H``: ``Ẑ = X @ unmixing_.T``. Each row is divided by its signed
        largest-magnitude entry (that entry is +1). Row order is a
        topological order of the estimated DAG (sources first).
    mixing_ : ndarray of shape (p, d)
        ``pinv(unmixing_)``: ``X ≈ Ẑ @ mixing_.T``.
    B_ : ndarray of shape (K+1, d, d)
        ``B_[k]`` per context (``B_[0] = B0``); rows are structural
        equations: ``B[i, j] != 0`` for ``j`` a parent of ``i`` (the
        transpose of the adjacency orientation), positive diagonal.
    latent_weights_ : ndarray of shape (d, d)
        ``B0``.
    adjacency_ : ndarray of shape (d, d)
        Structural coefficients in the project orientation:
        ``adjacency_[j, i] = -B0[i, j] / B0[i, i]`` (``j -> i``), thresholded
        at ``edge_threshold``.
    latent_graph_ : networkx.DiGraph
        Nodes ``Zhat0..`` in the column order of ``transform``'s output
        (``latent=True``), edges ``j -> i`` with ``weight = adjacency_[j, i]``
        and ``mark="-->"``; ``graph["kind"] == "dag"``.
    partial_order_ : networkx.DiGraph
        The transitive closure found by the ancestor test (``u -> v``: ``u``
        is an ancestor of ``v``), same nodes; edges go from lower to higher
        index.
    targets_ : ndarray of shape (K+1,), int
        Estimated latent intervened in each context (order of
        ``contexts_``), ``-1`` for the observational context.
    lambdas_ : ndarray of shape (K+1,)
        Target scale ``B_k[t, t]`` of each context (NaN for context 0).
    fit_residual_ : ndarray of shape (K+1,)
        ``||theta_k - H^T B_k^T B_k H||_F / ||theta_k||_F`` in the reduced
        coordinates (``check_solution``).
    deviance_ : float
        Gaussian deviance of the chosen model against the sample
        covariances (likelihood-ratio statistic against context-specific
        covariances), in chi-squared units: about
        ``K d (d + 1) / 2 - d^2`` when the model holds.
    scores_ : dict
        Arrays over positions (picks): ``score`` (the reference's σ1²/Σσ²),
        ``statistic``, ``dof`` and ``pvalue`` (calibrated rank-one test),
        ``signal_pvalue`` (test that the projected difference is zero),
        ``invariance_deviance`` (the search score of each pick),
        ``margin`` (search score of the best alternative context at that
        step minus the chosen one's; negative where the beam overrode the
        greedy choice) and ``gof_pvalue`` (goodness of fit of each
        position; NaN with ``refine=False``); scalars ``deviance_margin`` (deviance of the best
        hypothesis with a different context-to-latent map minus the
        chosen one's; ``inf`` if none) and ``n_effective`` (the calibration
        ``n``: the mean context size when known, else estimated).
    diagnostics_ : dict
        ``perfectness`` (K+1,): norm of the off-diagonal entries of each
        target row of the per-context triangular factor, relative to its
        diagonal (zero for a perfect intervention); ``rownorm_agreement``:
        whether the reference's row-norm rule would pick the same targets;
        ``spectrum`` (of the pooled covariance or precisions);
        ``ancestor_pvalues`` (d, d); ``context_deviance`` (K+1,);
        ``beam``: order, cost and deviance of each final hypothesis.
    degenerate_contexts_ : tuple
        Context labels found invisible (only with ``on_degenerate="warn"``).

    Examples
    --------
    >>> import simulators
    >>> from crl.linear import LinearCD
    >>> P = simulators.scenario("linear_cd", random_state=0, sampling="wishart", n_per_env=100_000)
    >>> est = LinearCD().fit_statistics(P.statistics["precisions"])
    >>> est.unmixing_.shape, est.targets_.shape
    ((5, 10), (6,))
    """

    def __init__(
        self,
        n_latents=None,
        *,
        interventions="perfect",
        rank_threshold=1e-3,
        beam_width=8,
        refine=True,
        rank_truncate=True,
        edge_threshold=0.1,
        spectrum_tol=1e-8,
        psd_tol=1e-8,
        eig_floor=1e-12,
        on_degenerate="raise",
    ):
        self.n_latents = n_latents
        self.interventions = interventions
        self.rank_threshold = rank_threshold
        self.beam_width = beam_width
        self.refine = refine
        self.rank_truncate = rank_truncate
        self.edge_threshold = edge_threshold
        self.spectrum_tol = spectrum_tol
        self.psd_tol = psd_tol
        self.eig_floor = eig_floor
        self.on_degenerate = on_degenerate

    @property
    def claims(self) -> Claim:
        """``permutation_scaling`` under perfect interventions; ``ancestors`` when ``interventions="soft"``."""
        if self.interventions == "soft":
            return Claim(
                "ancestors",
                requires={
                    "latent_model": "linear", "mixing": "linear", "interventions": ("perfect", "soft"),
                    "one_per_latent": True,
                },
                reference=_REFERENCE + "; linear_cd.md §3 (soft interventions: transitive closure)",
            )
        return Claim(
            "permutation_scaling",
            requires={"latent_model": "linear", "mixing": "linear", "interventions": "perfect", "one_per_latent": True},
            reference=_REFERENCE + ", Thm. 1",
        )

    # ------------------------------------------------------------------ validation

    def _check_params(self):
        check_choice(self.interventions, "interventions", ("perfect", "soft"))
        check_choice(self.on_degenerate, "on_degenerate", ("raise", "warn"))
        check_float(self.rank_threshold, "rank_threshold", minimum=0.0, maximum=1.0, strict_min=True)
        check_int(self.beam_width, "beam_width", minimum=1)
        check_float(self.edge_threshold, "edge_threshold", minimum=0.0)
        for name in ("spectrum_tol", "psd_tol", "eig_floor"):
            check_float(getattr(self, name), name, minimum=0.0, maximum=1.0, strict_min=True)
        for name in ("refine", "rank_truncate"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValidationError(f"{name}: expected a bool, got {getattr(self, name)!r}")
        if self.n_latents is not None:
            check_int(self.n_latents, "n_latents", minimum=1)

    def _check_d(self, d: int, p: int, K: int) -> None:
        if d > p:
            raise ValidationError(
                f"n_latents: expected at most p = {p} latents (X = G Z needs G of full column rank), got {d}"
            )
        if K < d:
            raise NotIdentifiableError(
                f"contexts: expected one interventional context per latent ({d} for n_latents = {d}), got {K}; "
                "with fewer contexts than latents some latent has no intervention and the model is not "
                f"identifiable (Squires et al. 2023: distinct models give identical data)"
                + ("" if self.n_latents is not None else "; n_latents was estimated from the spectrum")
            )
        if K > d:
            raise ValidationError(
                f"contexts: expected exactly one interventional context per latent ({d}), got {K}; "
                "LinearCD assumes K = d (repeated targets are not supported)"
            )

    # ------------------------------------------------------------------ fitting

    def fit(self, X, env=None, **kwargs):
        """Fit from raw data with a context label per row.

        Parameters
        ----------
        X : array-like of shape (n, p)
            Observations (numpy array or DataFrame).
        env : array-like of shape (n,), int
            Context of each row; label 0 is the observational context, the
            other labels (sorted) are the interventional ones.
        **kwargs
            Other fields of a problem (ignored).

        Returns
        -------
        self
        """
        self._check_params()
        X = check_array(X, "X", min_rows=2)
        if env is None:
            raise ValidationError("env: expected the context label of each row, got None")
        env = check_array(env, "env", ndim=1, dtype=None)
        if env.shape[0] != X.shape[0] or env.dtype.kind not in "iu":
            raise ValidationError(
                f"env: expected an int array with one label per row of X ({X.shape[0]}), "
                f"got shape {env.shape} and dtype {env.dtype}"
            )
        if not np.any(env == 0):
            raise ValidationError(f"env: expected the observational context labelled 0, got labels {np.unique(env).tolist()}")
        p = X.shape[1]
        labels, covs, counts = _stats.context_covariances(X, env)
        pooled, spectrum, d = _stats.pooled_spectrum(covs, counts, self._d_for(p), spectrum_tol=self.spectrum_tol)
        _stats.check_counts(labels, counts, d)
        self._check_d(d, p, len(labels) - 1)
        U, theta = _stats.reduce_covariances(
            covs, pooled, labels, d, spectrum_tol=self.spectrum_tol, rank_truncate=self.rank_truncate
        )
        return self._solve(U, theta, labels, 1.0 / counts, True, spectrum, p, d)

    def fit_statistics(self, precisions, *, n_per_context=None):
        """Fit from per-context precision matrices (e.g. ``Problem.statistics["precisions"]``).

        Parameters
        ----------
        precisions : array-like of shape (K+1, p, p)
            ``pinv`` of each context's covariance, context 0 observational.
            Rank ``d`` (noiseless or Wishart-drawn) or full rank.
        n_per_context : int or array-like of shape (K+1,), optional
            Samples behind each matrix; calibrates the rank-one test and
            weights the deviance. Unknown: estimated from the data.

        Returns
        -------
        self
        """
        self._check_params()
        P = _stats.check_precisions(precisions, psd_tol=self.psd_tol)
        p = P.shape[1]
        if self.n_latents is not None:
            self._check_d(self._d_for(p), p, P.shape[0] - 1)
        U, theta, d, spectrum = _stats.reduce_precisions(
            P, self._d_for(p), spectrum_tol=self.spectrum_tol, rank_truncate=self.rank_truncate
        )
        labels = list(range(P.shape[0]))
        if n_per_context is None:
            nu, known = np.ones(P.shape[0]), False
        else:
            n = np.broadcast_to(np.asarray(n_per_context), (P.shape[0],))
            if n.dtype.kind not in "iuf" or not np.all(np.isfinite(n)) or np.any(n <= d):
                raise ValidationError(
                    f"n_per_context: expected sample sizes larger than n_latents = {d}, got {np.asarray(n_per_context)!r}"
                )
            nu, known = 1.0 / n.astype(float), True
        return self._solve(U, theta, labels, nu, known, spectrum, p, d)

    def _d_for(self, p):
        if self.n_latents is not None and self.n_latents > p:
            raise ValidationError(
                f"n_latents: expected at most p = {p} latents (X = G Z needs G of full column rank), got {self.n_latents}"
            )
        return self.n_latents

    def _solve(self, U, theta, labels, nu, nu_known, spectrum, p, d):
        K = theta.shape[0] - 1
        self._check_d(d, p, K)
        # the solve works on d x d matrices: BLAS threads only cost synchronisation (badly so on a busy machine)
        with _util.single_threaded_blas():
            return self._solve_small(U, theta, labels, nu, nu_known, spectrum, d)

    def _solve_small(self, U, theta, labels, nu, nu_known, spectrum, d):
        K = theta.shape[0] - 1
        w = 1.0 / nu
        tol = {"psd_tol": self.psd_tol, "floor": self.eig_floor}
        beam = _rq.beam_search(theta, w, beam_width=self.beam_width)
        candidates = []
        for path in beam:
            sol = _rq.solve_given_flag(theta, U, path.order, path.Q, w, labels=labels, **tol)
            candidates.append([sol.deviance, path.cost, path.order, path, sol])
        candidates.sort(key=lambda c: (c[0], c[1], c[2]))
        if self.refine:
            # refine the hypotheses whose deviance is within reach of the best one's, then re-rank; the
            # refined solution is re-expressed through its own flag, so its per-position deviances are
            # those of the maximum-likelihood fit (the closed form at Step A's directions overstates them)
            n0 = _rq.effective_n(candidates[0][4].position_deviance, K, nu_known)
            best = candidates[0][0]
            for cand in candidates:
                if cand is candidates[0] or n0 * (cand[0] - best) <= _REFINE_MARGIN:
                    ref = _refine.refine(theta, U, cand[2], cand[4], w)
                    if ref is not cand[4]:
                        Q = _rq.flag_of(ref.H)
                        flag = _rq.solve_given_flag(theta, U, cand[2], Q, w, labels=labels, **tol)
                        ref = flag if flag.deviance <= ref.deviance * (1 + 1e-9) + 1e-300 else ref
                    cand[4] = ref
                    cand[0] = ref.deviance
            candidates.sort(key=lambda c: (c[0], c[1], c[2]))
        n_eff = _rq.effective_n(candidates[0][4].position_deviance, K, nu_known)
        _, _, order, path, sol = candidates[0]
        stats = _rq.path_statistics(theta, order, path.Q, nu, n_eff)
        # the goodness-of-fit test needs the maximum-likelihood fit: the closed form at Step A's
        # directions overstates the deviance (about twice at d = 5, far more at d = 20)
        gof = _rq.chi2_sf(n_eff * sol.position_deviance, _rq.position_dof(K, d))
        if not self.refine:
            gof = np.full(d, np.nan)
        rejected = np.flatnonzero(gof < _GOF_LEVEL)
        if rejected.size:
            warnings.warn(
                "LinearCD: the fitted model is rejected by its goodness-of-fit test at positions "
                f"{rejected.tolist()} (invariance p-values {', '.join(f'{gof[j]:.2g}' for j in rejected)}, "
                f"contexts {[labels[order[j]] for j in rejected]}): some structural equations are not "
                "invariant across the contexts that do not target them. Possible causes: a context invisible "
                "to second moments (lambda = B0 diagonal), a latent without an intervention, interventions on "
                "several latents, or a failed search (too few samples for this d); the estimate is unreliable",
                IdentifiabilityWarning,
                stacklevel=4,
            )
        degenerate = self._degenerate(order, stats, labels, n_eff, fits=self.refine and not rejected.size)
        ancestors, pvalues = _rq.prune_partial_order(theta, order, nu, n_eff, self.rank_threshold)
        self._store(U, theta, labels, order, sol, ancestors, pvalues, path, stats, candidates, n_eff, spectrum, d, w)
        self.degenerate_contexts_ = degenerate
        self.scores_["gof_pvalue"] = gof
        if nu_known:
            self.scores_["n_effective"] = float(np.mean(w))
        return self

    def _degenerate(self, order, stats, labels, n_eff, *, fits: bool):
        # invisible: not significantly non-zero at level rank_threshold AND a relative signal below
        # 1/20 of the typical pick's (a wrong pick elsewhere can depress the estimated noise level,
        # which alone would make a weak but real signal look insignificant)
        rel = stats["T_signal"] / (n_eff * np.maximum(stats["dof_signal"], 1))
        typical = float(np.median(rel))
        bad = [(labels[c], s, float(stats["pvalue_signal"][s])) for s, c in enumerate(order)
               if stats["pvalue_signal"][s] > self.rank_threshold and rel[s] < _DEGENERATE_RATIO * typical]
        if not bad:
            return ()
        msg = (
            "contexts "
            + ", ".join(f"{lab!r} (p-value {pv:.2g} at position {s})" for lab, s, pv in bad)
            + ": the precision difference, projected off the latents found before, is not significantly "
            "non-zero, so the context is invisible to second moments (a perfect intervention that keeps "
            "the target's noise scale, lambda = B0 diagonal; linear_cd.md §3); its latent effectively has "
            "no intervention and the assignment of that context is arbitrary"
        )
        if self.on_degenerate == "raise" and fits:
            raise NotIdentifiableError(msg + "; pass on_degenerate='warn' to get the (unreliable) estimate")
        if not fits:
            # with a rejected (or, without refinement, unchecked) fit the search may have failed, which
            # also leaves a pick without signal
            msg += " (or the search failed: the fit is rejected or, with refine=False, not checked)"
        warnings.warn(msg, DegenerateDataWarning, stacklevel=4)
        return tuple(lab for lab, _, _ in bad)

    def _store(self, U, theta, labels, order, sol, ancestors, pvalues, path, stats, candidates, n_eff, spectrum, d, w):
        K = theta.shape[0] - 1
        H = sol.H @ U.T
        H, _ = _stats.normalise_rows(H)
        self.n_latents_ = d
        self.contexts_ = np.asarray(labels)
        self.unmixing_ = H
        self.mixing_ = np.linalg.pinv(H)
        self.B_ = sol.B
        self.latent_weights_ = sol.B[0]
        self.n_features_in_ = H.shape[1]
        targets = np.full(K + 1, -1, dtype=np.intp)
        for s, c in enumerate(order):
            targets[c] = s
        self.targets_ = targets
        self.lambdas_ = np.array([np.nan] + [sol.B[c, targets[c], targets[c]] for c in range(1, K + 1)])
        B0 = sol.B[0]
        W = -(B0 / np.diag(B0)[:, None]).T  # W[j, i] = -B0[i, j] / B0[i, i]
        np.fill_diagonal(W, 0.0)
        W = np.triu(W, 1)  # parents precede children in position order
        W[np.abs(W) <= self.edge_threshold] = 0.0
        self.adjacency_ = W
        names = [f"Zhat{i}" for i in range(d)]
        self.latent_graph_ = _util.latent_graph(names, [(j, i, float(W[j, i])) for j, i in zip(*np.nonzero(W))])
        self.partial_order_ = _util.latent_graph(names, [(e, s, None) for s, anc in enumerate(ancestors) for e in sorted(anc)])
        model = _rq.model_precisions(sol.H, sol.B)
        self.fit_residual_ = np.linalg.norm(theta - model, axis=(1, 2)) / np.linalg.norm(theta, axis=(1, 2))
        self.deviance_ = float(n_eff * sol.deviance)
        self.scores_ = {
            "score": stats["score"],
            "statistic": stats["T"],
            "dof": stats["dof"],
            "pvalue": stats["pvalue"],
            "signal_pvalue": stats["pvalue_signal"],
            "invariance_deviance": n_eff * np.asarray(path.increments),
            "margin": n_eff * np.asarray(path.margins),
            "n_effective": float(n_eff),
            "deviance_margin": _util.deviance_margin(candidates, n_eff),
        }
        fac = _rq.factors(theta, sol.H, labels=labels, psd_tol=self.psd_tol, floor=self.eig_floor)
        perfect = np.zeros(K + 1)
        rownorm = []
        for s, c in enumerate(order):
            perfect[c] = np.linalg.norm(np.delete(fac[c, s], s)) / abs(fac[c, s, s])
            rownorm.append(int(np.argmax(np.linalg.norm(fac[c] - fac[0], axis=1))))
        self.diagnostics_ = {
            "perfectness": perfect,
            "rownorm_agreement": bool(rownorm == list(range(d))),
            "spectrum": spectrum,
            "ancestor_pvalues": pvalues,
            "context_deviance": n_eff * _rq.deviances(theta, sol.H, sol.B, w),
            "beam": [
                {"order": [int(labels[c]) for c in o], "cost": float(n_eff * cost), "deviance": float(n_eff * dv)}
                for dv, cost, o, _, _ in candidates
            ],
        }
        margin = self.scores_["deviance_margin"]
        if margin < _AMBIGUOUS:
            logger.warning(
                "LinearCD: ambiguous target assignment: another hypothesis fits almost as well "
                "(deviance margin %.3g); the estimate may be unreliable", margin,
            )
        logger.info("LinearCD: order %s, deviance %.4g, n_eff %.3g", [int(labels[c]) for c in order],
                    self.deviance_, n_eff)

    # ------------------------------------------------------------------ use

    def transform(self, X):
        """Estimated latents ``Ẑ = X @ unmixing_.T``, shape (n, d) (no centring)."""
        check_is_fitted(self, "unmixing_")
        X = check_array(X, "X")
        if X.shape[1] != self.unmixing_.shape[1]:
            raise ValidationError(f"X: expected {self.unmixing_.shape[1]} columns, got shape {X.shape}")
        return X @ self.unmixing_.T
