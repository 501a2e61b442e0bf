"""Multi-view observations with partial observability (Yao et al., ICLR 2024).

View ``k`` sees only the latents ``S_k`` through its own injective mixing:
``x_k = f_k(z[S_k])``. The content of a set of views ``V`` is
``C_V = ∩_{k in V} S_k``; the identifiability algebra lives in
``identifiability.theory``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_array, check_int, check_random_state
from simulators.mixing import InvertibleMLP, invertible_mlp

__all__ = ["ViewMixing", "multi_view", "multiview_problem", "content_sets", "YAO_SUBSETS"]

#: The four-view, six-latent pattern of Yao et al.'s numerical experiment (0-indexed).
YAO_SUBSETS = ((0, 1, 2, 3, 4), (0, 1, 2, 4, 5), (0, 1, 2, 3, 5), (0, 1, 3, 4, 5))


@dataclass(frozen=True)
class ViewMixing:
    """The mixing of one view: ``x_k = mlp(Z[:, subset])``.

    Attributes
    ----------
    subset : tuple of int
        Latents seen by the view.
    mlp : InvertibleMLP
        Injective map ``R^|subset| -> R^p_k``.
    """

    subset: tuple
    mlp: InvertibleMLP

    def __call__(self, Z) -> np.ndarray:
        """Observations (n, p_k) from the full latent matrix Z (n, d)."""
        return self.mlp(np.asarray(Z, dtype=float)[:, list(self.subset)])

    def inverse(self, X) -> np.ndarray:
        """The seen latents (n, |subset|) from the view's observations."""
        return self.mlp.inverse(X)


def _check_subsets(subsets, d):
    out = []
    for k, s in enumerate(subsets):
        s = tuple(int(i) for i in s)
        if not s or len(set(s)) != len(s) or min(s) < 0 or max(s) >= d:
            raise ValidationError(
                f"subsets[{k}]: expected distinct latent indices in [0, {d}), got {list(s)}"
            )
        out.append(tuple(sorted(s)))
    if len(out) < 2:
        raise ValidationError(f"subsets: expected at least 2 views, got {len(out)}")
    return tuple(out)


def multi_view(Z, subsets=YAO_SUBSETS, *, view_dims=None, n_layers: int = 3, slope: float = 0.2,
               random_state=None):
    """Generate one view per subset of latents.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
        Latents.
    subsets : sequence of sequences of int
        ``S_k`` for each view.
    view_dims : sequence of int, optional
        Observed dimension ``p_k >= |S_k|`` of each view (default ``|S_k|``).
    n_layers, slope
        Passed to :func:`simulators.mixing.invertible_mlp`.
    random_state : None, int or Generator

    Returns
    -------
    views : list of ndarray of shape (n, p_k)
    mixings : list of ViewMixing
    """
    Z = check_array(Z, "Z")
    rng = check_random_state(random_state)
    subsets = _check_subsets(subsets, Z.shape[1])
    if view_dims is None:
        view_dims = [len(s) for s in subsets]
    if len(view_dims) != len(subsets):
        raise ValidationError(f"view_dims: expected {len(subsets)} entries, got {len(view_dims)}")
    mixings = []
    for k, (s, p) in enumerate(zip(subsets, view_dims)):
        p = check_int(p, f"view_dims[{k}]", minimum=len(s))
        mixings.append(ViewMixing(s, invertible_mlp(len(s), p, n_layers=n_layers, slope=slope, random_state=rng)))
    return [m(Z) for m in mixings], mixings


def content_sets(subsets, min_views: int = 2) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Content ``C_V`` for every set of views ``V`` with ``|V| >= min_views``.

    Returns
    -------
    dict
        Maps the sorted tuple of view indices to the sorted tuple of shared
        latents (possibly empty).
    """
    from itertools import combinations

    subsets = [set(s) for s in subsets]
    out = {}
    for r in range(min_views, len(subsets) + 1):
        for V in combinations(range(len(subsets)), r):
            out[V] = tuple(sorted(set.intersection(*(subsets[k] for k in V))))
    return out


def multiview_problem(
    n: int = 10_000,
    *,
    subsets=YAO_SUBSETS,
    dependent_dims: int = 0,
    view_dims=None,
    n_layers: int = 3,
    random_state=None,
):
    """Yao et al.'s numerical multi-view setting.

    ``z ~ N(0, Sigma)`` with ``Sigma = I``, except that with
    ``dependent_dims = q`` the top-left q×q block is a Wishart(q, I_q) draw
    (dependent latents); each view is an injective leaky-ReLU MLP of its
    latents (:func:`multi_view`).

    Returns
    -------
    Problem
        ``views`` (one array per view), ``X=None``, truth ``Z`` (n, d) and
        ``truth.params["subsets"]`` / ``["content"]`` (see :func:`content_sets`).
    """
    from scipy.stats import wishart

    from simulators.problem import Problem, Truth

    n = check_int(n, "n", minimum=2)
    rng = check_random_state(random_state)
    d = max(max(s) for s in subsets) + 1
    subsets = _check_subsets(subsets, d)
    q = check_int(dependent_dims, "dependent_dims", minimum=0, maximum=d)
    cov = np.eye(d)
    if q > 1:
        cov[:q, :q] = np.atleast_2d(wishart.rvs(df=q, scale=np.eye(q), random_state=rng))
    elif q == 1:
        cov[0, 0] = float(rng.chisquare(1))
    Z = rng.multivariate_normal(np.zeros(d), cov, size=n)
    views, mixings = multi_view(Z, subsets, view_dims=view_dims, n_layers=n_layers, random_state=rng)
    return Problem(
        X=None,
        views=views,
        env=np.zeros(n, dtype=np.int64),
        truth=Truth(
            Z=Z,
            mixing=tuple(mixings),
            latent_names=tuple(f"Z{j}" for j in range(d)),
            params={"subsets": subsets, "content": content_sets(subsets), "latent_covariance": cov},
        ),
        setting={
            "latent_model": "gaussian" if q == 0 else "dependent_gaussian",
            "mixing": "mlp",
            "n_views": len(subsets),
            "partial_observability": any(len(s) < d for s in subsets),
        },
        name="multiview_numerical",
        # sortability is defined along a causal graph; the latents here have none
        diagnostics={"var_sortability": None, "r2_sortability": None, "sortability_note": "no latent causal graph"},
    )
