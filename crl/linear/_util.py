"""Small helpers of :class:`crl.linear.LinearCD`: BLAS threads, output graphs, the assignment margin."""

from __future__ import annotations

import networkx as nx
import numpy as np

__all__: list[str] = []  # private helpers

_CONTROLLER = []


def single_threaded_blas():
    """Context manager limiting BLAS to one thread (the threadpoolctl controller is built once)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def latent_graph(names, edges) -> nx.DiGraph:
    """A ``dag`` on latent nodes ``names``; ``edges`` are (parent index, child index, weight or None)."""
    G = nx.DiGraph(kind="dag")
    for v in names:
        G.add_node(v, latent=True)
    for j, i, weight in edges:
        attrs = {"mark": "-->"} if weight is None else {"mark": "-->", "weight": weight}
        G.add_edge(names[j], names[i], **attrs)
    return G


def deviance_margin(candidates, n_eff) -> float:
    """Deviance gap (calibrated units) to the best hypothesis with a different context -> latent map.

    Two complete hypotheses are the same when every context's unmixing row
    points the same way (absolute cosine above 0.99): different linear
    extensions of one partial order are not alternatives.
    """
    def rows(cand):
        order, H = cand[2], cand[4].H
        R = H[[order.index(c) for c in sorted(order)]]
        return R / np.linalg.norm(R, axis=1, keepdims=True)

    best = candidates[0]
    ref = rows(best)
    for cand in candidates[1:]:
        if np.min(np.abs(np.sum(ref * rows(cand), axis=1))) < 0.99:
            return float(n_eff * (cand[0] - best[0]))
    return float("inf")
