"""Graph families of RLCD (Dong et al., ICLR 2024): fixtures, random generators, conditions.

Three families of latent DAGs over observed ``X`` and hidden ``L`` nodes
(rlcd.md §6): latent trees, latent measurement models and general graphs
(observed causes of latents, X–X edges, multi-latent covers). This module
holds the six hand-written fixtures of rlcd.md §6.2, random generators of each
family (rejection-sampled against :func:`check_rlcd_conditions`) and
:func:`rlcd_problem`, which simulates data through
:func:`simulators.partial.partially_observed_problem`.

Hidden nodes carry the node attribute ``latent=True``; nothing here reads a
node's name to decide latency. Random generators name their nodes through
random permutations, so names and node order carry no causal information.
"""

from __future__ import annotations

import networkx as nx

from crl.exceptions import UnknownNameError, ValidationError
from crl.validation import check_random_state
from simulators.partial import (
    _fan,
    build_latent_dag,
    partially_observed_problem,
)
from simulators.problem import Problem
from simulators.rlcd_conditions import check_rlcd_conditions
from simulators.rlcd_random import (
    _GENERATORS,
    random_general_latent_graph,
    random_latent_tree,
    random_measurement_model,
)

__all__ = [
    "RLCD_FIXTURES",
    "RLCD_FAMILIES",
    "rlcd_fixture",
    "random_latent_tree",
    "random_measurement_model",
    "random_general_latent_graph",
    "check_rlcd_conditions",
    "rlcd_problem",
]

# name -> (family, hidden nodes, number of observed nodes X1..Xp, edges as in rlcd.md §6.2)
_FIXTURES = {
    "tree_a": (
        "tree",
        ("L1", "L2", "L3", "L4"),
        13,
        "L1 -> L2, L3, X1, X2; L2 -> X3, X4, X5; L3 -> X6, X7, L4; L4 -> X8, X9, X10; "
        "X1 -> X11, X12; X9 -> X13",
    ),
    "tree_b": (
        "tree",
        ("L1", "L2", "L3"),
        11,
        "L1 -> X1, X2, X11, L2; X1 -> L3, X3; L3 -> X4, X5, X6; L2 -> X7, X8, X9; X2 -> X10",
    ),
    "mm_a": (
        "measurement",
        ("L1", "L2", "L3", "L4"),
        12,
        "L1 -> L2, L3; L2 -> L4; L3 -> L4; L1 -> X1, X2, X3; L2 -> X4, X5, X6; "
        "L3 -> X7, X8, X9; L4 -> X10, X11, X12",
    ),
    "mm_b": (
        "measurement",
        ("L1", "L2", "L3"),
        11,
        "L1 -> L2 -> L3; L1 -> X1, X2, X3; L2 -> X4, X5, X6; L3 -> X7, X8, X9; X3 -> X10; "
        "L1 -> X11; L3 -> X11",
    ),
    "gen_a": (
        "general",
        ("L1", "L2", "L3", "L4"),
        14,
        "X1 -> L1, L2; L1 -> X2, X3, X4; L2 -> X5, X6, X7; X2 -> X8 -> X9; X7 -> L3, L4; "
        "L3 -> X10, X11, X12, X13, X14; L4 -> X10, X11, X12, X13, X14",
    ),
    "gen_b": (
        "general",
        ("L1", "L2", "L3"),
        12,
        "L1 -> X1, X2, X3, X4; X1 -> X5 -> X6; X4 -> L2; L2 -> X7, X8, X9, L3; "
        "L3 -> X10, X11, X12; X9 -> X11",
    ),
}

#: Names of the fixtures of rlcd.md §6.2.
RLCD_FIXTURES = tuple(_FIXTURES)

#: Families with a random generator (``G.graph["family"]`` of their graphs).
RLCD_FAMILIES = ("tree", "measurement", "general")


