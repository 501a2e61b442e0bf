"""The OLC family (Cai et al., ICML 2023): linear non-Gaussian models with latent confounders.

Every latent is a root with at least three observed children; observed
variables form a DAG that includes edges between children of the same latent,
so that OLC's orientation step matters. Noise is non-Gaussian with unit
variance. The paper's own generator could not be checked, so this is the
project default of ``cumulant_olc.md`` §5.
"""

from __future__ import annotations

import logging

import networkx as nx
import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_float, check_int, check_random_state
from simulators.dags import causal_order, random_dag
from simulators.noise import is_gaussian
from simulators.partial import (
    _check_latent_graph,
    _fan,
    _is_latent,
    build_latent_dag,
    partially_observed_problem,
)
from simulators.problem import Problem

__all__ = ["OLC_GRAPHS", "olc_graph", "olc_problem"]

logger = logging.getLogger(__name__)

# name -> (latent nodes, number of observed nodes, edges). Each latent is a root
# with >= 3 observed children; observed -> observed edges include one between
# children of the same latent per latent, so that OLC's orientation step matters.
_OLC_SPECS = {
    "olc_1latent": (
        ("L1",),
        6,
        "L1 -> X1, X2, X3; X1 -> X2; X2 -> X4; X3 -> X5; X4 -> X6; X5 -> X6",
    ),
    "olc_2latent": (
        ("L1", "L2"),
        8,
        "L1 -> X1, X2, X3; L2 -> X4, X5, X6; X1 -> X2; X5 -> X6; X3 -> X4; X2 -> X7; X6 -> X8; X7 -> X8",
    ),
    "olc_3latent": (
        ("L1", "L2", "L3"),
        10,
        "L1 -> X1, X2, X3; L2 -> X4, X5, X6; L3 -> X7, X8, X9; X1 -> X2; X5 -> X6; X7 -> X8; "
        "X3 -> X4; X6 -> X9; X2 -> X10; X8 -> X10",
    ),
}

#: Names of the fixed OLC structures.
OLC_GRAPHS = tuple(_OLC_SPECS)


def olc_graph(
    name: str | None = None,
    *,
    n_observed: int = 8,
    n_latents: int = 2,
    edge_prob: float = 0.25,
    random_state=None,
) -> nx.DiGraph:
    """A latent DAG of the OLC family: latent roots, each with >= 3 observed children.

    Parameters
    ----------
    name : str or None
        One of :data:`OLC_GRAPHS` for a fixed structure:

        - ``olc_1latent`` (1 L, 6 X): L1 → {X1, X2, X3}; X1 → X2; X2 → X4;
          X3 → X5; X4 → X6; X5 → X6.
        - ``olc_2latent`` (2 L, 8 X): L1 → {X1, X2, X3}; L2 → {X4, X5, X6};
          X1 → X2; X5 → X6; X3 → X4; X2 → X7; X6 → X8; X7 → X8.
        - ``olc_3latent`` (3 L, 10 X): L1 → {X1, X2, X3}; L2 → {X4, X5, X6};
          L3 → {X7, X8, X9}; X1 → X2; X5 → X6; X7 → X8; X3 → X4; X6 → X9;
          X2 → X10; X8 → X10.

        ``None`` draws a random structure: the observed part is an
        Erdős–Rényi DAG (:func:`simulators.dags.random_dag`, random node
        labels) with edge probability ``edge_prob``; each latent gets three
        distinct observed children (disjoint across latents); if a latent's
        children share no edge, one is added along the DAG's causal order.
    n_observed : int, >= 3 * n_latents
        Observed nodes of a random structure (ignored for a fixed one).
    n_latents : int, >= 1
        Latents of a random structure (ignored for a fixed one).
    edge_prob : float in [0, 1]
        Edge probability of the observed DAG (cumulant_olc.md §5: 0.2–0.3).
    random_state : None, int or Generator

    Returns
    -------
    networkx.DiGraph
        Unweighted ``latent_dag``; ``graph["family"] = "olc"`` and
        ``graph["name"]`` the structure's name (``"olc_random"``).
    """
    if name is not None:
        check_choice(name, "name", OLC_GRAPHS)
        latents, p, spec = _OLC_SPECS[name]
        return build_latent_dag(
            _fan(spec), latents, [f"X{i + 1}" for i in range(p)], family="olc", name=name
        )
    n_latents = check_int(n_latents, "n_latents", minimum=1)
    n_observed = check_int(n_observed, "n_observed", minimum=3 * n_latents)
    edge_prob = check_float(edge_prob, "edge_prob", minimum=0.0, maximum=1.0)
    rng = check_random_state(random_state)
    A = random_dag(n_observed, edge_prob=edge_prob, permute=True, random_state=rng)
    rank = np.empty(n_observed, dtype=np.int64)
    rank[causal_order(A)] = np.arange(n_observed)
    children = rng.permutation(n_observed)[: 3 * n_latents].reshape(n_latents, 3)
    for ch in children:
        if not any(A[i, j] or A[j, i] for i in ch for j in ch):
            i, j = rng.choice(ch, size=2, replace=False)
            i, j = (i, j) if rank[i] < rank[j] else (j, i)
            A[i, j] = 1
    names = [f"X{i + 1}" for i in range(n_observed)]
    edges = [(names[i], names[j]) for i, j in zip(*np.nonzero(A), strict=True)]
    latents = [f"L{k + 1}" for k in range(n_latents)]
    edges += [(latents[k], names[i]) for k in range(n_latents) for i in children[k]]
    return build_latent_dag(edges, latents, names, family="olc", name="olc_random")


