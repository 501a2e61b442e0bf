"""Partially observed linear SCMs: hidden variables anywhere in the graph.

Model (Dong et al., ICLR 2024; Cai et al., ICML 2023): every variable of
``V = X ∪ L`` follows ``V_j = Σ_i W[i, j] V_i + ε_j`` with independent noises
``ε_j`` of variance ``Ω_jj``. Hidden variables may be causes, mediators or
effects of observed ones; only the observed columns reach the learner.

Conventions
-----------
- Weight matrices follow the toolkit orientation: ``W[i, j]`` is the
  coefficient of node ``i`` in the equation of node ``j`` (an edge ``i -> j``).
- A node is hidden iff its node attribute ``latent`` is True; names are never
  read for that purpose (a missing attribute means observed).
- Matrices over the nodes of a graph use :func:`node_order`: observed nodes in
  natural name order ("X2" before "X10"), then hidden nodes in natural name
  order. Random generators assign names at random, so this order does not
  reveal the causal order; fixed fixtures reveal only what their names do.

Contents: the population covariance and the oracle rank of its blocks (the
oracle rank test of RLCD), a sampler of linear SEMs and the generic
:func:`partially_observed_problem`. The RLCD families live in
:mod:`simulators.rlcd_families`, the OLC family in :mod:`simulators.olc`.
"""

from __future__ import annotations

import logging
import numbers
import re

import networkx as nx
import numpy as np

from crl.exceptions import CyclicGraphError, GraphTypeError, ValidationError
from crl.graphs import from_adjacency
from crl.validation import (
    check_choice,
    check_float,
    check_int,
    check_interval,
    check_random_state,
    check_square,
)
from simulators.dags import causal_order, check_dag, sample_weights
from simulators.diagnostics import sortability
from simulators.noise import NOISE_KINDS, is_gaussian, sample_noise
from simulators.problem import Problem, Truth

