"""Latent matchings constrained by a causal order (LinearCD's metric, linear_cd.md §7.1).

LinearCD identifies latents up to permutation and scaling, with the extra
requirement that the estimated latents come in an order compatible with the
true latent DAG. The alignment therefore maximises agreement of the
intervention targets over permutations whose estimated index order is a
topological order of the truth. It is solved exactly as an integer program
(cvxpy with the HiGHS MIP solver) or, as a test oracle, by enumerating the
topological orders of the true DAG.
"""

from __future__ import annotations

import numbers

import numpy as np

from crl.exceptions import CRLError, ValidationError
from crl.graphs import topological_orders
from crl.validation import check_choice, check_int
from identifiability.graph_metrics import _require_dag, graph_endpoints

__all__ = ["topological_matching"]


def _parse_targets(targets, name: str, d: int) -> np.ndarray:
    """Targets as an int array of length K, ``-1`` for a context without a target."""
    try:
        arr = np.asarray(targets)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{name}: expected an int array (K,) or a bool array (K, d), got {type(targets).__name__}"
        ) from None
    if arr.ndim == 2:
        if arr.shape[1] != d or arr.dtype.kind not in "biuf":
            raise ValidationError(
                f"{name}: expected a one-hot bool array of shape (K, {d}), got shape {arr.shape} "
                f"and dtype {arr.dtype}"
            )
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValidationError(f"{name}: expected finite entries, got NaN or inf")
        hot = arr != 0
        counts = hot.sum(axis=1)
        if np.any(counts > 1):
            bad = np.flatnonzero(counts > 1).tolist()
            raise ValidationError(
                f"{name}: expected at most one target per context (row), got several in rows {bad}"
            )
        out = np.full(arr.shape[0], -1, dtype=np.intp)
        rows, cols = np.nonzero(hot)
        out[rows] = cols
        return out
    if arr.ndim != 1:
        raise ValidationError(f"{name}: expected shape (K,) or (K, {d}), got shape {arr.shape}")
    if arr.size and not all(
        isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in arr.tolist()
    ):
        raise ValidationError(
            f"{name}: expected integer latent indices (-1 for none), got {arr.tolist()!r}"
        )
    out = arr.astype(np.intp)
    if np.any((out < -1) | (out >= d)):
        raise ValidationError(
            f"{name}: expected indices in [0, {d - 1}] or -1 (no target), got {out.tolist()}"
        )
    return out


def _ilp(W: np.ndarray, edges: list[tuple[int, int]]) -> np.ndarray:
    import cvxpy as cp

    d = W.shape[0]
    X = cp.Variable((d, d), boolean=True)  # X[i, a] = 1: estimated i is true a
    position = np.arange(d) @ X  # position[a] = estimated index of true latent a
    constraints = [cp.sum(X, axis=1) == 1, cp.sum(X, axis=0) == 1]
    constraints += [position[u] + 1 <= position[v] for u, v in edges]
    problem = cp.Problem(cp.Maximize(cp.sum(cp.multiply(W, X))), constraints)
    try:
        problem.solve(solver=cp.HIGHS)
    except cp.SolverError as exc:
        raise CRLError(f"topological_matching: the HiGHS MIP solver failed ({exc})") from None
    if problem.status not in ("optimal", "optimal_inaccurate") or X.value is None:
        raise CRLError(
            f"topological_matching: expected an optimal ILP solution, got status {problem.status!r}"
        )
    return np.argmax(np.round(X.value), axis=1).astype(np.intp)