def olc_problem(
    graph=None,
    n: int = 2000,
    *,
    noise: str = "uniform",
    n_observed: int = 8,
    n_latents: int = 2,
    edge_prob: float = 0.25,
    weight_range=(0.5, 2.0),
    standardize: bool = True,
    random_state=None,
) -> Problem:
    """A problem of the OLC family (lvLiNGAM with latent roots; cumulant_olc.md §5).

    Parameters
    ----------
    graph : str, networkx.DiGraph or None
        A name of :data:`OLC_GRAPHS`, a latent DAG, or ``None`` for a random
        structure (:func:`olc_graph` with ``n_observed``, ``n_latents``,
        ``edge_prob``).
    n : int, >= 1
    noise : str
        Noise family, unit variance for every node. Non-Gaussian by default;
        ``"gaussian"`` is allowed and recorded as ``setting["gaussian"]``
        (cumulant methods cannot work then; learners should warn).
    weight_range : (low, high)
        Coefficients ±U(low, high); the project default is ±U(0.5, 2).
    standardize : bool
        Standardise the observed columns.
    random_state : None, int or Generator
        Seeds the random structure and the data.

    Returns
    -------
    Problem
        As :func:`partially_observed_problem`, with ``graph_family="olc"``,
        ``latents_are_roots`` and ``min_observed_children`` (smallest number
        of observed children of a latent) in the setting.
    """
    rng = check_random_state(random_state)
    if isinstance(graph, str):
        check_choice(graph, "graph", OLC_GRAPHS)
    if graph is None or isinstance(graph, str):
        G = olc_graph(
            graph, n_observed=n_observed, n_latents=n_latents, edge_prob=edge_prob, random_state=rng
        )
    elif isinstance(graph, nx.DiGraph):
        G = _check_latent_graph(graph, "graph")
    else:
        raise ValidationError(
            f"graph: expected a name, a networkx.DiGraph or None, got {type(graph).__name__}"
        )
    lat = [v for v in G if _is_latent(G, v)]
    n_children = [sum(1 for c in G.successors(v) if not _is_latent(G, c)) for v in lat]
    if is_gaussian(noise):
        logger.info(
            "olc_problem: Gaussian noise; fourth cumulants vanish and OLC cannot identify the model"
        )
    info = {
        "graph_family": str(G.graph.get("family", "olc")),
        "latents_are_roots": all(G.in_degree(v) == 0 for v in lat),
        "min_observed_children": min(n_children) if n_children else 0,
        "unit_noise_variance": True,
    }
    return partially_observed_problem(
        G,
        n,
        noise=noise,
        weight_range=weight_range,
        noise_var=1.0,
        standardize=standardize,
        random_state=rng,
        name=str(G.graph.get("name") or "olc"),
        setting=info,
    )
