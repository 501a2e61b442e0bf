"""Interventional and representation settings: linear SCMs, polynomial decoders, segments, labels, actions.

Each function takes explicit arguments and returns an
:class:`~identifiability.theory.Identifiability` (see :mod:`identifiability.theory`).
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_int
from identifiability.theory._core import (
    _INTERVENTION_KINDS,
    _NOT_COVERED,
    Identifiability,
    _check_bool_matrix,
    _check_dag_arg,
    _check_names,
    _fmt,
)

__all__ = [
    "linear_interventions",
    "action_latents",
    "polynomial_interventions",
    "ivae_segments",
    "labels_supervised",
]

# --------------------------------------------------------------------------- LinearCD


def linear_interventions(targets, *, kind: str = "perfect", graph=None, degenerate=(), names=None) -> Identifiability:
    """Linear latent SCM, linear mixing, interventions per context (Squires et al. 2023).

    Parameters
    ----------
    targets : ndarray of shape (n_envs, d), bool
        ``targets[e, j]``: context ``e`` intervenes on latent ``j``. All-False
        rows are observational contexts (row 0 by convention).
    kind : {"perfect", "soft", "scale", "shift"}
        ``"scale"`` (noise scale only) is a soft intervention; ``"shift"``
        (mean only) is invisible to second moments.
    graph : networkx.DiGraph or ndarray of shape (d, d), optional
        The latent DAG (``A[i, j] != 0`` iff ``i -> j``; nodes in column
        order of ``targets``); gives the identified partial order in
        ``details``.
    degenerate : iterable of int
        Latents whose intervention keeps the target's noise scale
        (``lambda = (B0)_jj``), which makes the context invisible to second
        moments (``linear_cd.md`` §3).
    names : sequence of str, optional
        Latent names for messages.

    Returns
    -------
    Identifiability
        ``permutation_scaling`` for one perfect intervention per latent,
        ``ancestors`` for one soft intervention per latent, else not identifiable.
    """
    T = _check_bool_matrix(targets)
    check_choice(kind, "kind", _INTERVENTION_KINDS)
    E, d = T.shape
    names = _check_names(names, d)
    deg = sorted({check_int(j, "degenerate", minimum=0, maximum=d - 1) for j in degenerate})
    A = _check_dag_arg(graph, d) if graph is not None else None
    obs = np.flatnonzero(~T.any(axis=1))
    inter = np.flatnonzero(T.any(axis=1))
    counts = T.sum(axis=0)
    missing = [int(j) for j in np.flatnonzero(counts == 0)]
    multi = [int(e) for e in inter if T[e].sum() > 1]
    dup = [int(j) for j in np.flatnonzero(counts > 1)]
    details: dict[str, Any] = {
        "kind": kind,
        "unintervened_latents": tuple(missing),
        "degenerate_targets": tuple(deg),
        "observational_contexts": tuple(int(e) for e in obs),
        "multi_target_contexts": tuple(multi),
        "repeated_targets": tuple(dup),
    }
    ref = "linear_cd.md §3"

    def no(reason):
        return Identifiability(False, None, reason, details=details, reference=ref)

    if kind == "shift":
        return no(
            f"{_NOT_COVERED} mean-shift interventions for linear causal disentanglement: a shift leaves "
            "the context's covariance unchanged, so every context is invisible to Squires et al.'s "
            "second-moment theorem"
        )
    if missing or deg:
        parts = []
        if missing:
            parts.append(
                f"{_fmt(missing, names)} {'has' if len(missing) == 1 else 'have'} no intervention; "
                "Squires et al. 2023 show that when a latent lacks an intervention there are distinct "
                "models with identical data (worst-case necessity; graph-specific partial "
                "identifiability is not claimed)"
            )
        if deg:
            parts.append(
                f"the intervention on {_fmt(deg, names)} keeps the target's noise scale "
                "(lambda equal to the B0 diagonal): after projecting out the ancestors the context's "
                "precision difference is exactly zero, so the context is invisible to second moments "
                "(degenerate case, linear_cd.md §3 [derived]); the latent effectively lacks an "
                "intervention (whether the theorem excludes this by genericity is unverified)"
            )
        return no("not identifiable: " + "; ".join(parts))
    if obs.size == 0:
        return no(
            f"{_NOT_COVERED} interventional contexts without an observational one: Squires et al. "
            "assume context 0 is observational"
        )
    if multi:
        return no(
            f"{_NOT_COVERED} multi-target interventions: contexts {multi} intervene on several latents, "
            "while Squires et al.'s theorem assumes one single-target intervention per latent"
        )
    if dup:
        return no(
            f"{_NOT_COVERED} repeated targets: {_fmt(dup, names)} {'is' if len(dup) == 1 else 'are'} "
            "intervened in several contexts, while Squires et al.'s theorem assumes exactly one context "
            "per latent (K = d); every latent does have a single-target intervention"
        )
    if A is not None:
        closure = nx.transitive_closure_dag(nx.DiGraph(A))
        details["ancestor_pairs"] = tuple(sorted((int(u), int(v)) for u, v in closure.edges))
    if kind == "perfect":
        return Identifiability(
            True,
            "permutation_scaling",
            "Squires et al. 2023, Thm. 1: one perfect intervention per latent identifies H and B up to "
            "permutation and scaling (sign included), together with the latent DAG and the unknown "
            f"targets of the {len(inter)} interventional contexts",
            details=details,
            reference=ref,
        )
    return Identifiability(
        True,
        "ancestors",
        "ancestors (the project's reading, linear_cd.md §3 [derived]): with one soft intervention per "
        "latent that changes the target's noise scale, step A of the partial-order RQ decomposition still "
        "recovers Q and the ancestor sets, so the transitive closure of the latent DAG is identified and H "
        "only up to mixing each row with its ancestors' rows; Leyes Carreno, Meroni and Seigal (2024) state, "
        "for soft interventions, that only a class of compatible latent graphs is identifiable and that "
        "transitive closures can be recovered (the ICML paper's own wording on soft interventions is unverified)",
        details=details,
        reference=ref + "; Leyes Carreno et al. 2024",
    )

# --------------------------------------------------------------------------- representation settings


def action_latents(M=None, *, k: int, d: int) -> Identifiability:
    """Exogenous actions moving the latents linearly (Rep4Ex; Saengkyongam et al., ICLR 2024).

    Parameters
    ----------
    M : ndarray of shape (d, k), optional
        The action matrix ``M0`` in ``Z = M0 A + V``; its rank is checked
        when given, assumed full otherwise.
    k : int
        Action dimension.
    d : int
        Latent dimension.

    Returns
    -------
    Identifiability
        ``affine`` when ``M0`` has full row rank (so ``k >= d``), else not identifiable.
    """
    k = check_int(k, "k", minimum=1)
    d = check_int(d, "d", minimum=1)
    details: dict[str, Any] = {"k": k, "d": d, "rank": None}
    ref = "rep4ex.md §1, §2"
    rank_note = " (full row rank of M0 assumed: no M given)"
    if M is not None:
        M = np.asarray(M, dtype=float)
        if M.shape != (d, k) or not np.all(np.isfinite(M)):
            raise ValidationError(f"M: expected a finite array of shape (d, k) = ({d}, {k}), got shape {M.shape}")
        details["rank"] = int(np.linalg.matrix_rank(M))
        rank_note = f" (rank of M0 is {details['rank']})"
    if k < d or (details["rank"] is not None and details["rank"] < d):
        why = f"k = {k} actions for d = {d} latents" if k < d else f"M0 has rank {details['rank']} < d = {d}"
        return Identifiability(
            False, None,
            f"not identifiable: {why}; Saengkyongam et al. 2024 need M0 of full row rank, otherwise the "
            "actions move only a subspace of the latents and the linear invariance constraint cannot pin "
            "down the other directions",
            details=details, reference=ref,
        )
    return Identifiability(
        True, "affine",
        "Saengkyongam et al. 2024 (ICLR), Thm. 6: with Z = M0 A + V, M0 of full row rank" + rank_note
        + ", V with full support and an injective g0, an injective encoder satisfying the linear invariance "
        "constraint identifies g0^-1 up to an invertible affine map, which is all intervention extrapolation needs",
        details=details, reference=ref,
    )


def polynomial_interventions(targets, *, degree: int, kind: str = "do") -> Identifiability:
    """Polynomial decoder with interventional data (Ahuja et al., ICML 2023).

    Parameters
    ----------
    targets : ndarray of shape (n_envs, d), bool
        All-False rows are observational.
    degree : int, >= 1
        Degree of the polynomial decoder.
    kind : str
        ``"do"``: the target is set to a constant (Ahuja et al.'s do); any
        other kind (stochastic perfect, soft, ...) counts as imperfect.

    Returns
    -------
    Identifiability
        ``permutation_scaling`` when every latent has a single-target do
        context, else ``affine`` (with the individually identified latents in
        ``details``).
    """
    T = _check_bool_matrix(targets)
    degree = check_int(degree, "degree", minimum=1)
    if not isinstance(kind, str):
        raise ValidationError(f"kind: expected a string, got {type(kind).__name__}")
    d = T.shape[1]
    single = T[T.sum(axis=1) == 1]
    done = sorted(int(j) for j in np.flatnonzero(single.any(axis=0))) if kind == "do" else []
    details = {"degree": degree, "kind": kind, "individually_identified": tuple(done),
               "not_individually_identified": tuple(j for j in range(d) if j not in done)}
    ref = "multiview_and_interventional.md B3"
    stage1 = (
        f"Ahuja et al. 2023 (ICML): a polynomial decoder of known degree ({degree}) identifies the latents "
        "up to an invertible affine map from the (pooled) data"
    )
    if kind == "do" and len(done) == d:
        return Identifiability(
            True, "permutation_scaling",
            stage1 + "; with a do-intervention (target set to a constant) on every latent, each latent is "
            "identified up to permutation, scaling and shift, with no assumption on the latent distribution or graph",
            details=details, reference=ref,
        )
    if kind != "do":
        tail = (f"; {kind} interventions are not Ahuja et al.'s do (target fixed to a constant); their block-affine "
                "result needs the target's support to become independent of the others, which is not checked "
                "here, so only affine is claimed")
    elif done:
        tail = (f"; do-interventions cover only latents {done} (identified individually up to scaling, as the "
                "do-result is stated per intervened latent), so the rest stays affine")
    else:
        tail = "; there is no do-intervention, so affine is all that is identified"
    return Identifiability(True, "affine", stage1 + tail, details=details, reference=ref)


def ivae_segments(n_segments: int, d: int) -> Identifiability:
    """Conditionally factorial Gaussian prior given a segment index (iVAE; Khemakhem et al., AISTATS 2020).

    Parameters
    ----------
    n_segments : int
        Number of distinct values of the auxiliary variable ``u``.
    d : int
        Latent dimension.

    Returns
    -------
    Identifiability
        ``permutation_scaling`` (with caveats) when ``n_segments >= 2 d + 1``,
        else not identifiable (a warning-level reason).
    """
    n_segments = check_int(n_segments, "n_segments", minimum=1)
    d = check_int(d, "d", minimum=1)
    need = 2 * d + 1
    details = {"n_segments": n_segments, "required_segments": need}
    ref = "multiview_and_interventional.md C2"
    if n_segments < need:
        return Identifiability(
            False, None,
            f"warning: only {n_segments} segments for d = {d} latents; Khemakhem et al. 2020 need at least "
            f"2d + 1 = {need} segments with Gaussian sufficient statistics (z_i, z_i^2), so the iVAE "
            "identifiability result does not apply",
            details=details, reference=ref,
        )
    return Identifiability(
        True, "permutation_scaling",
        f"Khemakhem et al. 2020 (iVAE), as commonly stated: with {n_segments} >= 2d + 1 = {need} segments the "
        "sufficient statistics are identified up to an affine map and, under further conditions, the latents "
        "up to permutation and componentwise maps. Caveat: the invertibility of the natural-parameter "
        "differences and the conditional independence of the latents given u are not checked, and the "
        "theorem's exact conditions are unverified",
        details=details, reference=ref,
    )


def labels_supervised(n_labelled: int, n_latents: int | None = None, *, graph_known: bool = True) -> Identifiability:
    """Weak supervision by labelled causal factors (DEAR; Shen et al., JMLR 2022), e.g. Pendulum.

    Parameters
    ----------
    n_labelled : int
        Number of labelled factors (the first ``n_labelled`` latents).
    n_latents : int, optional
        Total latent dimension (labelled + style); default ``n_labelled``.
    graph_known : bool
        Whether a correct super-graph of the factors is given.

    Returns
    -------
    Identifiability
        ``permutation_monotone`` on the labelled block; no claim on style dims.
    """
    m = check_int(n_labelled, "n_labelled", minimum=1)
    k = m if n_latents is None else check_int(n_latents, "n_latents", minimum=m)
    labelled, style = frozenset(range(m)), tuple(range(m, k))
    details = {"labelled": tuple(range(m)), "style_dims": style, "graph_known": bool(graph_known)}
    reason = (
        "DEAR (Shen et al. 2022), supervised-loss argument (dear.md [derived]): the population minimiser pins each "
        "labelled coordinate to a strictly monotone function of its label (E[y_i | x] for l2 on z-scored labels, "
        "its logit for ce), so the labelled factors are identified up to elementwise monotone maps, their order "
        "fixed by the labels"
    )
    reason += f"; no claim on the {len(style)} style dims" if style else "; there are no style dims"
    reason += (
        "; DEAR's own theorem also needs a correct super-graph (statement unverified)" if graph_known
        else "; no super-graph is given, so DEAR's theorem does not apply, only the supervised-loss argument"
    )
    return Identifiability(True, "permutation_monotone", reason, blocks=(labelled,), details=details, reference="dear.md")