def rlcd_fixture(name: str) -> nx.DiGraph:
    """One of the six fixtures of rlcd.md §6.2, as an unweighted latent DAG.

    Notation ``a → {b, c}`` means a → b and a → c.

    - ``tree_a`` (4 L, 13 X): L1 → {L2, L3, X1, X2}; L2 → {X3, X4, X5};
      L3 → {X6, X7, L4}; L4 → {X8, X9, X10}; X1 → {X11, X12}; X9 → X13.
    - ``tree_b`` (3 L, 11 X): L1 → {X1, X2, X11, L2}; X1 → {L3, X3};
      L3 → {X4, X5, X6}; L2 → {X7, X8, X9}; X2 → X10.
    - ``mm_a`` (4 L, 12 X): L1 → {L2, L3}; L2 → L4; L3 → L4;
      L1 → {X1, X2, X3}; L2 → {X4, X5, X6}; L3 → {X7, X8, X9};
      L4 → {X10, X11, X12}.
    - ``mm_b`` (3 L, 11 X): L1 → L2 → L3; L1 → {X1, X2, X3};
      L2 → {X4, X5, X6}; L3 → {X7, X8, X9}; X3 → X10; L1 → X11; L3 → X11.
    - ``gen_a`` (4 L, 14 X): X1 → {L1, L2}; L1 → {X2, X3, X4};
      L2 → {X5, X6, X7}; X2 → X8 → X9; X7 → {L3, L4};
      L3 → {X10, ..., X14}; L4 → {X10, ..., X14}.
    - ``gen_b`` (3 L, 12 X): L1 → {X1, X2, X3, X4}; X1 → X5 → X6; X4 → L2;
      L2 → {X7, X8, X9, L3}; L3 → {X10, X11, X12}; X9 → X11.

    Parameters
    ----------
    name : str
        One of :data:`RLCD_FIXTURES`.

    Returns
    -------
    networkx.DiGraph
        Nodes X1..Xp (``latent=False``) and L1..Lm (``latent=True``); edges
        with ``mark="-->"`` and no weight; ``graph["kind"] = "latent_dag"``,
        ``graph["family"]`` in :data:`RLCD_FAMILIES`, ``graph["name"] = name``.

    Raises
    ------
    UnknownNameError
        For a name not in :data:`RLCD_FIXTURES` (the message lists them).
    """
    if name not in _FIXTURES:
        raise UnknownNameError(f"name: expected one of {list(RLCD_FIXTURES)}, got {name!r}")
    family, latents, p, spec = _FIXTURES[name]
    return build_latent_dag(
        _fan(spec), latents, [f"X{i + 1}" for i in range(p)], family=family, name=name
    )



def rlcd_problem(
    graph="mm_a",
    n: int = 2000,
    *,
    noise: str = "gaussian",
    weight_range=(1.0, 5.0),
    noise_var=(0.1, 1.0),
    standardize: bool = True,
    random_state=None,
    options=None,
) -> Problem:
    """Simulate a problem of an RLCD family (rlcd.md §6.2).

    Parameters
    ----------
    graph : str or networkx.DiGraph
        A fixture name (:data:`RLCD_FIXTURES`), a family name
        (:data:`RLCD_FAMILIES`, drawn by its random generator) or a latent DAG.
    n : int, >= 1
    noise : str
        Gaussian by default (RLCD uses covariances only); uniform or Laplace
        for GIN-type baselines.
    weight_range : (low, high)
        Weights ±U(low, high); default ±U(1, 5) as the reference code.
    noise_var : (low, high) or float
        Noise variances U(0.1, 1) by default.
    standardize : bool
    random_state : None, int or Generator
        Seeds the random graph (for a family) and the data.
    options : mapping, optional
        Keyword arguments of the family's generator.

    Returns
    -------
    Problem
        As :func:`simulators.partial.partially_observed_problem`; the setting
        adds ``rlcd_conditions_hold`` (bool) and ``rlcd_violations`` (tuple
        of the messages of :func:`check_rlcd_conditions`).
    """
    rng = check_random_state(random_state)
    if isinstance(graph, str):
        if graph in _FIXTURES:
            G = rlcd_fixture(graph)
        elif graph in _GENERATORS:
            G = _GENERATORS[graph](random_state=rng, **dict(options or {}))
        else:
            raise UnknownNameError(
                f"graph: expected one of {list(RLCD_FIXTURES) + list(RLCD_FAMILIES)} or a DiGraph, got {graph!r}"
            )
    elif isinstance(graph, nx.DiGraph):
        G = graph
    else:
        raise ValidationError(
            f"graph: expected a name or a networkx.DiGraph, got {type(graph).__name__}"
        )
    violations = tuple(check_rlcd_conditions(G))
    return partially_observed_problem(
        G,
        n,
        noise=noise,
        weight_range=weight_range,
        noise_var=noise_var,
        standardize=standardize,
        random_state=rng,
        name=str(G.graph.get("name") or "rlcd"),
        setting={"rlcd_conditions_hold": not violations, "rlcd_violations": violations},
    )