__all__ = [
    "node_order",
    "build_latent_dag",
    "population_covariance",
    "oracle_rank",
    "sample_linear_sem",
    "linear_sem_from_graph",
    "partially_observed_problem",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# graphs
# ---------------------------------------------------------------------------


def _natural_key(node):
    """Sort key: digit runs compare as integers ("X2" < "X10")."""
    parts = re.split(r"(\d+)", str(node))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def _is_latent(G: nx.DiGraph, v) -> bool:
    return bool(G.nodes[v].get("latent", False))


def node_order(G: nx.DiGraph) -> tuple[list, list]:
    """The fixed node order used for every matrix over ``G``.

    Parameters
    ----------
    G : networkx.DiGraph
        Nodes carry ``latent: bool`` (missing means observed).

    Returns
    -------
    observed, latent : list
        Observed nodes in natural name order, then hidden nodes in natural
        name order. Matrices use ``observed + latent``.
    """
    nodes = sorted(G.nodes, key=_natural_key)
    return [v for v in nodes if not _is_latent(G, v)], [v for v in nodes if _is_latent(G, v)]


def _check_latent_graph(G, name: str = "G") -> nx.DiGraph:
    """Validate a directed acyclic graph with optional ``latent`` flags and ``-->`` marks."""
    if not isinstance(G, nx.DiGraph) or G.is_multigraph():
        raise ValidationError(f"{name}: expected a networkx.DiGraph, got {type(G).__name__}")
    if G.number_of_nodes() == 0:
        raise ValidationError(
            f"{name}: expected a graph with at least one node, got an empty graph"
        )
    bad = [(u, v, d["mark"]) for u, v, d in G.edges(data=True) if d.get("mark", "-->") != "-->"]
    if bad:
        raise GraphTypeError(
            f"{name}: expected only directed edges (mark '-->'), got {len(bad)} others, e.g. {bad[0]}"
        )
    if not nx.is_directed_acyclic_graph(G):
        cycle = [u for u, _ in nx.find_cycle(G)]
        raise CyclicGraphError(f"{name}: expected a DAG, got a directed cycle through {cycle}")
    return G


def build_latent_dag(
    edges, latent, observed=(), *, family: str = "custom", name: str = ""
) -> nx.DiGraph:
    """Build an unweighted ``latent_dag`` from an edge list.

    Parameters
    ----------
    edges : iterable of (u, v)
        Directed edges ``u -> v``.
    latent : iterable of hashable
        The hidden nodes (they need not appear in ``edges``).
    observed : iterable of hashable
        Observed nodes to include even without edges. Every node that is not
        in ``latent`` is observed.
    family : str
        Stored as ``G.graph["family"]``.
    name : str
        Stored as ``G.graph["name"]``.

    Returns
    -------
    networkx.DiGraph
        Nodes inserted in natural name order with ``latent: bool``; edges
        with ``mark="-->"`` (no weights); ``G.graph["kind"] == "latent_dag"``.

    Raises
    ------
    CyclicGraphError
        If the edges contain a directed cycle or a self-loop.
    """
    edges = [tuple(e) for e in edges]
    latent = set(latent)
    nodes = set(observed) | latent | {u for e in edges for u in e}
    G = nx.DiGraph(kind="latent_dag", family=family, name=name)
    for v in sorted(nodes, key=_natural_key):
        G.add_node(v, latent=v in latent)
    loops = [u for u, v in edges if u == v]
    if loops:
        raise CyclicGraphError(f"edges: expected no self-loops, got loops at {loops}")
    for u, v in sorted(edges, key=lambda e: (_natural_key(e[0]), _natural_key(e[1]))):
        G.add_edge(u, v, mark="-->")
    return _check_latent_graph(G, "edges")


# ---------------------------------------------------------------------------
# population quantities
# ---------------------------------------------------------------------------


def _noise_cov(noise_var, d: int) -> np.ndarray:
    arr = np.asarray(noise_var, dtype=float)
    if arr.ndim == 0:
        arr = np.full(d, float(arr))
    if arr.ndim == 1:
        if arr.shape != (d,):
            raise ValidationError(f"noise_var: expected {d} variances, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValidationError(
                f"noise_var: expected finite non-negative variances, got {arr.tolist()}"
            )
        return np.diag(arr)
    if arr.shape != (d, d) or not np.all(np.isfinite(arr)) or not np.allclose(arr, arr.T):
        raise ValidationError(
            f"noise_var: expected a scalar, a vector of {d} variances or a symmetric ({d}, {d}) "
            f"covariance, got shape {arr.shape}"
        )
    return arr


def population_covariance(W, noise_var) -> np.ndarray:
    """Covariance of all variables of a linear SEM.

    Parameters
    ----------
    W : ndarray of shape (d, d)
        Weights of a DAG, ``W[i, j]`` = coefficient of ``i`` in the equation
        of ``j`` (edge ``i -> j``).
    noise_var : float, ndarray of shape (d,) or (d, d)
        Noise variances ``Ω_jj`` (or a full noise covariance ``Ω``).

    Returns
    -------
    Sigma : ndarray of shape (d, d)
        ``(I - Wᵀ)⁻¹ Ω (I - W)⁻¹``, symmetrised; row/column ``j`` is node ``j``.

    Raises
    ------
    CyclicGraphError
        If ``W`` has a directed cycle.
    """
    W = check_dag(W, "W")
    d = W.shape[0]
    omega = _noise_cov(noise_var, d)
    M = np.linalg.inv(np.eye(d) - W)  # row form: V = ε (I - W)^-1
    sigma = M.T @ omega @ M
    return (sigma + sigma.T) / 2.0


def _index_set(idx, name: str, d: int) -> np.ndarray:
    arr = np.asarray(list(idx) if not isinstance(idx, np.ndarray) else idx)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValidationError(f"{name}: expected a 1-D sequence of integer indices, got {arr!r}")
    if arr.min() < 0 or arr.max() >= d:
        raise ValidationError(f"{name}: expected indices in [0, {d - 1}], got {arr.tolist()}")
    return arr.astype(np.int64)


def oracle_rank(cov, A_idx, B_idx, tol: float = 1e-8) -> int:
    """Numerical rank of the cross-covariance block ``cov[A, B]`` (the oracle rank test).

    By trek separation (Sullivant et al., 2010) this rank is the size of the
    smallest pair of sets that t-separates ``A`` from ``B``; with
    ``A ∪ C`` and ``B ∪ C`` it is ``|C|`` iff ``C`` d-separates ``A`` and
    ``B`` (RLCD Lemma 10). ``A`` and ``B`` may overlap.

    Parameters
    ----------
    cov : ndarray of shape (p, p)
        A covariance matrix (population or sample).
    A_idx, B_idx : sequence of int
        Row and column indices of the block (empty gives rank 0).
    tol : float, >= 0
        Relative tolerance. The block is first rescaled to the correlation
        scale, ``cov[a, b] / sqrt(cov[a, a] cov[b, b])`` (a diagonal scaling,
        which leaves the rank unchanged and makes the decision independent of
        the variables' units); singular values at most ``tol * max(1, s_max)``
        then count as zero. Variables with zero variance are left unscaled.

    Returns
    -------
    int

    Notes
    -----
    With weights ±U(1, 5) and deep latent chains, some variables are almost
    deterministic functions of others, and genuine singular values can fall
    below ``1e-8`` on the correlation scale; ``diagnostics["min_corr_eigenvalue"]``
    of :func:`partially_observed_problem` flags such draws.
    """
    cov = check_square(cov, "cov")
    d = cov.shape[0]
    A = _index_set(A_idx, "A_idx", d)
    B = _index_set(B_idx, "B_idx", d)
    tol = check_float(tol, "tol", minimum=0.0)
    if A.size == 0 or B.size == 0:
        return 0
    sd = np.sqrt(np.abs(np.diag(cov)))
    sd[sd == 0] = 1.0
    block = cov[np.ix_(A, B)] / np.outer(sd[A], sd[B])
    s = np.linalg.svd(block, compute_uv=False)
    threshold = tol * max(1.0, float(s[0]))
    return int(np.count_nonzero(s > threshold))


# ---------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------


def sample_linear_sem(
    W,
    n: int,
    *,
    noise: str = "gaussian",
    noise_std=1.0,
    random_state=None,
    return_noise: bool = False,
):
    """Draw ``n`` samples of every variable of a linear SEM, in topological order.

    Parameters
    ----------
    W : ndarray of shape (d, d)
        DAG weights, ``W[i, j]`` = coefficient of ``i`` in the equation of ``j``.
    n : int, >= 1
        Number of samples.
    noise : str
        One of :data:`simulators.noise.NOISE_KINDS`.
    noise_std : float or array_like of shape (d,)
        Standard deviation of each node's noise.
    random_state : None, int or Generator
    return_noise : bool
        Also return the noises.

    Returns
    -------
    V : ndarray of shape (n, d)
        Column ``j`` is node ``j``: ``V[:, j] = V @ W[:, j] + E[:, j]``.
    E : ndarray of shape (n, d)
        The noises (only with ``return_noise=True``).
    """
    W = check_dag(W, "W")
    n = check_int(n, "n", minimum=1)
    check_choice(noise, "noise", NOISE_KINDS)
    d = W.shape[0]
    std = np.asarray(noise_std, dtype=float)
    if std.ndim == 0:
        std = np.full(d, float(std))
    if std.shape != (d,) or not np.all(np.isfinite(std)) or np.any(std < 0):
        raise ValidationError(
            f"noise_std: expected a non-negative scalar or {d} non-negative values, got {noise_std!r}"
        )
    rng = check_random_state(random_state)
    E = sample_noise(noise, (n, d), rng, scale=std)
    V = np.zeros((n, d))
    for j in causal_order(W):
        pa = np.flatnonzero(W[:, j])
        V[:, j] = E[:, j] + (V[:, pa] @ W[pa, j] if pa.size else 0.0)
    return (V, E) if return_noise else V


def _noise_variances(noise_var, d: int, rng) -> np.ndarray:
    if isinstance(noise_var, numbers.Real) and not isinstance(noise_var, bool):
        value = check_float(noise_var, "noise_var", minimum=0.0, strict_min=True)
        return np.full(d, value)
    low, high = check_interval(noise_var, "noise_var", positive=True)
    return rng.uniform(low, high, d)


def linear_sem_from_graph(
    G: nx.DiGraph,
    *,
    weight_range=(1.0, 5.0),
    noise_var=(0.1, 1.0),
    random_state=None,
) -> tuple[nx.DiGraph, dict]:
    """Parameterise a DAG as a linear SEM.

    Parameters
    ----------
    G : networkx.DiGraph
        A DAG; nodes carry ``latent: bool`` (missing means observed).
    weight_range : (low, high) with 0 < low <= high, or None
        Edge weights are drawn from ±U(low, high) with a random sign
        (:func:`simulators.dags.sample_weights`). ``None`` keeps the
        ``weight`` attributes of ``G`` (every edge must have a non-zero one).
    noise_var : (low, high), float or None
        Noise variances drawn from U(low, high), or one positive value for
        every node; ``None`` keeps the node attributes ``noise_var`` of ``G``.
    random_state : None, int or Generator

    Returns
    -------
    H : networkx.DiGraph
        A weighted copy (``weight``, ``mark="-->"`` on edges; ``latent`` and
        ``noise_var`` on nodes; ``kind="latent_dag"``; other graph attributes
        of ``G`` kept). Draws follow :func:`node_order`, so they do not depend
        on the insertion order of ``G``.
    noise_var : dict
        Node -> noise variance.
    """
    _check_latent_graph(G, "G")
    rng = check_random_state(random_state)
    obs, lat = node_order(G)
    nodes = obs + lat
    pos = {v: k for k, v in enumerate(nodes)}
    d = len(nodes)
    A = np.zeros((d, d))
    for u, v in G.edges:
        A[pos[u], pos[v]] = 1.0
    if weight_range is None:
        W = np.zeros((d, d))
        for u, v, data in G.edges(data=True):
            w = data.get("weight")
            if w is None or not np.isfinite(float(w)) or float(w) == 0.0:
                raise ValidationError(
                    f"G: weight_range=None needs a finite non-zero 'weight' on every edge, got {w!r} on {u}->{v}"
                )
            W[pos[u], pos[v]] = float(w)
    else:
        W = sample_weights(A, weight_range, rng)
    if noise_var is None:
        missing = [v for v in nodes if "noise_var" not in G.nodes[v]]
        if missing:
            raise ValidationError(
                f"G: noise_var=None needs a 'noise_var' attribute on every node, missing on {missing}"
            )
        variances = np.array([float(G.nodes[v]["noise_var"]) for v in nodes])
        if not np.all(np.isfinite(variances)) or np.any(variances <= 0):
            raise ValidationError(
                f"G: expected positive finite 'noise_var' attributes, got {variances.tolist()}"
            )
    else:
        variances = _noise_variances(noise_var, d, rng)
    H = from_adjacency(W, nodes, latent=[_is_latent(G, v) for v in nodes], kind="latent_dag")
    H.graph.update({k: v for k, v in G.graph.items() if k != "kind"})
    for v, var in zip(nodes, variances, strict=True):
        H.nodes[v]["noise_var"] = float(var)
    return H, {v: float(var) for v, var in zip(nodes, variances, strict=True)}


def partially_observed_problem(
    G: nx.DiGraph,
    n: int,
    *,
    noise: str = "gaussian",
    weight_range=(1.0, 5.0),
    noise_var=(0.1, 1.0),
    standardize: bool = True,
    random_state=None,
    name: str = "",
    setting=None,
) -> Problem:
    """Simulate a linear SEM over ``G`` and observe only its non-latent nodes.

    Parameters
    ----------
    G : networkx.DiGraph
        A DAG; hidden nodes carry ``latent=True`` (names are not read).
        ``G.graph["family"]`` (default ``"custom"``) becomes the setting's
        ``graph_family``.
    n : int, >= 1
        Number of samples.
    noise : str
        Noise family (:data:`simulators.noise.NOISE_KINDS`), scaled to the
        drawn noise variances.
    weight_range : (low, high) or None
        Edge weights ±U(low, high); ``None`` keeps the weights of ``G``.
    noise_var : (low, high), float or None
        Noise variances U(low, high), one fixed value, or ``None`` for the
        ``noise_var`` node attributes of ``G``.
    standardize : bool
        Centre and scale each observed column to unit sample variance.
    random_state : None, int or Generator
    name : str
        Problem name; default ``G.graph["name"]`` or ``"partially_observed"``.
    setting : mapping, optional
        Extra entries merged into (and overriding) the default setting.

    Returns
    -------
    Problem
        - ``X`` (n, p): observed nodes, columns in :func:`node_order`
          (``feature_names``); hidden nodes never appear in ``X``.
          Standardised as ``X = (X_raw - x_mean) / x_scale``.
        - ``truth.Z`` (n, m): hidden nodes (raw scale), columns
          ``truth.latent_names``.
        - ``truth.graph``: weighted ``latent_dag`` over all nodes.
        - ``truth.noise["noise"]`` (n, p + m): the noises, columns
          ``params["nodes"]``.
        - ``truth.params``: ``W`` (p + m, p + m) over ``nodes`` =
          ``observed + latent`` (``W[i, j]`` = weight of ``i -> j``),
          ``noise_var`` (p + m,), ``nodes``, ``observed``, ``latent``,
          ``population_covariance`` (p, p) of ``X`` (after the scaling),
          ``population_covariance_all`` (p + m, p + m) of the raw variables,
          ``x_mean``, ``x_scale`` (p,), ``weight_range``, ``noise``.
        - ``env``: zeros; ``diagnostics``: var- and R²-sortability over all
          variables (raw values, full adjacency) and ``min_corr_eigenvalue``,
          the smallest eigenvalue of the population correlation matrix of
          ``X`` (near 0: some observed variable is almost a deterministic
          function of the others, and oracle rank decisions get fragile).
    """
    _check_latent_graph(G, "G")
    n = check_int(n, "n", minimum=1)
    check_choice(noise, "noise", NOISE_KINDS)
    if weight_range is not None:
        weight_range = check_interval(weight_range, "weight_range", positive=True)
    if setting is not None and not hasattr(setting, "items"):
        raise ValidationError(f"setting: expected a mapping or None, got {type(setting).__name__}")
    rng = check_random_state(random_state)
    H, nv = linear_sem_from_graph(
        G, weight_range=weight_range, noise_var=noise_var, random_state=rng
    )
    obs, lat = node_order(H)
    if not obs:
        raise ValidationError("G: expected at least one observed node (latent=False), got none")
    nodes = obs + lat
    pos = {v: k for k, v in enumerate(nodes)}
    d, p = len(nodes), len(obs)
    W = np.zeros((d, d))
    for u, v, w in H.edges(data="weight"):
        W[pos[u], pos[v]] = w
    variances = np.array([nv[v] for v in nodes])
    V, E = sample_linear_sem(
        W, n, noise=noise, noise_std=np.sqrt(variances), random_state=rng, return_noise=True
    )
    sigma_all = population_covariance(W, variances)
    X = V[:, :p]
    if standardize:
        if n < 2:
            raise ValidationError(
                f"n: expected n >= 2 to standardise the observed columns, got {n}"
            )
        x_mean = X.mean(axis=0)
        x_scale = X.std(axis=0)
        if np.any(x_scale <= 0):
            const = [obs[k] for k in np.flatnonzero(x_scale <= 0)]
            raise ValidationError(
                f"standardize: expected non-constant observed columns, got constant columns {const}"
            )
        X = (X - x_mean) / x_scale
    else:
        x_mean, x_scale = np.zeros(p), np.ones(p)
        X = X.copy()
    sigma_x = sigma_all[:p, :p] / np.outer(x_scale, x_scale)
    family = str(H.graph.get("family", "custom"))
    H.graph["family"] = family
    info = {
        "latent_model": "linear",
        "mixing": "none",
        "hidden_variables": bool(lat),
        "noise": noise,
        "gaussian": is_gaussian(noise),
        "graph_family": family,
        "standardized": bool(standardize),
    }
    info.update(dict(setting or {}))
    truth = Truth(
        Z=V[:, p:],
        graph=H,
        latent_names=tuple(lat),
        noise={"noise": E},
        params={
            "W": W,
            "noise_var": variances,
            "nodes": tuple(nodes),
            "observed": tuple(obs),
            "latent": tuple(lat),
            "population_covariance": sigma_x,
            "population_covariance_all": sigma_all,
            "x_mean": x_mean,
            "x_scale": x_scale,
            "weight_range": weight_range,
            "noise": noise,
        },
    )
    return Problem(
        X=X,
        env=np.zeros(n, dtype=np.int64),
        truth=truth,
        setting=info,
        name=name or str(H.graph.get("name") or "partially_observed"),
        feature_names=tuple(obs),
        diagnostics={**sortability(V, W), "min_corr_eigenvalue": _min_corr_eigenvalue(sigma_x)},
    )


def _min_corr_eigenvalue(sigma: np.ndarray) -> float:
    sd = np.sqrt(np.diag(sigma))
    return float(np.linalg.eigvalsh(sigma / np.outer(sd, sd))[0])


def _fan(spec: str) -> list[tuple[str, str]]:
    """Parse "a -> b, c; b -> d" into edges."""
    edges = []
    for stmt in filter(None, (s.strip() for s in spec.split(";"))):
        parts = [p.strip() for p in stmt.split("->")]
        for src, dst in zip(parts[:-1], parts[1:], strict=False):
            for u in src.split(","):
                for v in dst.split(","):
                    edges.append((u.strip(), v.strip()))
    return edges
