"""Scores for graphs with hidden nodes, up to relabelling the hidden nodes (`latent_relabeling`).

evaluation.md §2.4 and rlcd.md §7. Observed nodes are matched by name; hidden
nodes (node attribute ``latent=True``; names are never read for latency) have
arbitrary labels, so both graphs are padded with isolated hidden nodes to
``m = max(m_true, m_est)`` and the hidden-node bijection maximising skeleton
F1 over all nodes is chosen (ties: lower skeleton SHD, then lower mark SHD,
then the first in lexicographic order). The bijection is optimised on the
graph itself, so the result is recorded as ``matching="graph_optimised"``
(optimistic; use the latent-sample matching when latent samples exist).

Search: every bijection when ``m <= exact_limit``, scored in vectorised
batches from the latent-incident parts only (the observed block does not
depend on the bijection); otherwise a Hungarian assignment on the Jaccard
distance between the hidden nodes' measured possible-descendant sets,
refined by swap/replace local search on the exact objective, and flagged
``approximate=True``.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
from scipy.optimize import linear_sum_assignment

from crl.exceptions import GraphTypeError, ValidationError
from crl.graphs import latent_nodes, observed_nodes
from crl.validation import check_choice, check_int
from identifiability.graph_metrics import (
    ARROW,
    NONE,
    TAIL,
    _cpdag_endpoints,
    _directed_counts,
    _shd_endpoints,
    _skeleton_counts,
    graph_endpoints,
    pair_cost,
    rates,
)

__all__ = ["latent_graph_scores"]

_CHUNK = 20_000  # permutations scored per vectorised batch
_MAX_LOCAL_STEPS = 200


def _cost_table() -> np.ndarray:
    """SHD cost (reversal 1) between pair-state codes ``4 * a + b`` (truth rows, estimate columns)."""
    codes = np.arange(16)
    a, b = codes // 4, codes % 4
    return pair_cost(a[:, None], b[:, None], a[None, :], b[None, :], 1.0)


_COST = _cost_table()


class _Objective:
    """Scores of injections sigma: true hidden slot a <- estimated hidden node sigma[a].

    ``Et`` is over ``p`` observed nodes then ``n_slots`` true hidden slots;
    ``Ee`` over the same observed nodes then ``n_cand`` estimated hidden
    nodes. Estimated hidden nodes outside sigma are dropped with their edges.
    Pair states are coded ``4 * E[i, j] + E[j, i]`` (0: no adjacency), so
    only the latent-incident pairs are gathered per batch.
    """

    def __init__(self, Et: np.ndarray, Ee: np.ndarray, p: int):
        self.p = p
        Et_oo, Ee_oo = Et[:p, :p], Ee[:p, :p]
        tp, fp, _ = _skeleton_counts(Et_oo, Ee_oo)
        self.tp_oo, self.ne_oo = tp, tp + fp
        self.cost_oo = _shd_endpoints(Et_oo, Ee_oo, 1.0)
        iu = np.triu_indices(Et.shape[0], k=1)
        self.n_true = int(np.sum(Et[iu] != NONE))
        code_t = 4 * Et.astype(np.intp) + Et.T
        code_e = 4 * Ee.astype(np.intp) + Ee.T
        Lt, Le = code_t[p:, :p], code_e[p:, :p]  # (slot, observed), (cand, observed)
        self.C = (Le != 0).astype(np.int64) @ (Lt != 0).T.astype(np.int64)  # (cand, slot)
        self.deg = np.sum(Le != 0, axis=1)
        self.Cm = _COST[Lt[None, :, :], Le[:, None, :]].sum(axis=2)  # (cand, slot)
        n_slots = Et.shape[0] - p
        self.ia, self.ib = np.triu_indices(n_slots, k=1)
        self.Tt = code_t[p:, p:][self.ia, self.ib]  # (n_pairs,)
        self.Te = code_e[p:, p:]

    def __call__(self, P: np.ndarray):
        """(f1, skeleton shd, tp, n_est, mark cost) for a batch ``P`` of shape (N, n_slots)."""
        cols = np.arange(P.shape[1])
        Se = self.Te[P[:, self.ia], P[:, self.ib]]  # (N, n_pairs): est pair placed at slots (a, b)
        present = Se != 0
        tp = self.tp_oo + self.C[P, cols].sum(axis=1) + np.sum(present & (self.Tt != 0), axis=1)
        n_est = self.ne_oo + self.deg[P].sum(axis=1) + np.sum(present, axis=1)
        marks = (
            self.cost_oo + self.Cm[P, cols].sum(axis=1) + _COST[self.Tt[None, :], Se].sum(axis=1)
        )
        denom = self.n_true + n_est
        f1 = np.where(denom == 0, 1.0, 2.0 * tp / np.maximum(denom, 1))
        return f1, denom - 2 * tp, tp, n_est, marks


def _best(obj: _Objective, batches) -> tuple[np.ndarray, int]:
    """Best injection over an iterable of batches and the number scored."""
    best_key, best_P, count = None, None, 0
    for P in batches:
        f1, shd, _, _, marks = obj(P)
        order = np.lexsort((np.arange(len(P)), marks, shd, -np.round(f1, 12)))
        k = order[0]
        key = (-round(float(f1[k]), 12), int(shd[k]), float(marks[k]))
        if best_key is None or key < best_key:
            best_key, best_P = key, P[k].copy()
        count += len(P)
    return best_P, count


def _all_injections(n_cand: int, n_slots: int):
    gen = itertools.permutations(range(n_cand), n_slots)
    while True:
        chunk = list(itertools.islice(gen, _CHUNK))
        if not chunk:
            return
        yield np.asarray(chunk, dtype=np.intp).reshape(len(chunk), n_slots)


def _measured_descendants(E: np.ndarray, p: int) -> list[set]:
    """Observed nodes reachable from each hidden node along possibly directed paths.

    A step ``v *-* w`` is allowed when the edge has no arrowhead at ``v``.
    """
    step = (E != NONE) & (E.T != ARROW)
    G = nx.DiGraph()
    G.add_nodes_from(range(E.shape[0]))
    G.add_edges_from(zip(*(x.tolist() for x in np.nonzero(step))))
    return [{w for w in nx.descendants(G, v) if w < p} for v in range(p, E.shape[0])]


def _local_search(obj: _Objective, sigma: np.ndarray, n_cand: int) -> tuple[np.ndarray, int]:
    """Improve an injection by swaps of two slots or replacing a slot with an unused candidate."""
    f1, shd, _, _, marks = obj(sigma[None])
    key = (-round(float(f1[0]), 12), int(shd[0]), float(marks[0]))
    scored = 1
    n = len(sigma)
    for _ in range(_MAX_LOCAL_STEPS):
        moves = []
        for a, b in itertools.combinations(range(n), 2):
            s = sigma.copy()
            s[a], s[b] = s[b], s[a]
            moves.append(s)
        unused = sorted(set(range(n_cand)) - set(sigma.tolist()))
        for a in range(n):
            for c in unused:
                s = sigma.copy()
                s[a] = c
                moves.append(s)
        if not moves:
            break
        cand, count = _best(obj, [np.asarray(moves, dtype=np.intp)])
        scored += count
        f1, shd, _, _, marks = obj(cand[None])
        new_key = (-round(float(f1[0]), 12), int(shd[0]), float(marks[0]))
        if new_key >= key:
            break
        sigma, key = cand, new_key
    return sigma, scored


def _match(Et, Ee, p, n_slots, n_cand, exact_limit):
    """Best injection sigma (slots -> candidates), approximate flag, number scored."""
    obj = _Objective(Et, Ee, p)
    if max(n_slots, n_cand) <= exact_limit:
        sigma, count = _best(obj, _all_injections(n_cand, n_slots))
        return sigma, False, count
    dt = _measured_descendants(Et, p)
    de = _measured_descendants(Ee, p)
    cost = np.zeros((n_cand, n_slots))
    for k, A in enumerate(de):
        for a, B in enumerate(dt):
            union = len(A | B)
            cost[k, a] = 0.0 if union == 0 else 1.0 - len(A & B) / union
    rows, cols = linear_sum_assignment(cost)
    sigma = np.empty(n_slots, dtype=np.intp)
    sigma[cols] = rows
    sigma, count = _local_search(obj, sigma, n_cand)
    return sigma, True, count


def _pad(E: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros((size, size), dtype=np.int8)
    out[: E.shape[0], : E.shape[0]] = E
    return out


def _place(Ee: np.ndarray, p: int, sigma: np.ndarray) -> np.ndarray:
    """Estimated endpoints with hidden node sigma[a] moved to slot a (others dropped)."""
    idx = np.concatenate([np.arange(p), p + sigma])
    return Ee[np.ix_(idx, idx)]


def _endpoints_in_order(G, name, order):
    nodes, E = graph_endpoints(G, name)
    pos = {v: k for k, v in enumerate(nodes)}
    idx = [pos[v] for v in order]
    return E[np.ix_(idx, idx)]


def _is_directed_only(E):
    D = (E == ARROW) & (E.T == TAIL)
    return not np.any((E != NONE) & ~D & ~D.T)


def latent_graph_scores(
    true_graph,
    est_graph,
    *,
    exact_limit: int = 8,
    paper_style: bool = True,
    marks: str = "cpdag",
) -> dict:
    """Skeleton and mark scores of a graph with hidden nodes, up to relabelling the hidden nodes.

    Parameters
    ----------
    true_graph, est_graph : networkx.DiGraph
        Marked graphs (:mod:`crl.graphs` conventions: an edge ``u -> v``
        with mark ``"-->"`` is ``u -> v``; ``"---"`` is stored both ways).
        Hidden nodes carry ``latent=True``; a node without the attribute is
        observed, whatever its name (an observed node may be called ``"L1"``).
        Both graphs must have the same set of observed node names.
    exact_limit : int, default 8
        Score every bijection when ``m = max(m_true, m_est) <= exact_limit``
        (m! bijections, vectorised; m = 8 takes well under a second);
        otherwise Hungarian on Jaccard distances of measured-descendant sets
        plus local search, flagged ``approximate``.
    paper_style : bool, default True
        Also compute RLCD's lenient score (App. B.15): only the estimate is
        padded, and surplus estimated hidden nodes are dropped (with their
        edges) choosing the best subset. Keys prefixed ``paper_``.
    marks : {"cpdag", "as_given"}
        Marks used for ``shd_marks`` and the directed scores: ``"cpdag"``
        replaces a graph whose edges are all ``"-->"`` by its CPDAG over
        X ∪ L (RLCD identifies the Markov equivalence class), graphs with
        undirected edges are used as given; ``"as_given"`` uses both as given.
        Skeleton scores do not depend on this.

    Returns
    -------
    dict
        - ``f1_all``, ``precision_all``, ``recall_all``, ``tp_all``,
          ``fp_all``, ``fn_all``: skeleton scores over X ∪ L (padded);
          ``flags``: the empty-denominator flags of these.
        - ``f1_observed``, ``precision_observed``, ``recall_observed``:
          skeleton scores over observed pairs only.
        - ``shd``: skeleton SHD over X ∪ L (missing plus extra adjacencies;
          marks do **not** count), as rlcd.md Table 4.
        - ``shd_marks``: pair-state SHD over X ∪ L (reversal cost 1; a
          directed vs undirected mismatch costs 1), marks per ``marks``.
        - ``directed_precision``, ``directed_recall``, ``directed_f1``:
          directed-edge scores after alignment (per ``marks``).
        - ``n_hidden_true``, ``n_hidden_est``, ``n_hidden_error``
          (``|m_est - m_true|``).
        - ``mapping``: dict estimated hidden node -> true hidden node, or
          ``None`` for a surplus estimated node matched to padding.
        - ``approximate`` (bool), ``n_bijections`` (number scored),
          ``matching`` (``"graph_optimised"``), ``marks``.
        - With ``paper_style``: ``paper_f1_all``, ``paper_precision_all``,
          ``paper_recall_all``, ``paper_shd`` (skeleton SHD),
          ``paper_mapping`` (kept estimated hidden node -> true hidden node),
          ``paper_dropped`` (dropped estimated hidden nodes),
          ``paper_approximate``, ``paper_convention`` = ``"lenient"``.

    Raises
    ------
    GraphTypeError
        Inputs that are not marked DiGraphs; a DAG-only graph with a cycle
        when ``marks="cpdag"``.
    ValidationError
        Different observed node sets (the message names the missing nodes).
    """
    for G, name in ((true_graph, "true_graph"), (est_graph, "est_graph")):
        if not isinstance(G, nx.DiGraph) or G.is_multigraph():
            raise GraphTypeError(f"{name}: expected a networkx.DiGraph, got {type(G).__name__}")
    exact_limit = check_int(exact_limit, "exact_limit", minimum=0)
    check_choice(marks, "marks", ("cpdag", "as_given"))
    obs_t, obs_e = observed_nodes(true_graph), observed_nodes(est_graph)
    if set(obs_t) != set(obs_e):
        missing = [v for v in obs_t if v not in set(obs_e)]
        extra = [v for v in obs_e if v not in set(obs_t)]
        raise ValidationError(
            "est_graph: expected the same observed nodes as true_graph, got observed nodes "
            f"missing from est_graph: {missing!r}; not observed in true_graph: {extra!r}"
        )
    lat_t, lat_e = latent_nodes(true_graph), latent_nodes(est_graph)
    p, mt, me = len(obs_t), len(lat_t), len(lat_e)
    m = max(mt, me)
    Et = _endpoints_in_order(true_graph, "true_graph", obs_t + lat_t)
    Ee = _endpoints_in_order(est_graph, "est_graph", obs_t + lat_e)
    if marks == "cpdag":
        if _is_directed_only(Et):
            Et = _cpdag_endpoints(Et, obs_t + lat_t, "true_graph")
        if _is_directed_only(Ee):
            Ee = _cpdag_endpoints(Ee, obs_t + lat_e, "est_graph")

    # strict: both sides padded to m, bijection
    Etp, Eep = _pad(Et, p + m), _pad(Ee, p + m)
    sigma, approximate, count = _match(Etp, Eep, p, m, m, exact_limit)
    Ea = _place(Eep, p, sigma)
    sk = rates(*_skeleton_counts(Etp, Ea))
    obs = rates(*_skeleton_counts(Etp[:p, :p], Ea[:p, :p]))
    dr = rates(*_directed_counts(Etp, Ea))
    mapping = {lat_e[int(k)]: (lat_t[a] if a < mt else None) for a, k in enumerate(sigma) if k < me}
    out = {
        "f1_all": sk["f1"],
        "precision_all": sk["precision"],
        "recall_all": sk["recall"],
        "tp_all": sk["tp"],
        "fp_all": sk["fp"],
        "fn_all": sk["fn"],
        "flags": sk["flags"],
        "f1_observed": obs["f1"],
        "precision_observed": obs["precision"],
        "recall_observed": obs["recall"],
        "shd": float(sk["fp"] + sk["fn"]),
        "shd_marks": _shd_endpoints(Etp, Ea, 1.0),
        "directed_precision": dr["precision"],
        "directed_recall": dr["recall"],
        "directed_f1": dr["f1"],
        "n_hidden_true": mt,
        "n_hidden_est": me,
        "n_hidden_error": abs(me - mt),
        "mapping": mapping,
        "approximate": approximate,
        "n_bijections": count,
        "matching": "graph_optimised",
        "marks": marks,
    }
    if paper_style:
        n_cand = max(me, mt)
        Eep = _pad(Ee, p + n_cand)
        sigma, approx_p, _ = _match(Et, Eep, p, mt, n_cand, exact_limit)
        Ea = _place(Eep, p, sigma)
        sk = rates(*_skeleton_counts(Et, Ea))
        kept = {int(k) for k in sigma}
        out.update(
            paper_f1_all=sk["f1"],
            paper_precision_all=sk["precision"],
            paper_recall_all=sk["recall"],
            paper_shd=float(sk["fp"] + sk["fn"]),
            paper_mapping={lat_e[int(k)]: lat_t[a] for a, k in enumerate(sigma) if k < me},
            paper_dropped=[lat_e[k] for k in range(me) if k not in kept],
            paper_approximate=approx_p,
            paper_convention="lenient",
        )
    return out