def topological_matching(
    true_dag,
    est_targets,
    true_targets,
    *,
    method: str = "ilp",
    max_orders: int = 100_000,
) -> dict:
    """Order-respecting latent permutation maximising the number of matched intervention targets.

    **Contract.** There are ``d`` true latents (indexed ``a = 0..d-1`` as in ``true_dag``)
    and ``d`` estimated latents (indexed ``i = 0..d-1`` in the estimate's
    order), and ``K`` contexts, the same contexts on both sides. The result
    ``permutation`` says that estimated latent ``i`` is true latent
    ``permutation[i]``. It maximises the number of contexts ``k`` with
    ``permutation[est_targets[k]] == true_targets[k]`` subject to the
    estimated index order being a topological order of the true DAG: the
    sequence ``permutation[0], ..., permutation[d-1]`` lists the true latents
    sources first, so every true edge ``a -> b`` has
    ``permutation⁻¹[a] < permutation⁻¹[b]``. (A learner that stores parents at
    *larger* indices, like LinearCD's reference, must reverse its indices
    first.) Ties between optimal permutations are broken by the solver
    (ILP) or by networkx's topological-sort sequence (brute force); the
    count ``n_matched`` is the same.

    Parameters
    ----------
    true_dag : ndarray of shape (d, d) or networkx.DiGraph
        The true latent DAG, ``A[a, b] != 0`` means ``a -> b``. For a graph
        the latent index is the position in ``G.nodes``.
    est_targets, true_targets : array-like
        Either int arrays of shape (K,) with the latent index targeted in
        context ``k`` (``-1``: no target, e.g. the observational context), or
        bool arrays of shape (K, d) with at most one True per row (an all-False
        row: no target), like ``Problem.truth.targets``. ``est_targets``
        indexes estimated latents, ``true_targets`` true latents. Contexts
        without a target on either side never count as matched.
    method : {"ilp", "brute_force"}
        ``"ilp"``: boolean assignment matrix ``X[i, a]`` with row and column
        sums 1, positions ``pos[a] = Σ_i i X[i, a]``, and ``pos[a] + 1 <= pos[b]``
        for every true edge ``a -> b``, solved with cvxpy + HiGHS.
        ``"brute_force"``: enumerate :func:`crl.graphs.topological_orders`.
    max_orders : int
        Brute force refuses DAGs with more topological orders than this.

    Returns
    -------
    dict
        - ``permutation``: int ndarray (d,), estimated index -> true index.
        - ``P``: float ndarray (d, d) with ``P[permutation[i], i] = 1``; it
          maps estimated coordinates to true ones: ``z ≈ P ẑ`` (rows of data:
          ``Ẑ @ P.T``), ``B ≈ P B̂ Pᵀ``; aligned targets are
          ``permutation[est_targets]``.
        - ``order``: list, the true topological order ``permutation.tolist()``.
        - ``n_matched`` (int), ``n_contexts`` (contexts with a target on both
          sides), ``fraction_matched`` (in [0, 1]; 1 when ``n_contexts`` is
          0), ``all_matched`` (bool), ``method``.

    Raises
    ------
    ValidationError
        Bad target shapes or indices, different numbers of contexts, too
        many orders for brute force.
    GraphTypeError, CyclicGraphError
        ``true_dag`` is not a DAG.
    CRLError
        The ILP solver fails.

    Examples
    --------
    True DAG ``0 -> 1``, ``0 -> 2``; contexts target true latents
    ``[0, 1, 2]`` and estimated latents ``[2, 0, 1]``. Without the order
    constraint ``permutation = [1, 2, 0]`` would match all 3 contexts, but it
    puts true latent 0 (the source) last. The order constraint forces
    ``permutation[0] = 0``; of ``[0, 1, 2]`` (0 matches) and ``[0, 2, 1]``
    (context 2 matches: ``permutation[1] = 2``) the second wins:

    >>> import numpy as np
    >>> A = np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]])
    >>> r = topological_matching(A, [2, 0, 1], [0, 1, 2], method="brute_force")
    >>> r["permutation"].tolist(), r["n_matched"]
    ([0, 2, 1], 1)
    """
    check_choice(method, "method", ("ilp", "brute_force"))
    max_orders = check_int(max_orders, "max_orders", minimum=1)
    nodes, E = graph_endpoints(true_dag, "true_dag")
    D = _require_dag(E, nodes, "true_dag")
    d = len(nodes)
    est = _parse_targets(est_targets, "est_targets", d)
    tru = _parse_targets(true_targets, "true_targets", d)
    if est.shape != tru.shape:
        raise ValidationError(
            f"est_targets: expected one entry per context like true_targets ({tru.shape[0]}), "
            f"got {est.shape[0]}"
        )
    valid = (est >= 0) & (tru >= 0)
    W = np.zeros((d, d))
    np.add.at(W, (est[valid], tru[valid]), 1.0)  # W[i, a]: contexts with est i and true a
    edges = [(int(a), int(b)) for a, b in zip(*np.nonzero(D))]
    if d == 0:
        permutation = np.zeros(0, dtype=np.intp)
    elif method == "ilp":
        permutation = _ilp(W, edges)
    else:
        best, best_score, count = None, -1.0, 0
        for order in topological_orders(D.astype(float), limit=max_orders + 1):
            count += 1
            if count > max_orders:
                raise ValidationError(
                    f"true_dag: expected at most max_orders={max_orders} topological orders for "
                    "method='brute_force', got more; use method='ilp'"
                )
            score = W[np.arange(d), order].sum()
            if score > best_score:
                best, best_score = order, score
        permutation = np.asarray(best, dtype=np.intp)
    inverse = np.empty(d, dtype=np.intp)
    inverse[permutation] = np.arange(d)
    if sorted(permutation.tolist()) != list(range(d)) or any(
        inverse[a] >= inverse[b] for a, b in edges
    ):
        raise CRLError(
            f"topological_matching: expected a permutation respecting the true order, got {permutation.tolist()}"
        )
    n_matched = int(W[np.arange(d), permutation].sum())
    n_contexts = int(valid.sum())
    P = np.zeros((d, d))
    P[permutation, np.arange(d)] = 1.0
    return {
        "permutation": permutation,
        "P": P,
        "order": permutation.tolist(),
        "n_matched": n_matched,
        "n_contexts": n_contexts,
        "fraction_matched": n_matched / n_contexts if n_contexts else 1.0,
        "all_matched": n_matched == n_contexts,
        "method": method,
    }
